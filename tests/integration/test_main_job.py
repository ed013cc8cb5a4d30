"""The main job on the bundled NequIP ensemble (scripts/demo.sh), shortened, end to end: system, heat transfer with
the ensemble (sigma_F in the thermo and the dump, halting on), fit_k, heating with the paper's EELS parameters at
300 and 80 keV, and the report; and heat_transfer.in run from the repository root picks the bundled ensemble."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from beamheat.lammps_command import lmp_command
from beamheat.lammps_log import read_thermo
from beamheat.markers import HALT_TEXT
from helpers import ROOT


def test_heat_transfer_from_the_repository_root_uses_the_bundled_ensemble(tmp_path):
    """`lmp -in lammps_inputs/heat_transfer.in -var potential nequip`: no model given, the bundled ensemble runs
    (here with the protocol shortened), with sigma_F in the thermo."""
    cmd = lmp_command("lammps_inputs/heat_transfer.in", {"potential": "nequip", "t_therm_ps": "0.1", "t_nve_ps": "0.2",
                                                         "out": tmp_path / "ht"}, log=tmp_path / "log.lammps")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    log = (tmp_path / "log.lammps").read_text()
    assert "ensemble of 5 models on one graph; dynamics from the first model" in log
    assert "sigma_F from all 5 models every 10 steps" in log
    assert "bundled/au_hbn/member_4.nequip.pth" in log and "261 atoms" in log
    # the members learned the labels minus the bundle's long-range baseline, and run overlaid on it
    assert "NequIP overlaid on the baseline" in log and "bundled/au_hbn/baseline.in" in log
    assert "pair_style      hybrid/overlay nequip ensemble first sigma_every 10 lj/cut 10.0" in log
    # the safety net every nequip run has by default: fix halt on max |F| > 100 eV/A and max sigma_F > 1.5 eV/A
    assert "fix nequip_halt_fmax all halt 1 v_nequip_max_f > 100 error continue" in log
    assert "fix nequip_halt_sigma all halt 1 v_nequip_max_sigma > 1.5 error continue" in log
    assert HALT_TEXT not in log and not list(tmp_path.glob("*.extxyz")) and not list(ROOT.glob("*halt*.extxyz"))
    th = read_thermo(tmp_path / "log.lammps", ["Time", "v_dT", "c_nequip_pair[1]", "c_nequip_pair[2]"])
    sig_max, sig_mean = np.asarray(th["c_nequip_pair[1]"]), np.asarray(th["c_nequip_pair[2]"])
    assert np.all(sig_max > 0) and np.all(sig_mean <= sig_max) and sig_max.max() < 1.5
    assert (tmp_path / "ht.dump").read_text().splitlines()[8].split()[-1] == "f_sf[1]"


@pytest.mark.slow
def test_main_job_shortened_end_to_end(tmp_path):
    out = tmp_path / "job"
    env = {**os.environ, "BEAMHEAT_DEMO_OUT": str(out), "BEAMHEAT_JOBS": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), "1", "1", "0.1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for step in ("1/5 system", "2/5 heat transfer", "3/5 interfacial conductance", "4/5 beam heating", "5/5 report"):
        assert step in proc.stdout
    log = (out / "heat_transfer_1" / "log.lammps").read_text()
    assert "ensemble of 5 models" in log and HALT_TEXT not in log
    # the members compiled for this CPU when they are up to date (scripts/setup.sh compiles them), else TorchScript;
    # either way overlaid on the bundle's baseline
    if "members: compiled for this CPU" in proc.stdout:
        assert log.count("loaded aotinductor model") == 5 and "aoti_cpu/member_4.nequip.pt2" in log
    else:
        assert "members: TorchScript" in proc.stdout and log.count("loaded torchscript model") == 5
    assert "NequIP overlaid on the baseline" in log and "bundled/au_hbn/baseline.in" in log
    k = json.loads((out / "k.json").read_text())
    rep = json.loads((out / "report.json").read_text())
    # one run of 1 ps cannot pin k down: fit_k says so, heating was told to go on, and the report warns first
    assert rep["k"]["k_eV_per_nm2_ps_K"] == pytest.approx(k["k_eV_per_nm2_ps_K"], rel=1e-12)
    md = (out / "report.md").read_text()
    assert md.splitlines()[0].startswith("**WARNING") or "WARNING" in md.splitlines()[0]
    if not k["k_eV_per_nm2_ps_K"] > 0:
        # a 1 ps run can give k <= 0: eq. 5 has no answer then, and the report says so instead of a dT
        assert not list(out.glob("heating_*keV.json")) and "ΔT under the beam NOT predicted" in md
    else:
        for kev, lam in ((300, 104.0), (80, 37.0)):
            h = json.loads((out / f"heating_{kev}keV.json").read_text())
            assert h["inputs"]["lambda_nm"] == lam and h["inputs"]["E"] == 43.6
            assert len(h["dT_K"]) == 13 and np.all(np.diff(h["dT_K"]) > 0)   # eq. 5: dT grows with the dose rate
        # eq. 5 at 80 keV against 300 keV: dT scales as 1/lambda
        h300, h80 = (json.loads((out / f"heating_{kv}keV.json").read_text()) for kv in (300, 80))
        np.testing.assert_allclose(np.array(h80["dT_K"]) / np.array(h300["dT_K"]), 104.0 / 37.0, rtol=1e-9)
    for fig in ("dT_t.png", "sigma_f_t.png", "dT_dose.png"):
        assert (out / "figures" / fig).stat().st_size > 1000
    assert rep["sigma_f"]["available"]
