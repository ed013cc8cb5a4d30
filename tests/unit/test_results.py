"""beamheat.results: typed results whose to_json() is the JSON the tools write (field names = keys, in order)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from beamheat.io import json_safe
from beamheat.results import ABSENT, Absent, Record, flattened, internal


@dataclass(kw_only=True)
class Inner(Record):
    k_eV_per_nm2_ps_K: float
    k_err_eV_per_nm2_ps_K: float | Absent = ABSENT


@dataclass(kw_only=True)
class Outer(Record):
    label: str
    inner: Inner | None = flattened(None)
    heat_out_eV: float | None | Absent = ABSENT
    runs: list = None
    plot_data: tuple | None = internal()


def test_keys_in_order_absent_left_out_none_written():
    r = Outer(label="a", heat_out_eV=None, runs=[])
    assert r.to_json() == {"label": "a", "heat_out_eV": None, "runs": []}
    assert list(Outer(label="a").to_json()) == ["label", "runs"]


def test_flattened_nested_and_internal():
    r = Outer(label="a", inner=Inner(k_eV_per_nm2_ps_K=1e-4), runs=[Outer(label="b", runs=[])],
              plot_data=(1, 2))
    d = r.to_json()
    assert list(d) == ["label", "k_eV_per_nm2_ps_K", "runs"]          # inner's keys at this level, no plot_data
    assert d["runs"] == [{"label": "b", "runs": []}]                   # records inside lists are written too
    assert json.loads(json.dumps(json_safe(d))) == d


def test_absent_is_falsy_and_one_object():
    assert not ABSENT and Absent() is ABSENT and repr(ABSENT) == "ABSENT"
    assert (ABSENT or 0.0) == 0.0
