"""dft.label with real GPAW on 1-2 atom systems (low cutoff for speed): storage, export, resume, failures (two ranks:
tests/mpi/test_dft_label.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from ase import Atoms
from ase.build import bulk
from ase.db import connect
from ase.io import read, write

from helpers import ROOT, dft_label, h2_molecule

pytest.importorskip("gpaw", reason="GPAW is installed by scripts/setup.sh unless BEAMHEAT_SKIP_GPAW=1")
FAST = ["--ecut-ev", "250"]


def test_labels_stored_exported_and_skipped(tmp_path):
    write(tmp_path / "c.extxyz", [h2_molecule(0.74), bulk("Li", "bcc", a=3.45)])
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--export", tmp_path / "train.extxyz", *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "summary: 2 done, 0 failed, 0 skipped" in proc.stdout
    db = connect(tmp_path / "l.db")
    rows = list(db.select())
    assert len(rows) == 2 and all(r.status == "done" and r.converged for r in rows)
    li = db.get(formula="Li")
    assert li.stress is not None and li.gpaw_version and li.settings_hash and li.wall_time_s > 0
    assert li.data["settings"]["ecut_eV"] == 250.0 and li.data["settings"]["xc"] == "PBE"
    assert db.get(formula="H2").get("stress") is None  # isolated: no stress
    train = read(tmp_path / "train.extxyz", index=":")
    assert len(train) == 2 and train[0].get_forces().shape == (2, 3)
    assert abs(train[0].get_potential_energy() - db.get(formula="H2").energy) < 1e-9
    again = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", *FAST)
    assert "2 already finished, 0 to compute" in again.stdout and len(connect(tmp_path / "l.db")) == 2


def test_bad_inputs_are_recorded_and_the_batch_goes_on(tmp_path):
    frames = [Atoms("HX", positions=[[0, 0, 0], [1.0, 0, 0]]), h2_molecule(0.1),
              Atoms("Li", positions=[[0, 0, 0]], pbc=True), h2_molecule(0.74)]
    write(tmp_path / "c.extxyz", frames)
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", *FAST)
    assert proc.returncode == 0 and "summary: 1 done, 3 failed" in proc.stdout
    errors = sorted(r.error for r in connect(tmp_path / "l.db").select(status="failed"))
    assert errors[0].startswith("overlapping atoms: 0 (H) and 1 (H) are 0.100 A apart")
    assert errors[1] == "periodic along x but the cell vector a is missing"
    assert errors[2] == "unknown element(s) X: no PAW setup"


def test_scf_failure_recorded(tmp_path):
    write(tmp_path / "c.extxyz", [h2_molecule(0.74)])
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--maxiter", "2", *FAST)
    # the only configuration failed: recorded, and the run is not a success
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1 and "all 1 configuration(s) of this run failed" in err[0]
    row = connect(tmp_path / "l.db").get(status="failed")
    assert row.error.startswith("SCF did not converge in 2 iterations") and not row.converged


def test_kill_and_resume_loses_nothing(tmp_path):
    write(tmp_path / "c.extxyz", [h2_molecule(d) for d in (0.70, 0.74, 0.78, 0.82)])
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "dft.label", str(tmp_path / "c.extxyz"), "--db",
                             str(tmp_path / "l.db"), *FAST], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        if (tmp_path / "l.db").exists() and len(connect(tmp_path / "l.db")) >= 1:
            break
    proc.send_signal(signal.SIGKILL)  # killed while the next calculation is in flight
    proc.wait()
    first = {r.uid: r.id for r in connect(tmp_path / "l.db").select()}
    assert 1 <= len(first) < 4
    again = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", *FAST)
    assert f"{len(first)} already finished" in again.stdout
    rows = list(connect(tmp_path / "l.db").select())
    assert len(rows) == 4 and len({r.uid for r in rows}) == 4 and all(r.status == "done" for r in rows)
    assert all({r.uid: r.id for r in rows}[u] == i for u, i in first.items())  # finished rows untouched
