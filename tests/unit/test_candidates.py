"""models.candidates' MD bodies: each MD snapshot's particle alone and support alone, in its cell and at its place,
numbered on from the candidates they come from (pure Python: no LAMMPS)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from models.candidates import md_bodies


def _md(frame, T):
    a = Atoms("Au2B2N2", positions=np.arange(18.0).reshape(6, 3) * 0.7, cell=[12, 13, 19], pbc=[True, True, False])
    a.info.update({"kind": "md", "T_K": T, "system": "Au2_hbn", "frame": frame})
    return a


def test_bodies_of_each_md_snapshot():
    scan = _md(0, 0.0)
    scan.info.update({"kind": "scan", "gap_A": 3.2})
    alone = Atoms("Au2", positions=[[0, 0, 0], [2.8, 0, 0]], cell=[12, 13, 19])
    alone.info.update({"kind": "particle", "frame": 1})
    frames = [scan, alone, _md(2, 300.0), _md(3, 900.0)]
    out = md_bodies(frames)
    assert [b.info["kind"] for b in out] == ["md_particle", "md_support"] * 2
    assert [b.info["of_frame"] for b in out] == [2, 2, 3, 3]
    assert [b.info["frame"] for b in out] == [4, 5, 6, 7]
    assert [b.info["T_K"] for b in out] == [300.0, 300.0, 900.0, 900.0]
    p, s = out[0], out[1]
    assert p.get_chemical_formula() == "Au2" and s.get_chemical_formula() == "B2N2"
    np.testing.assert_array_equal(p.positions, frames[2].positions[:2])
    np.testing.assert_array_equal(s.positions, frames[2].positions[2:])
    assert (p.cell == frames[2].cell).all() and list(s.pbc) == [True, True, False]
    assert p.info["system"] == "Au2_hbn" and "gap_A" not in p.info


def test_no_md_no_bodies():
    assert md_bodies([]) == []
    only = _md(0, 300.0)[:2]  # the particle alone: nothing to split
    assert md_bodies([only]) == []
