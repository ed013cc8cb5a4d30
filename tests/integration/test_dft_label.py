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


def test_a_killed_calculation_resumes_from_its_scf_checkpoint(tmp_path):
    """--log-dir with --checkpoint-every N: the SCF state goes to UID.gpw every N iterations; a run killed mid-SCF
    resumes from it, and the label equals an uninterrupted calculation's (to the SCF tolerance). The row says from
    which iteration; the checkpoint goes once the label is done; the killed run's GPAW text is kept."""
    import numpy as np

    bn = Atoms("BN", positions=[(0, 0, 0), (1.45, 0, 0.1)], cell=[4, 4, 5], pbc=True)
    write(tmp_path / "c.extxyz", [bn])
    ref = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "ref.db", *FAST)
    assert ref.returncode == 0, ref.stderr[-2000:]
    logs = tmp_path / "gpaw"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "dft.label", str(tmp_path / "c.extxyz"), "--db",
                             str(tmp_path / "l.db"), "--log-dir", str(logs), "--checkpoint-every", "2", *FAST],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(logs.glob("*.gpw.json")) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # killed mid-SCF, after a checkpoint
    proc.wait()
    assert list(logs.glob("*.gpw")) and len(connect(tmp_path / "l.db")) == 0
    again = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--log-dir", logs, *FAST)
    assert again.returncode == 0, again.stderr[-2000:]
    row, want = connect(tmp_path / "l.db").get(), connect(tmp_path / "ref.db").get()
    assert row.status == "done" and row.resumed_at_iteration >= 2 and "resumed_at_iteration" not in want
    assert abs(row.energy - want.energy) < 1e-3
    assert np.abs(row.forces - want.forces).max() < 1e-2
    assert "Reading from" in (logs / f"{row.uid}.txt").read_text()
    assert (logs / f"{row.uid}.interrupted.txt").is_file()
    assert not list(logs.glob("*.gpw*"))  # the checkpoint went with the label


def test_an_unreadable_checkpoint_is_computed_from_the_start(tmp_path):
    """A checkpoint that GPAW cannot read (a damaged file, another GPAW version) is removed and the configuration
    computed from the start, not recorded as failed."""
    write(tmp_path / "c.extxyz", [h2_molecule(0.74)])
    from dft.settings import DEFAULT_SETTINGS, config_id

    uid = config_id(h2_molecule(0.74), dict(DEFAULT_SETTINGS, ecut_eV=250.0))
    logs = tmp_path / "gpaw"
    logs.mkdir()
    (logs / f"{uid}.gpw").write_text("not a gpw file")
    (logs / f"{uid}.gpw.json").write_text('{"niter": 5, "wall_time_s": 10.0}')
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--log-dir", logs, *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = connect(tmp_path / "l.db").get()
    assert row.uid == uid and row.status == "done" and "resumed_at_iteration" not in row
    assert not list(logs.glob("*.gpw*"))
