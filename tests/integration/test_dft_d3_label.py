"""dft.label with D3 on a tiny cell (real GPAW, low cutoff for speed): the row holds PBE + D3(BJ), and the D3 share
recorded beside it (energy_d3, forces_d3) is the dftd3 package's and what the label adds over plain PBE. Mode lcao
(dzp basis) labels the same configuration."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms
from ase.db import connect
from ase.io import read, write

from helpers import ROOT

pytest.importorskip("gpaw", reason="GPAW is installed by scripts/setup.sh unless BEAMHEAT_SKIP_GPAW=1")
pytest.importorskip("dftd3", reason="dftd3 is installed by scripts/setup.sh with GPAW")


def _label(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "dft.label", *map(str, args)], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stdout[-1500:] + p.stderr[-1500:]
    return p.stdout


def _n2_pair():
    """Two N2 molecules 3.2 Å apart, the first stretched to 1.25 Å: a dispersion energy of a few meV and forces
    that are not zero."""
    a = Atoms("N4", positions=[[0, 0, 0], [1.25, 0, 0], [0.2, 3.2, 0.1], [1.3, 3.2, 0.1]])
    a.info["frame"] = 0
    return a


def test_d3_label_is_pbe_plus_dftd3(tmp_path):
    from dft.calculation import d3_calculator

    write(tmp_path / "c.extxyz", [_n2_pair()])
    out = _label(tmp_path / "c.extxyz", "--db", tmp_path / "d3.db", "--ecut-ev", "250", "--d3",
                 "--export", tmp_path / "d3.extxyz")
    assert "D3(BJ)" in out
    _label(tmp_path / "c.extxyz", "--db", tmp_path / "pbe.db", "--ecut-ev", "250")
    d3_row = next(connect(tmp_path / "d3.db").select(status="done"))
    pbe_row = next(connect(tmp_path / "pbe.db").select(status="done"))
    ref = _n2_pair()
    ref.calc = d3_calculator("PBE")
    e_ref, f_ref = ref.get_potential_energy(), ref.get_forces()
    assert e_ref < -1e-3
    assert abs(d3_row.energy_d3 - e_ref) < 1e-10
    assert np.abs(d3_row.data["forces_d3"] - f_ref).max() < 1e-10
    # the label is PBE plus that share (same grid and SCF, so up to the SCF tolerance)
    assert abs(d3_row.energy - (pbe_row.energy + e_ref)) < 2e-4
    assert np.abs(d3_row.forces - (pbe_row.forces + f_ref)).max() < 2e-3
    # the export carries the share for training on labels minus D3
    exported = read(tmp_path / "d3.extxyz")
    assert abs(exported.info["energy_d3"] - e_ref) < 1e-10
    assert np.abs(exported.arrays["forces_d3"] - f_ref).max() < 1e-8


def test_lcao_mode_labels_and_says_so(tmp_path):
    write(tmp_path / "c.extxyz", [_n2_pair()])
    out = _label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--mode", "lcao", "--basis", "dzp")
    assert "LCAO dzp" in out and "1 done, 0 failed" in out
    row = next(connect(tmp_path / "l.db").select(status="done"))
    assert row.data["settings"]["mode"] == "lcao" and np.isfinite(row.forces).all()
    # the stretched molecule pulls together
    assert row.forces[0, 0] > 0.5 and row.forces[1, 0] < -0.5
