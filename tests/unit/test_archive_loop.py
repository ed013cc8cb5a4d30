"""dft/au_hbn/archive_loop.sh: a run folder's label database copied into the archive as it grows, its export and
candidates beside it; bad generations and an archive that would lose labels refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.db import connect
from ase.io import read, write

ROOT = Path(__file__).resolve().parents[2]


def add_label(db_path: Path, d: float) -> None:
    a = Atoms("H2", positions=[[0, 0, 0], [d, 0, 0]])
    a.calc = SinglePointCalculator(a, energy=-d, forces=np.zeros((2, 3)))
    connect(str(db_path)).write(a, uid=f"u{d}", status="done")


def archive(tmp_path, *args):
    env = {**os.environ, "BEAMHEAT_LOOP_OUT": str(tmp_path / "run"), "BEAMHEAT_LOOP_ARCHIVE": str(tmp_path / "arch"),
           "VIRTUAL_ENV": os.path.dirname(os.path.dirname(sys.executable)),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", str(ROOT / "dft" / "au_hbn" / "archive_loop.sh"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_the_archive_grows_with_the_run_folder_and_never_loses_a_label(tmp_path):
    gen = tmp_path / "run" / "gen_001"
    gen.mkdir(parents=True)
    add_label(gen / "labels.db", 0.7)
    write(gen / "candidates.extxyz", [Atoms("H2", positions=[[0, 0, 0], [0.7, 0, 0]])])
    assert archive(tmp_path, 1, 2).returncode == 0
    add_label(gen / "labels.db", 0.8)                       # the generation grows: archived again
    proc = archive(tmp_path, 1, 2)
    assert proc.returncode == 0, proc.stderr
    assert len(read(tmp_path / "arch" / "gen_002.extxyz", ":")) == 2
    assert connect(str(tmp_path / "arch" / "gen_002.db")).count() == 2
    assert len(read(tmp_path / "arch" / "gen_002_candidates.extxyz", ":")) == 1
    # another run folder's generation 1 into the same archive would lose both labels
    other = tmp_path / "run" / "gen_003"
    other.mkdir()
    add_label(other / "labels.db", 0.9)
    proc = archive(tmp_path, 3, 2)
    assert proc.returncode == 1 and "holds 2 label(s) that" in proc.stderr and "--force replaces" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert connect(str(tmp_path / "arch" / "gen_002.db")).count() == 2
    assert archive(tmp_path, 3, 2, "--force").returncode == 0
    assert connect(str(tmp_path / "arch" / "gen_002.db")).count() == 1


def test_a_generation_with_no_finished_label_yet_archives_its_candidates(tmp_path):
    """A generation that has just started labelling: its candidates and its (empty) database, so that a fresh
    checkout can label them with dft.label; no export, and no error."""
    gen = tmp_path / "run" / "gen_002"
    gen.mkdir(parents=True)
    connect(str(gen / "labels.db")).count()                  # the label stage's database, no row yet
    write(gen / "candidates.extxyz", [Atoms("H2", positions=[[0, 0, 0], [0.7, 0, 0]])])
    proc = archive(tmp_path, 2, 4)
    assert proc.returncode == 0 and "no finished label yet" in proc.stdout, proc.stderr
    assert len(read(tmp_path / "arch" / "gen_004_candidates.extxyz", ":")) == 1
    assert (tmp_path / "arch" / "gen_004.db").is_file() and not (tmp_path / "arch" / "gen_004.extxyz").exists()
    add_label(gen / "labels.db", 0.7)                       # the first label: exported
    proc = archive(tmp_path, 2, 4)
    assert proc.returncode == 0 and "(1 labels)" in proc.stdout and (tmp_path / "arch" / "gen_004.extxyz").is_file()


@pytest.mark.parametrize("args, says", [
    (["x", "2"], "generation x: must be a whole number >= 1"),
    (["0", "2"], "generation 0: must be a whole number >= 1"),
    (["1", "-3"], "generation -3: must be a whole number >= 1"),
    (["4", "2"], "gen_004/labels.db: not found (has the label stage started?)"),
])
def test_bad_generations_are_one_line(tmp_path, args, says):
    proc = archive(tmp_path, *args)
    assert proc.returncode == 1 and says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "arch").exists()


def test_without_two_generations_it_prints_its_usage(tmp_path):
    proc = archive(tmp_path, 1)
    assert proc.returncode == 2 and "archive_loop.sh G N [--force]" in proc.stderr
