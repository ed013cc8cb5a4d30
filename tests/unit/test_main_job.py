"""The bundled NequIP ensemble the main job runs on (models/bundled/au_hbn) is complete and says what it is."""

from __future__ import annotations

import json

import numpy as np

from helpers import ROOT

BUNDLED = ROOT / "models" / "bundled" / "au_hbn"
MEMBERS = sorted(BUNDLED.glob("member_*.nequip.pth"))


def test_bundle_folder_is_complete():
    """Five members, the loop config that made them, their labelled data, metrics and a README saying what they are."""
    assert len(MEMBERS) == 5
    for name in ("loop.yaml", "README.md", "metrics.json", "labels.extxyz.gz", "baseline.in"):
        assert (BUNDLED / name).is_file(), name
    metrics = json.loads((BUNDLED / "metrics.json").read_text())
    assert metrics["n_members"] == 5 and set(metrics["members"]) == {m.name for m in MEMBERS}
    assert metrics["baseline"]["file"] == "baseline.in"
    # each member's nequip package, from which models.accelerate compiles it for the machine it runs on
    assert set(metrics["packages"]) == {m.name.replace(".pth", ".zip") for m in MEMBERS}
    assert all(m.with_name(m.name.replace(".pth", ".zip")).is_file() for m in MEMBERS)
    assert "not DFT" in (BUNDLED / "README.md").read_text()
    from ase.io import read
    frames = read(BUNDLED / "labels.extxyz.gz", index=":")
    assert len(frames) == metrics["n_labelled_frames"] and {"Au", "B", "N"} <= set(frames[-1].get_chemical_symbols())
    assert all(np.isfinite(f.get_forces()).all() for f in frames)
