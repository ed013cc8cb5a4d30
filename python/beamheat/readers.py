"""Reading the tools' JSON results back: one meaning for every value, one-line errors naming the file and key.

    from beamheat.readers import json_object, number, interval, as_interval
    kj = json_object("k.json", "fit_k result")                  # a JSON object, or a UserError naming the file
    k = number(kj, "k_eV_per_nm2_ps_K", "k.json")               # a float; missing or null: UserError
    err = number(kj, "k_err_eV_per_nm2_ps_K", "k.json", required=False)      # None when missing or null
    iv = interval(kj, "k_interval_eV_per_nm2_ps_K", "k.json")   # [lo, hi], or None

A number is an int or a float in the JSON; true/false and numeric strings are not numbers.
An interval is written [lo, hi] (68 % or 95 %, as its key says):
  [lo, hi]         both numbers: [lo, hi]
  [lo, null]       unbounded above: [lo, inf] (e.g. dT when k may be zero; beamheat.io writes inf as null)
  null, [null, null] or a missing key: no interval, None
and anything else is a UserError.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .cli import UserError
from .io import read_json


def json_object(path: str | Path, what: str) -> dict:
    """The JSON object in PATH (a WHAT, for the messages); missing, not JSON or not an object: a UserError."""
    d = read_json(path, what)
    if not isinstance(d, dict):
        raise UserError(f"{path}: not a {what} (expected a JSON object)")
    return d


def is_number(x: Any) -> bool:
    """An int or float (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def number(d: dict, key: str, path: str | Path, required: bool = True) -> float | None:
    """d[key] as a float. Missing or null: a UserError when required, else None; not a number: a UserError."""
    x = d.get(key)
    if x is None:
        if required:
            raise UserError(f"{path}: missing '{key}'")
        return None
    if not is_number(x):
        raise UserError(f"{path}: '{key}' must be a number, got {x!r}")
    return float(x)


def as_interval(x: Any, where: str = "interval") -> list[float] | None:
    """An interval as written in the JSON (see the module's doc) -> [lo, hi] or None; WHERE names it in the error
    ("FILE: 'KEY'")."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)) and len(x) == 2:
        lo, hi = x
        if lo is None and hi is None:
            return None
        if is_number(lo) and (hi is None or is_number(hi)):
            return [float(lo), math.inf if hi is None else float(hi)]
    raise UserError(f"{where} must be [low, high] (high null: unbounded), got {x!r}")


def interval(d: dict, key: str, path: str | Path) -> list[float] | None:
    """d[key] as an interval (see the module's doc): [lo, hi], [lo, inf] for [lo, null], None when absent."""
    return as_interval(d.get(key), f"{path}: '{key}'")


def intervals(d: dict, key: str, path: str | Path, n: int) -> list[list[float] | None]:
    """d[key] as a list of N intervals (one per value of a list); missing or null: N times None."""
    xs = d.get(key)
    if xs is None:
        return [None] * n
    if not isinstance(xs, list) or len(xs) != n:
        raise UserError(f"{path}: '{key}' must be a list of {n} intervals, got {xs!r}")
    return [as_interval(x, f"{path}: '{key}'[{i}]") for i, x in enumerate(xs)]


def numbers(d: dict, key: str, path: str | Path) -> list[float]:
    """d[key] as a non-empty list of numbers; otherwise a UserError."""
    xs = d.get(key)
    if not isinstance(xs, list) or not xs or not all(is_number(x) for x in xs):
        raise UserError(f"{path}: '{key}' must be a non-empty list of numbers, got {xs!r}")
    return [float(x) for x in xs]
