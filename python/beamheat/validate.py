"""One place for checking what a user gives a beamheat command line, before any work is done.

Every check raises `beamheat.cli.UserError` with one line that names the option as the user typed it, the value,
the unit and what is wrong, e.g. `--dose-rate -5 e⁻/(Å² s): must be > 0`. The command lines call these right
after parsing; library functions may call them too (the option name is then the parameter's name).

    from beamheat import validate as v
    v.positive("--dose-rate", a.dose_rate, "e⁻/(Å² s)")          # > 0 and finite (a list checks every item)
    v.in_range("--o-vacancies", a.o_vacancies, 0, 1)              # 0 <= x <= 1
    v.integer("--frames", a.frames, lo=1)
    src = v.input_file(a.log, "--log", what="LAMMPS log")         # exists, a file, not empty
    out = v.output_file(a.json, "--json", force=a.force, inputs=[src])   # writable, not an input, not clobbered
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from .cli import UserError


def _fmt(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(_fmt(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def finite(name: str, value, unit: str = ""):
    """A real number (not NaN or infinite). None passes (an option not given)."""
    if value is None:
        return value
    for x in (value if isinstance(value, (list, tuple)) else [value]):
        try:
            ok = math.isfinite(float(x))
        except (TypeError, ValueError):
            raise UserError(f"{name} {_fmt(x)}: not a number") from None
        if not ok:
            raise UserError(f"{name} {_fmt(x)}{_unit(unit)}: must be a finite number")
    return value


def in_range(name: str, value, lo: float | None = None, hi: float | None = None, unit: str = "", *,
             lo_open: bool = False, hi_open: bool = False, why: str = ""):
    """lo <= value <= hi (strict where *_open); None passes; lists check every item."""
    if value is None:
        return value
    finite(name, value, unit)
    for x in (value if isinstance(value, (list, tuple)) else [value]):
        bad = (lo is not None and (x <= lo if lo_open else x < lo)) or (hi is not None and (x >= hi if hi_open else x > hi))
        if bad:
            if hi is None:
                rule = f"must be {'>' if lo_open else '>='} {_fmt(lo)}"
            elif lo is None:
                rule = f"must be {'<' if hi_open else '<='} {_fmt(hi)}"
            else:
                rule = f"must be in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
            raise UserError(f"{name} {_fmt(x)}{_unit(unit)}: {rule}{f' ({why})' if why else ''}")
    return value


def positive(name: str, value, unit: str = "", *, hi: float | None = None, why: str = ""):
    """> 0, finite (and <= hi when given)."""
    return in_range(name, value, 0.0, hi, unit, lo_open=True, why=why)


def nonnegative(name: str, value, unit: str = "", *, hi: float | None = None, why: str = ""):
    return in_range(name, value, 0.0, hi, unit, why=why)


def integer(name: str, value, lo: int | None = None, hi: int | None = None, why: str = ""):
    if value is None:
        return value
    if isinstance(value, bool) or int(value) != value:
        raise UserError(f"{name} {_fmt(value)}: must be a whole number")
    return in_range(name, value, lo, hi, why=why)


def ordered(lo_name: str, lo, hi_name: str, hi, unit: str = ""):
    """lo < hi (both given)."""
    if lo is not None and hi is not None and not lo < hi:
        raise UserError(f"{lo_name} {_fmt(lo)}{_unit(unit)} must be below {hi_name} {_fmt(hi)}{_unit(unit)}")


def conflict(**given) -> None:
    """At most one of the named options may be given: conflict(**{"--a": a.a, "--b": a.b})."""
    used = [k for k, v in given.items() if v not in (None, False, [], ())]
    if len(used) > 1:
        raise UserError(f"{' and '.join(used)}: give only one of them")


def choice(name: str, value, choices: Iterable[str]):
    choices = list(choices)
    if value not in choices:
        raise UserError(f"{name} {value}: choose one of {', '.join(map(str, choices))}")
    return value


def csv_numbers(name: str, text: str, kind=float, count: int | None = None, sep: str = ",") -> list:
    """'1,2,3' -> [1, 2, 3]; a one-line error for anything else."""
    try:
        vals = [kind(x) for x in str(text).split(sep)]
    except ValueError:
        raise UserError(f"{name} {text}: expected {count or 'a list of'} {kind.__name__} values separated by "
                        f"'{sep}'") from None
    if count is not None and len(vals) != count:
        raise UserError(f"{name} {text}: expected {count} values separated by '{sep}', got {len(vals)}")
    if kind is float:
        finite(name, vals)
    return vals


# ------------------------------------------------------------------------------------------------ files
def input_file(path, name: str, what: str = "file", *, allow_empty: bool = False) -> Path:
    """An existing, readable, non-empty regular file."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: {what} not found ({name})")
    if p.is_dir():
        raise UserError(f"{p}: is a directory, expected a {what} ({name})")
    if not os.access(p, os.R_OK):
        raise UserError(f"{p}: {what} not readable ({name})")
    if not allow_empty and p.stat().st_size == 0:
        raise UserError(f"{p}: {what} is empty ({name})")
    return p


