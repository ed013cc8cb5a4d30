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


def test_every_scan_copy_has_its_own_bodies():
    """Each lateral position is rattled on its own, so its E_b needs its own particle and support alone: on hBN as
    on TiO2, the bodies of a copy are that copy's atoms (particle up to the scan's translation)."""
    from bench.lib.binding import body_mismatch_A
    from models.candidates import candidates

    frames = candidates(diameters_nm=(0.6,), gaps_A=(3.0, 5.0), shifts=2, md_frames=0)
    for copy in (0, 1):
        scans = [a for a in frames if a.info["kind"] == "scan" and a.info["copy"] == copy]
        bodies = [a for a in frames if a.info["kind"] in ("particle", "support") and a.info["copy"] == copy]
        assert len(scans) == 2 and sorted(b.info["kind"] for b in bodies) == ["particle", "support"]
        assert all(body_mismatch_A(a, b) < 1e-9 for a in scans for b in bodies)
        others = [a for a in frames if a.info["kind"] == "support" and a.info["copy"] != copy]
        assert body_mismatch_A(scans[0], others[0]) > 1e-3
