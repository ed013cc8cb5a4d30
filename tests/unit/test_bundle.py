"""models.bundle: a finished loop generation becomes a ready ensemble folder (members, all labels, metrics)."""

from __future__ import annotations

import gzip
import json

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read, write

from beamheat.cli import run
import models.bundle
from models.bundle import main as bundle_main


@pytest.fixture(autouse=True)
def fake_packager(monkeypatch):
    """nequip-package on a real checkpoint is tested in test_accelerate.py; here each member's 'package' is a copy of
    its checkpoint's bytes, so the tests can tell which checkpoint went where."""
    monkeypatch.setattr(models.bundle, "package", lambda ckpt, out: out.write_bytes(b"package of " + ckpt.read_bytes()))


def fake_loop(root, n_gen=2, finished_last=True):
    for g in range(n_gen):
        d = root / f"gen_{g:03d}"
        (d / "deploy").mkdir(parents=True)
        models = []
        for k in range(3):
            p = d / "deploy" / f"member_{k}.nequip.pth"
            p.write_bytes(f"model {g} {k}".encode())
            models.append(str(p))
            (d / "train" / f"member_{k}").mkdir(parents=True)
            (d / "train" / f"member_{k}" / "model.ckpt").write_bytes(f"checkpoint {g} {k}".encode())
        frames = []
        for i in range(2 + g):
            a = bulk("Cu", "fcc", a=3.6 + 0.01 * i + 0.1 * g, cubic=True)
            a.calc = EMT()
            a.get_forces()
            frames.append(a)
        write(d / "labels.extxyz", frames)
        done = {"state": "done", "wall_s": 1.0}
        stages = {"label": done, "train": done, "deploy": {**done, "outputs": {"models": models}},
                  "evaluate": done if (g < n_gen - 1 or finished_last) else {"state": "pending"}}
        (d / "manifest.json").write_text(json.dumps({
            "generation": g, "stages": stages, "counts": {"n_labelled": 2 + g},
            "metrics": {"test": {"n_frames": 4, "ensemble": {"force_rmse_eV_per_A": 0.2 - 0.05 * g}}}}))
    return root


