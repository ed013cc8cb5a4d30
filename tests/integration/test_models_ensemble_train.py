"""models.train --ensemble with real nequip-train: shared split, different seeds, metrics, resume, fixed test split,
fine-tuning, and models.deploy of the whole ensemble in one call."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from ase.io import read

from helpers import ROOT


def run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory, dataset):
    out = tmp_path_factory.mktemp("ens") / "ens"
    proc = run("models.train", "models/configs/tiny.yaml", "--data", dataset, "--out", out, "--ensemble", "2",
               "--test-fraction", "0.2", "trainer.max_epochs=3")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    return out, proc.stdout


def test_members_share_the_split_and_differ_in_seed(ensemble, dataset):
    out, stdout = ensemble
    split = json.loads((out / "split.json").read_text())
    n = len(read(dataset, index=":"))
    assert split["n_test"] == 12 and split["n_train"] + split["n_val"] + split["n_test"] == n
    assert not set(split["test"]) & set(split["train"]) and not set(split["val"]) & set(split["train"])
    cfgs = [yaml.safe_load((out / f"member_{j}" / "config.yaml").read_text()) for j in range(2)]
    assert [c["seed"] for c in cfgs] == [1, 2]
    for c in cfgs:
        assert c["data"]["train_dataset"]["file_path"] == str(out / "data" / "train.extxyz")
        assert c["data"]["val_dataset"]["file_path"] == str(out / "data" / "val.extxyz")
        assert "split_dataset" not in c["data"]
    import torch

    assert "member 2/2: training (seed 2)" in stdout
    assert f"device {'cuda' if torch.cuda.is_available() else 'cpu'}" in stdout  # a GPU is used when torch sees one


def test_metrics_json(ensemble):
    out, stdout = ensemble
    m = json.loads((out / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(f"JSON has {c}"))
    assert m["test"]["n_frames"] == 12 and len(m["test"]["members"]) == 2
    for block in m["test"]["members"] + [m["test"]["ensemble"]]:
        for key in ("energy_mae_eV_per_atom", "energy_rmse_eV_per_atom", "force_mae_eV_per_A",
                    "force_rmse_eV_per_A", "force_error_rmse_eV_per_A"):
            assert 0 < block[key] < 100
        assert block["energy_mae_eV_per_atom"] <= block["energy_rmse_eV_per_atom"]
        assert block["force_mae_eV_per_A"] <= block["force_rmse_eV_per_A"]
    e = m["test"]["ensemble"]
    assert -1 <= e["spearman_sigma_delta"] <= 1 and e["mean_sigma_f_eV_per_A"] > 1e-4  # the seeds differ
    # the ensemble-mean force error is not worse than the average member's (convexity of the squared error)
    assert e["force_rmse_eV_per_A"] <= np.mean([b["force_rmse_eV_per_A"] for b in m["test"]["members"]]) + 1e-12
    assert "Spearman(sigma_F, dF)" in stdout


def test_resume_skips_trained_members_and_refuses_other_inputs(ensemble, dataset):
    out, _ = ensemble
    mtimes = [(out / f"member_{j}" / "model.ckpt").stat().st_mtime_ns for j in range(2)]
    proc = run("models.train", "models/configs/tiny.yaml", "--data", dataset, "--out", out, "--ensemble", "2",
               "--test-fraction", "0.2", "trainer.max_epochs=3")
    assert proc.returncode == 0 and proc.stdout.count("already trained, skipped") == 2
    assert "up to date, kept" not in proc.stderr
    assert [(out / f"member_{j}" / "model.ckpt").stat().st_mtime_ns for j in range(2)] == mtimes
    proc = run("models.train", "models/configs/tiny.yaml", "--data", dataset, "--out", out, "--ensemble", "2",
               "trainer.max_epochs=4")
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "use --force" in proc.stderr


@pytest.mark.slow
def test_fixed_test_split_and_finetune(ensemble, dataset, tmp_path):
    """More data with --split: the old test frames stay the test split, new ones go to train/val; --finetune starts
    every member from the previous one."""
    from models.demo_data import write_dataset
    from models.train import train_ensemble

    out, _ = ensemble
    more = write_dataset(tmp_path / "more.extxyz", n_frames=9, seed=5)
    r = train_ensemble(ROOT / "models/configs/tiny.yaml", [dataset, more], tmp_path / "ens2", 2,
                       ["trainer.max_epochs=1"], split=out / "split.json", finetune=out, evaluate=False,
                       progress=lambda *a: None)
    old = json.loads((out / "split.json").read_text())
    new = json.loads((tmp_path / "ens2" / "split.json").read_text())
    assert new["test"] == old["test"] and new["n_train"] + new["n_val"] == old["n_train"] + old["n_val"] + 9
    cfg = yaml.safe_load((tmp_path / "ens2" / "member_1" / "config.yaml").read_text())
    assert cfg["training_module"]["model"] == {"_target_": "nequip.model.ModelFromCheckpoint",
                                               "checkpoint_path": str(out / "member_1" / "model.ckpt")}
    assert len(r["members"]) == 2


def test_deploy_compiles_all_members_in_one_call(ensemble, tmp_path):
    import torch

    out, _ = ensemble
    # models.train compiled the members with `python -m models.deploy ENS_DIR ENS_DIR/deployed` (one call)
    files = sorted((out / "deployed").glob("member_*.nequip.pth"))
    assert [f.name for f in files] == ["member_0.nequip.pth", "member_1.nequip.pth"]
    for f in files:
        extra = {"type_names": ""}
        torch.jit.load(str(f), _extra_files=extra)
        assert extra["type_names"] == b"Au Cu Pd"
    assert set(json.loads((out / "deployed" / "deployed.json").read_text())) == {f.name for f in files}
    proc = run("models.deploy", out, out / "deployed")
    assert proc.returncode == 0 and proc.stdout.count("up to date, kept") == 2
    proc = run("models.deploy", tmp_path, tmp_path / "x")
    assert proc.returncode == 1 and "no member_*/model.ckpt" in proc.stderr


def test_least_squares_energy_shifts_train_and_are_recorded(dataset, tmp_path):
    """--energy-shifts lstsq: nequip-train takes the fitted per-type shifts (the member's config and ensemble.json
    carry them) and a member trains with them; fine-tuning with them is refused in one line."""
    from models.data import read_labelled
    from models.train import per_type_energy_shifts

    out = tmp_path / "ens"
    proc = run("models.train", "models/configs/tiny.yaml", "--data", dataset, "--out", out, "--ensemble", "1",
               "--test-fraction", "0.2", "--energy-shifts", "lstsq", "trainer.max_epochs=2")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    stamp = json.loads((out / "ensemble.json").read_text())
    split = json.loads((out / "split.json").read_text())
    frames = {f.info["uid"]: f for f in read_labelled(dataset)}
    types = yaml.safe_load((ROOT / "models/configs/tiny.yaml").read_text())["model_type_names"]
    expected = per_type_energy_shifts([frames[u] for u in split["train"]], types)
    assert stamp["energy_shifts"] == pytest.approx(expected)
    cfg = yaml.safe_load((out / "member_0" / "config.yaml").read_text())
    assert cfg["training_module"]["model"]["per_type_energy_shifts"] == pytest.approx(expected)
    assert (out / "member_0" / "model.ckpt").is_file() and "per-type energy shifts (least squares" in proc.stdout
    proc = run("models.train", "models/configs/tiny.yaml", "--data", dataset, "--out", tmp_path / "ft", "--ensemble",
               "1", "--energy-shifts", "lstsq", "--finetune", out, "trainer.max_epochs=1")
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith("error: energy shifts lstsq: "
                                                                                   "fine-tuned members keep")
