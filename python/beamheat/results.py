"""Typed results of the library's analyses and their JSON form, one convention for every tool.

    @dataclass
    class MyResult(Record):
        k_eV_per_nm2_ps_K: float                    # units in the field name: the field name is the JSON key
        heat_out_eV: float | None | Absent = ABSENT  # ABSENT: the key is left out of the JSON (None writes null)
        plot_data: tuple | None = internal()        # kept for the caller, never written

    MyResult(...).to_json()                         # {field: value} in declaration order, for beamheat.io.write_json

A field marked `flattened()` holds another Record whose keys are written at this level (or None: nothing).
Records inside lists and dicts are written as their JSON too. ABSENT is falsy, so `r.k_err or 0.0` reads an
absent error as none.
"""

from __future__ import annotations

from dataclasses import MISSING, field, fields
from typing import Any


class Absent:
    """The type of ABSENT: a value whose key the JSON leaves out (None would be written as null)."""
    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self):
        return (Absent, ())


ABSENT = Absent()


def internal(default: Any = None):
    """A field for Python callers only (figure data, warnings printed elsewhere): not in the JSON."""
    return field(default=default, repr=False, compare=False, metadata={"json": False})


def flattened(default: Any = MISSING):
    """A field holding a Record whose keys are written at this level of the JSON (None: none are); no default
    unless given."""
    return field(default=default, metadata={"flatten": True})


def _plain(x: Any) -> Any:
    if isinstance(x, Record):
        return x.to_json()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


class Record:
    """Base of the typed results (dataclasses): to_json() gives the dict that the tools write and read."""

    def to_json(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.metadata.get("json", True) or value is ABSENT:
                continue
            if f.metadata.get("flatten"):
                out.update(value.to_json() if value is not None else {})
            else:
                out[f.name] = _plain(value)
        return out
