"""models.train / models.deploy: the command-line tools a user runs before LAMMPS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import ROOT


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("module", ["models.train", "models.deploy", "models.demo_data", "models.loop"])
def test_help(module):
    proc = run(module, "--help")
    assert proc.returncode == 0 and "usage: python -m " + module in proc.stdout


def test_deploy_missing_checkpoint(tmp_path):
    proc = run("models.deploy", str(tmp_path / "nope.ckpt"), str(tmp_path / "m.nequip.pth"))
    assert proc.returncode == 1 and "nope.ckpt: checkpoint not found" in proc.stderr


def test_train_reports_missing_data(tmp_path):
    proc = run("models.train", "models/configs/tiny.yaml", "--data", str(tmp_path / "none.extxyz"),
               "--out", str(tmp_path / "run"))
    assert proc.returncode == 1 and "none.extxyz: training data not found" in proc.stderr


def test_train_rejects_stray_arguments(tmp_path):
    proc = run("models.train", "models/configs/tiny.yaml", "--data", "x", "--out", "y", "oops")
    assert proc.returncode == 2 and "unrecognized arguments: oops" in proc.stderr


def test_train_ensemble_argument_errors(tmp_path):
    proc = run("models.train", "models/configs/tiny.yaml", "--data", str(tmp_path / "none.db"), "--out",
               str(tmp_path / "e"), "--ensemble", "2")
    assert proc.returncode == 1 and "none.db: training data not found" in proc.stderr
    proc = run("models.train", "models/configs/tiny.yaml", "--data", "a.extxyz", "--out", "e", "--ensemble", "0")
    assert proc.returncode == 1 and proc.stderr.startswith("error: --ensemble 0")
    proc = run("models.train", "models/configs/tiny.yaml", "--data", "a", "b", "--out", "e")
    assert proc.returncode == 1 and "several need --ensemble" in proc.stderr
    proc = run("models.train", "models/configs/tiny.yaml", "--data", "a", "--out", "e", "--energy-shifts", "lstsq")
    assert proc.returncode == 1 and "--energy-shifts is an ensemble option" in proc.stderr


def test_loop_help_documents_units_and_status(tmp_path):
    proc = run("models.loop", "--help")
    assert "--status DIR" in proc.stdout and "eV/Å" in proc.stdout and "stop.generations" in proc.stdout
    proc = run("models.loop", "--status", str(tmp_path))
    assert proc.returncode == 1 and "no generations" in proc.stderr
    proc = run("models.loop", "--status", str(tmp_path / "missing"))
    assert proc.returncode == 1 and proc.stderr.startswith("error: ")


@pytest.mark.parametrize("text, message", [
    ("type_names: [Au]\nbogus: 1\n", "unknown key 'bogus'"),
    ("systems: [\n", "not valid YAML"),
    ("type_names: [Au]\nselect: {lo: 1.0, hi: 0.5}\n", "select.lo 1.0 must be below select.hi 0.5"),
    ("type_names: [Au]\nlabeller: {kind: vasp}\n", "labeller.kind 'vasp'"),
    ("type_names: [Au]\nlabeller: {kind: lammps, potential: nothere}\n", "nothere: file not found"),
    ("labeller: {kind: emt}\n", "type_names is required"),
])
def test_loop_config_errors_are_one_line(tmp_path, text, message):
    cfg = tmp_path / "loop.yaml"
    cfg.write_text(text)
    proc = run("models.loop", str(cfg))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], \
        proc.stderr
