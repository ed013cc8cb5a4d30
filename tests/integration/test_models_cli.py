"""models.deploy on a trained checkpoint, as a user runs it before LAMMPS."""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_deploy_refuses_wrong_suffix(checkpoint, tmp_path):
    proc = run("models.deploy", str(checkpoint), str(tmp_path / "model.pth"), "--format", "torchscript")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: {tmp_path / 'model.pth'}: a torchscript model file must end in .nequip.pth"
    assert not (tmp_path / "model.pth").exists()


def test_deploy_writes_loadable_torchscript_with_metadata(checkpoint, tmp_path):
    import torch

    out = tmp_path / "m.nequip.pth"
    proc = run("models.deploy", str(checkpoint), str(out))
    assert proc.returncode == 0, proc.stderr
    extra = {"r_max": "", "type_names": "", "num_types": "", "model_dtype": ""}
    torch.jit.load(str(out), _extra_files=extra)
    assert extra == {"r_max": b"4.0", "type_names": b"Au Cu Pd", "num_types": b"3", "model_dtype": b"float64"}
    assert not list(tmp_path.glob("*.part"))


def test_deploy_refuses_unknown_or_uninstalled_modifiers_in_one_line(checkpoint, tmp_path):
    import importlib.util

    out = tmp_path / "m.nequip.pth"
    proc = run("models.deploy", str(checkpoint), str(out), "--modifiers", "enable_Nothing")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "error: --modifiers enable_Nothing: `enable_Nothing` is not a registered model modifier" in proc.stderr
    assert "enable_OpenEquivariance" in proc.stderr  # nequip's list of the registered ones
    if importlib.util.find_spec("openequivariance") is None:
        proc = run("models.deploy", str(checkpoint), str(out), "--modifiers", "enable_OpenEquivariance")
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert ("error: --modifiers enable_OpenEquivariance: needs the Python package 'openequivariance', which is "
                "not installed") in proc.stderr
    assert not out.exists() and not list(tmp_path.glob("*.part"))
