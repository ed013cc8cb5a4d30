"""The structure builder's data file as LAMMPS reads it."""

from __future__ import annotations

import json

import pytest

from helpers import run_build, run_lmp


@pytest.mark.parametrize("support,elements", [("hbn", {"B", "N"}), ("anatase101", {"Ti", "O"}),
                                              ("rutile101", {"Ti", "O"}), ("rutile110", {"Ti", "O"})])
def test_builder_data_file_reads_in_lammps(tmp_path, support, elements):
    """LAMMPS reads the data file with the expected types and counts; the particle sits above the support."""
    proc = run_build(tmp_path, "--support", support, "--diameter-nm", 1.6, "--margin-A", 6)
    assert proc.returncode == 0, proc.stderr
    g = json.loads((tmp_path / "geometry.json").read_text())
    assert set(g["type_map"]) == {"Au"} | elements and g["type_map"]["Au"] == 1
    lmp = run_lmp("""units metal
atom_style atomic
boundary p p f
read_data system.data
group np type 1
group support type > 1
print "COUNTS $(count(np)) $(count(support)) $(count(all)) $(bound(np,zmin)-bound(support,zmax))"
""", tmp_path)
    assert lmp.returncode == 0, lmp.stdout[-1500:]
    line = [ln for ln in lmp.stdout.splitlines() if ln.startswith("COUNTS")][0].split()
    assert int(float(line[1])) == g["n_atoms_np"] and int(float(line[2])) == g["n_atoms_support"]
    assert float(line[4]) == pytest.approx(g["gap_A"], abs=1e-6)
    header = (tmp_path / "system.data").read_text().splitlines()[0]
    assert header.startswith("beamheat.build: types 1=Au")
