"""Files written and read the same way by every beamheat tool: atomically, and JSON that is always valid.

    from beamheat.io import atomic_write, write_json, read_json
    write_json(path, result)                      # NaN/inf become null; temp file then rename; one-line error
    atomic_write(path, text_or_callable)          # same for any text
    data = read_json(path, "fit_k result")        # one-line error naming the file when missing or not JSON
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .cli import UserError


def json_safe(x: Any) -> Any:
    """NaN and infinities become None (null); numpy scalars and arrays become Python numbers and lists."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return json_safe(x.tolist())
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, Path):
        return str(x)
    return x


def atomic_write(path: str | Path, content: str | bytes | Callable, newline: str | None = None) -> Path:
    """Write text (a str, or a callable given the open file) or bytes to a hidden temporary file next to `path`,
    then rename it into place: readers never see a half-written file, and a failure leaves nothing behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with (open(tmp, "wb") if isinstance(content, bytes) else open(tmp, "w", newline=newline)) as f:
            content(f) if callable(content) else f.write(content)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({e.strerror or e})") from None
    return path


def write_csv(path: str | Path, rows: list[dict]) -> Path:
    """Rows of the same keys as CSV (a header of the first row's keys), written atomically."""
    import csv

    def write(f):
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    return atomic_write(path, write, newline="")


def write_json(path: str | Path, data: Any) -> Path:
    """Valid JSON (no NaN: null), indented, written atomically."""
    return atomic_write(path, json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")


def read_json(path: str | Path, what: str = "JSON") -> Any:
    """Parse a JSON file; a missing, binary or malformed file is a one-line UserError naming it."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: {what} file not found")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError:
        raise UserError(f"{p}: not valid JSON (not a text file)") from None
