"""dft.label with real GPAW on 1-2 atom systems (low cutoff for speed): storage, export, resume, MPI, failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.db import connect
from ase.io import read, write

from helpers import ROOT

pytest.importorskip("gpaw", reason="GPAW is installed by scripts/setup.sh unless BEAMHEAT_SKIP_GPAW=1")
FAST = ["--ecut-ev", "250"]


def label(*args, nprocs=1, timeout=300):
    venv = os.path.dirname(sys.executable)
    cmd = [sys.executable, "-m", "dft.label", *map(str, args)]
    if nprocs > 1:
        cmd = [os.path.join(venv, "mpirun"), "-np", str(nprocs)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def h2(d):
    return Atoms("H2", positions=[[0, 0, 0], [d, 0, 0]])


def test_labels_stored_exported_and_skipped(tmp_path):
    write(tmp_path / "c.extxyz", [h2(0.74), bulk("Li", "bcc", a=3.45)])
    proc = label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--export", tmp_path / "train.extxyz", *FAST)
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
    again = label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", *FAST)
    assert "2 already finished, 0 to compute" in again.stdout and len(connect(tmp_path / "l.db")) == 2


def test_bad_inputs_are_recorded_and_the_batch_goes_on(tmp_path):
    frames = [Atoms("HX", positions=[[0, 0, 0], [1.0, 0, 0]]), h2(0.1),
              Atoms("Li", positions=[[0, 0, 0]], pbc=True), h2(0.74)]
    write(tmp_path / "c.extxyz", frames)
    proc = label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", *FAST)
    assert proc.returncode == 0 and "summary: 1 done, 3 failed" in proc.stdout
    errors = sorted(r.error for r in connect(tmp_path / "l.db").select(status="failed"))
    assert errors[0].startswith("overlapping atoms: 0 (H) and 1 (H) are 0.100 A apart")
    assert errors[1] == "periodic along x but the cell vector a is missing"
    assert errors[2] == "unknown element(s) X: no PAW setup"


def test_scf_failure_recorded(tmp_path):
    write(tmp_path / "c.extxyz", [h2(0.74)])
    proc = label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--maxiter", "2", *FAST)
    assert proc.returncode == 0
    row = connect(tmp_path / "l.db").get(status="failed")
    assert row.error.startswith("SCF did not converge in 2 iterations") and not row.converged


def test_kill_and_resume_loses_nothing(tmp_path):
    write(tmp_path / "c.extxyz", [h2(d) for d in (0.70, 0.74, 0.78, 0.82)])
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
    again = label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", *FAST)
    assert f"{len(first)} already finished" in again.stdout
    rows = list(connect(tmp_path / "l.db").select())
    assert len(rows) == 4 and len({r.uid for r in rows}) == 4 and all(r.status == "done" for r in rows)
    assert all({r.uid: r.id for r in rows}[u] == i for u, i in first.items())  # finished rows untouched


def test_two_ranks_give_the_serial_energies(tmp_path):
    write(tmp_path / "c.extxyz", [Atoms("Au2", positions=[[0, 0, 0], [2.5, 0, 0]]), h2(0.74)])
    serial = label(tmp_path / "c.extxyz", "--db", tmp_path / "s.db", *FAST)
    both = label(tmp_path / "c.extxyz", "--db", tmp_path / "p.db", *FAST, nprocs=2)  # one calculation on 2 ranks
    groups = label(tmp_path / "c.extxyz", "--db", tmp_path / "g.db", "--ranks-per-calc", "1", *FAST, nprocs=2)
    for proc in (serial, both, groups):
        assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert "1 group(s) of 2 rank(s)" in both.stdout and "2 group(s) of 1 rank(s)" in groups.stdout
    ref = {r.uid: r for r in connect(tmp_path / "s.db").select()}
    for name in ("p.db", "g.db"):
        rows = list(connect(tmp_path / name).select())
        assert len(rows) == 2
        for r in rows:
            assert abs(r.energy - ref[r.uid].energy) < 1e-6
            np.testing.assert_allclose(r.forces, ref[r.uid].forces, atol=1e-5)


def test_settings_file_errors(tmp_path):
    (tmp_path / "s.yaml").write_text("ecut: 400\n")
    write(tmp_path / "c.extxyz", [h2(0.74)])
    proc = label(tmp_path / "c.extxyz", "--settings", tmp_path / "s.yaml")
    assert proc.returncode == 1 and "s.yaml: unknown setting(s) ecut; known: ecut_eV" in proc.stderr