def test_bundle_takes_the_last_finished_generation_and_every_label(tmp_path, capsys):
    loop = fake_loop(tmp_path / "loop")
    dest = tmp_path / "bundle"
    assert run(bundle_main, [str(loop), str(dest)]) == 0
    assert "bundled generation 1" in capsys.readouterr().out
    assert [(dest / f"member_{k}.nequip.pth").read_bytes() for k in range(3)] == [b"model 1 0", b"model 1 1",
                                                                                   b"model 1 2"]
    # beside each member its portable package, built from the checkpoint the member was deployed from
    assert [(dest / f"member_{k}.nequip.zip").read_bytes() for k in range(3)] == [
        b"package of checkpoint 1 0", b"package of checkpoint 1 1", b"package of checkpoint 1 2"]
    frames = read(gzip.open(dest / "labels.extxyz.gz", "rt"), index=":", format="extxyz")
    assert len(frames) == 2 + 3
    m = json.loads((dest / "metrics.json").read_text())
    assert m["generation"] == 1 and m["n_members"] == 3 and m["n_labelled_frames"] == 5
    assert [g["ensemble"]["force_rmse_eV_per_A"] for g in m["generations"]] == pytest.approx([0.2, 0.15])
    # never overwritten without --force; with it, an earlier generation on request
    before = (dest / "metrics.json").read_text()
    assert run(bundle_main, [str(loop), str(dest)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "member_0.nequip.pth: exists" in err and "--force" in err
    assert (dest / "metrics.json").read_text() == before
    assert run(bundle_main, [str(loop), str(dest), "--generation", "0", "--force"]) == 0
    assert (dest / "member_0.nequip.pth").read_bytes() == b"model 0 0"
    assert json.loads((dest / "metrics.json").read_text())["n_labelled_frames"] == 2


def test_bundle_errors(tmp_path, capsys):
    assert run(bundle_main, [str(tmp_path / "nope"), str(tmp_path / "b")]) == 1
    assert "no such loop folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run(bundle_main, [str(tmp_path / "empty"), str(tmp_path / "b")]) == 1
    assert "no generation folders" in capsys.readouterr().err
    loop = fake_loop(tmp_path / "loop", n_gen=1, finished_last=False)
    assert run(bundle_main, [str(loop), str(tmp_path / "b")]) == 1
    assert "no generation has finished" in capsys.readouterr().err
    loop2 = fake_loop(tmp_path / "loop2")
    assert run(bundle_main, [str(loop2), str(tmp_path / "b"), "--generation", "7"]) == 1
    assert "generation 7 does not exist" in capsys.readouterr().err
    (loop2 / "gen_001" / "train" / "member_2" / "model.ckpt").unlink()
    assert run(bundle_main, [str(loop2), str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "gen_001/train/member_2/model.ckpt: checkpoint of a deployed member missing" in err
    (loop2 / "gen_001" / "manifest.json").write_text("{not json")
    assert run(bundle_main, [str(loop2), str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "gen_001/manifest.json: not valid JSON" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_bundle_puts_the_member_with_the_smallest_validation_error_first(tmp_path, capsys):
    """`ensemble first` dynamics follow member_0 alone, so the bundle copies the members best first."""
    loop = fake_loop(tmp_path / "loop")
    man = loop / "gen_001" / "manifest.json"
    m = json.loads(man.read_text())
    m["metrics"]["validation"] = {"members": [{"force_error_rmse_eV_per_A": e} for e in (0.30, 0.10, 0.20)]}
    man.write_text(json.dumps(m))
    dest = tmp_path / "bundle"
    assert run(bundle_main, [str(loop), str(dest)]) == 0
    out = capsys.readouterr().out
    assert "member_1.nequip.pth 0.1000, member_2.nequip.pth 0.2000, member_0.nequip.pth 0.3000" in out
    assert [(dest / f"member_{k}.nequip.pth").read_bytes() for k in range(3)] == [b"model 1 1", b"model 1 2",
                                                                                   b"model 1 0"]
    order = json.loads((dest / "metrics.json").read_text())["order"]
    assert [o["val_force_error_rmse_eV_per_A"] for o in order] == pytest.approx([0.10, 0.20, 0.30])
    assert (dest / "member_0.nequip.zip").read_bytes() == b"package of checkpoint 1 1"  # packages follow the order
    assert order[0]["checkpoint"].endswith("gen_001/train/member_1/model.ckpt")
    assert order[0]["from"].endswith("gen_001/deploy/member_1.nequip.pth")
    # --keep-order: the loop's order
    assert run(bundle_main, [str(loop), str(dest), "--force", "--keep-order"]) == 0
    assert (dest / "member_0.nequip.pth").read_bytes() == b"model 1 0"
    assert json.loads((dest / "metrics.json").read_text())["order_rule"] == "the loop's order"


def test_bundle_holds_each_labelled_configuration_once(tmp_path):
    """A frame that a later generation's labeller copied (labeller.reuse) is bundled, and counted, once."""
    loop = fake_loop(tmp_path / "loop")
    again = read(loop / "gen_000" / "labels.extxyz", index="0")
    write(loop / "gen_001" / "labels.extxyz", [again, *read(loop / "gen_001" / "labels.extxyz", index=":")])
    dest = tmp_path / "bundle"
    assert run(bundle_main, [str(loop), str(dest)]) == 0
    frames = read(gzip.open(dest / "labels.extxyz.gz", "rt"), index=":", format="extxyz")
    assert len(frames) == 5 and json.loads((dest / "metrics.json").read_text())["n_labelled_frames"] == 5
    assert frames[0].get_potential_energy() == pytest.approx(again.get_potential_energy())
