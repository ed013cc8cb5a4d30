"""models.accelerate: a bundle's members compiled for this machine (AOTInductor) give its TorchScript members' forces,
are reused while nothing changed, and are refused when they are stale or are not the same model."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest
from ase.io import read, write
from helpers import deploy_model, rattled

import models.accelerate as acc
from beamheat.cli import run
from beamheat.lammps_run import single_point


def make_bundle(root, member, package, frames):
    root.mkdir()
    shutil.copy(member, root / "member_0.nequip.pth")
    shutil.copy(package, root / "member_0.nequip.zip")
    with gzip.open(root / "labels.extxyz.gz", "wt") as f:
        write(f, frames, format="extxyz")
    return root


def forces_and_energy(atoms, model):
    types = sorted(set(atoms.get_chemical_symbols()))
    r = single_point(atoms, "nequip", f"* * {model} {' '.join(types)}", types)
    return r["forces_eV_per_A"], r["energy_eV"]


@pytest.mark.slow
def test_compiled_members_give_the_torchscript_forces_and_go_stale(tmp_path, model_dir, checkpoint, model_ts,
                                                                   ensemble_models, dataset, capsys, monkeypatch):
    frames = read(dataset, index=":3")
    package = deploy_model(checkpoint, model_dir / "tiny.nequip.zip", "package")
    bundle = make_bundle(tmp_path / "bundle", model_ts, package, frames)
    compiled = bundle / "aoti_cpu" / "member_0.nequip.pt2"

    assert run(acc.main, [str(bundle), "--check"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing compiled yet" in err and "python -m models.accelerate" in err

    assert run(acc.main, [str(bundle), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "member_0: compiled in" in out and "same forces as member_0.nequip.pth" in out
    assert run(acc.main, [str(bundle), "--check"]) == 0
    assert capsys.readouterr().out.strip() == str(compiled)

    # the compiled member is the TorchScript member: F and E on a frame the check did not see, both in LAMMPS
    atoms = rattled(frames[2].copy(), scale=0.15, seed=7)
    f_ts, e_ts = forces_and_energy(atoms, model_ts)
    f_aoti, e_aoti = forces_and_energy(atoms, compiled)
    assert np.abs(f_ts).max() > 0.05
    np.testing.assert_allclose(f_aoti, f_ts, rtol=0, atol=1e-10)
    assert e_aoti == pytest.approx(e_ts, abs=1e-10)
    rec = json.loads((bundle / "aoti_cpu" / "compiled.json").read_text())
    assert rec["machine"]["torch"] and rec["machine"]["cpu_isa"]
    assert rec["members"]["member_0"]["check"]["max_abs_dF_eV_per_A"] < 1e-10

    # nothing changed: kept, not compiled again
    stamp = compiled.stat().st_mtime_ns
    assert run(acc.main, [str(bundle)]) == 0
    assert "compiled for this machine earlier, kept" in capsys.readouterr().out
    assert compiled.stat().st_mtime_ns == stamp

    # another torch (or CPU) than the one it was compiled with: stale
    rec["machine"]["torch"] = "0.0"
    (bundle / "aoti_cpu" / "compiled.json").write_text(json.dumps(rec))
    assert run(acc.main, [str(bundle), "--check"]) == 1
    assert "compiled for torch 0.0" in capsys.readouterr().err
    rec["machine"]["torch"] = acc.machine("cpu")["torch"]
    (bundle / "aoti_cpu" / "compiled.json").write_text(json.dumps(rec))
    assert run(acc.main, [str(bundle), "--check"]) == 0
    capsys.readouterr()

    # the member replaced by another model (a rebundle): stale; and a package that is not that model is refused
    # (here the old compiled file stands in for compiling the package again)
    shutil.copy(ensemble_models[1], bundle / "member_0.nequip.pth")
    assert run(acc.main, [str(bundle), "--check"]) == 1
    assert "member_0 changed since it was compiled" in capsys.readouterr().err
    kept = tmp_path / "kept.nequip.pt2"
    shutil.copy(compiled, kept)
    monkeypatch.setattr(acc, "_compile", lambda pkg, out, device: shutil.copy(kept, out) and 0.0)
    assert run(acc.main, [str(bundle)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "member_0.nequip.zip: the compiled member differs from member_0.nequip.pth" \
        in err
    assert not compiled.exists()
    assert run(acc.main, [str(bundle), "--check"]) == 1