def input_dir(path, name: str, what: str = "directory") -> Path:
    """An existing directory."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{p}: is a file, expected a {what} ({name})")
    if not p.is_dir():
        raise UserError(f"{p}: {what} not found ({name})")
    return p


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _writable_dir(d: Path, name: str, target: Path) -> None:
    """d (or its nearest existing ancestor, as the tool will create the rest) is a writable directory."""
    anc = d
    while not anc.exists():
        if anc.parent == anc:
            break
        anc = anc.parent
    if not anc.is_dir():
        raise UserError(f"{target}: cannot write ({anc} is not a directory) ({name})")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise UserError(f"{target}: cannot write (directory {anc} is not writable) ({name})")
    if anc != d:  # the tool will create directories in anc: permissions can say yes where the file system says no
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".beamheat-probe-", dir=anc))
        except OSError as e:
            raise UserError(f"{target}: cannot create directories in {anc} ({e.strerror or e}) ({name})") from None


def output_file(path, name: str, *, force: bool = False, inputs: Sequence = (), what: str = "output",
                mkdir: bool = False) -> Path | None:
    """A file the tool may write: its directory exists (or, with mkdir, can be created) and is writable, it is
    none of the inputs, and it does not exist yet unless --force is given. None passes (an output not asked for)."""
    if path is None:
        return None
    p = Path(path)
    if str(path).strip() == "":
        raise UserError(f"{name}: empty file name")
    for src in inputs:
        if src is not None and _same(p, Path(src)):
            raise UserError(f"{p}: {name} names an input file; refusing to overwrite it")
    if p.is_dir():
        raise UserError(f"{p}: is a directory, expected a file name ({name})")
    parent = p.parent if str(p.parent) else Path(".")
    if not mkdir and not parent.is_dir():
        raise UserError(f"{p}: cannot write (directory {parent} does not exist) ({name})")
    _writable_dir(parent, name, p)
    if p.exists():
        if not force:
            raise UserError(f"{p}: {what} exists; refusing to overwrite it (--force overwrites)")
        if not os.access(p, os.W_OK) and not os.access(p.parent, os.W_OK):
            raise UserError(f"{p}: cannot write ({name})")
    return p


def output_files(paths: Iterable, name: str, *, force: bool = False, inputs: Sequence = (),
                 what: str = "output", mkdir: bool = False) -> list[Path]:
    """Several files written together (a prefix's .png/.pdf/.csv, a directory's fixed names)."""
    return [output_file(p, name, force=force, inputs=inputs, what=what, mkdir=mkdir) for p in paths]


def output_dir(path, name: str, *, files: Iterable[str] = (), force: bool = False, inputs: Sequence = ()) -> Path:
    """A directory the tool writes `files` into: not a file, creatable and writable, and none of the named files
    there yet unless --force."""
    p = Path(path)
    if str(path).strip() == "":
        raise UserError(f"{name}: empty directory name")
    if p.exists() and not p.is_dir():
        raise UserError(f"{p}: exists and is not a directory ({name})")
    _writable_dir(p, name, p)
    for src in inputs:
        if src is not None and _same(p, Path(src)):
            raise UserError(f"{p}: {name} names an input; refusing to overwrite it")
    existing = [f for f in files if (p / f).exists()]
    if existing and not force:
        raise UserError(f"{p}: already holds {', '.join(existing)}; refusing to overwrite (--force overwrites)")
    return p
