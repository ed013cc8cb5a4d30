"""models.train / models.deploy: the command-line tools a user runs before LAMMPS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("module", ["models.train", "models.deploy", "models.demo_data"])
def test_help(module):
    proc = run(module, "--help")
    assert proc.returncode == 0 and "usage: python -m " + module in proc.stdout


def test_deploy_refuses_wrong_suffix(checkpoint, tmp_path):
    proc = run("models.deploy", str(checkpoint), str(tmp_path / "model.pth"), "--format", "torchscript")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: {tmp_path / 'model.pth'}: a torchscript model file must end in .nequip.pth"
    assert not (tmp_path / "model.pth").exists()


def test_deploy_missing_checkpoint(tmp_path):
    proc = run("models.deploy", str(tmp_path / "nope.ckpt"), str(tmp_path / "m.nequip.pth"))
    assert proc.returncode == 1 and "nope.ckpt: checkpoint not found" in proc.stderr


def test_deploy_writes_loadable_torchscript_with_metadata(checkpoint, tmp_path):
    import torch

    out = tmp_path / "m.nequip.pth"
    proc = run("models.deploy", str(checkpoint), str(out))
    assert proc.returncode == 0, proc.stderr
    extra = {"r_max": "", "type_names": "", "num_types": "", "model_dtype": ""}
    torch.jit.load(str(out), _extra_files=extra)
    assert extra == {"r_max": b"4.0", "type_names": b"Au Cu Pd", "num_types": b"3", "model_dtype": b"float64"}
    assert not list(tmp_path.glob("*.part"))


def test_train_reports_missing_data(tmp_path):
    proc = run("models.train", "models/configs/tiny.yaml", "--data", str(tmp_path / "none.extxyz"),
               "--out", str(tmp_path / "run"))
    assert proc.returncode == 1 and "none.extxyz: training data not found" in proc.stderr


def test_train_rejects_stray_arguments(tmp_path):
    proc = run("models.train", "models/configs/tiny.yaml", "--data", "x", "--out", "y", "oops")
    assert proc.returncode == 2 and "unrecognized arguments: oops" in proc.stderr
