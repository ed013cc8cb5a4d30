"""models.loop: a real 2-generation active-learning loop (classical Au/hBN reference as the labeller, tiny NequIP
ensembles with nequip-train, LAMMPS exploration with pair_style nequip), killed after labelling and during
training, then resumed; and the labellers (emt, lammps, gpaw) on their own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.db import connect
from ase.io import read

from helpers import ROOT
from loop_config import YAML


def _env(**extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **extra)
    return env


def _loop(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "models.loop", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)


def manifest(work: Path, g: int) -> dict:
    return json.loads((work / f"gen_{g:03d}" / "manifest.json").read_text(), parse_constant=_no_nan)


def _no_nan(c):
    raise AssertionError(f"invalid JSON constant {c}")


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Run 1: SIGKILL right after generation 1's labels are recorded. Run 2: SIGKILL while member 2 of generation 1
    trains. Run 3: to the end. Returns what was observed between the runs."""
    d = tmp_path_factory.mktemp("loop")
    work = d / "work"
    cfg = d / "loop.yaml"
    cfg.write_text(YAML.format(out=work))
    obs = {"work": work, "cfg": cfg}
    t0 = time.perf_counter()
    p = _loop([cfg], env=_env(BEAMHEAT_LOOP_KILL_AFTER="1:label"))
    obs["out1"] = p.communicate(timeout=400)[0]
    obs["rc1"] = p.returncode
    obs["after_label"] = manifest(work, 1)
    db = connect(str(work / "gen_001" / "labels.db"))
    obs["labels1"] = sorted((r.id, r.uid, r.ctime) for r in db.select())
    # run 2: kill while the second member of generation 1 is training
    p = _loop([cfg], env=_env())
    member0 = work / "gen_001" / "train" / "member_0" / "done.json"
    member1 = work / "gen_001" / "train" / "member_1" / "config.yaml"
    deadline = time.time() + 400
    while not member1.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # member 1's nequip-train is running now
    obs["killed_in_training"] = p.poll() is None
    os.killpg(p.pid, signal.SIGKILL)
    obs["out2"] = p.communicate()[0]
    obs["during_train"] = manifest(work, 1)
    obs["member0_ckpt_mtime"] = (work / "gen_001" / "train" / "member_0" / "model.ckpt").stat().st_mtime_ns
    obs["member0_done"] = member0.read_text()
    p = _loop([cfg], env=_env())
    obs["out3"] = p.communicate(timeout=600)[0]
    obs["rc3"] = p.returncode
    obs["wall_s"] = time.perf_counter() - t0
    return obs


def test_two_generation_loop_completes(killed_and_resumed):
    o = killed_and_resumed
    work = o["work"]
    assert o["rc3"] == 0, o["out3"][-3000:]
    m0, m1 = manifest(work, 0), manifest(work, 1)
    assert all(s["state"] == "done" for s in m0["stages"].values())
    assert list(m1["stages"]) == ["explore", "select", "label", "train", "deploy", "evaluate"]
    assert all(s["state"] == "done" for s in m1["stages"].values())
    ex = m1["stages"]["explore"]["outputs"]
    assert ex["n_runs"] == 1 and ex["n_frames"] >= 2 and 0 <= ex["halted_fraction"] <= 1
    n_new = m1["stages"]["label"]["outputs"]["n_labelled"]
    assert 1 <= n_new <= 6
    assert m1["counts"]["n_train"] > m0["counts"]["n_train"]
    # the test split of generation 0 is the test split of generation 1
    s0 = json.loads((work / "gen_000" / "train" / "split.json").read_text())
    s1 = json.loads((work / "gen_001" / "train" / "split.json").read_text())
    assert s0["test"] == s1["test"] and len(s0["test"]) >= 2
    assert not set(s1["test"]) & set(s1["train"] + s1["val"])
    t = m1["metrics"]["test"]["ensemble"]
    assert 0 < t["force_rmse_eV_per_A"] < 50 and len(m1["metrics"]["test"]["members"]) == 2
    new = m1["metrics"]["new_frames_previous_ensemble"]
    assert new["n_frames"] == n_new and new["ensemble"]["mean_sigma_f_eV_per_A"] > 0
    # the labels really are the classical reference's: relabel one and compare
    from beamheat.lammps_run import potential_commands, single_point

    fr = read(work / "gen_001" / "labels.extxyz", index=0)
    style, coeffs = potential_commands(ROOT / "lammps_inputs/potentials/classical_au_hbn.in")
    ref = single_point(fr, style, coeffs, ["Au", "B", "N"])
    np.testing.assert_allclose(fr.get_forces(), ref["forces_eV_per_A"], atol=1e-8)
    for name in ("sigma_hist", "error_vs_sigma", "learning_curve", "fractions"):
        assert (work / "gen_001" / "figures" / f"{name}.png").stat().st_size > 1000
    assert len(list((work / "gen_001" / "deploy").glob("member_*.nequip.pth"))) == 2
    proc = subprocess.run([sys.executable, "-m", "models.loop", "--status", str(work)], cwd=ROOT,
                          capture_output=True, text=True, env=_env())
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.split()[:1] in (["0"], ["1"])]
    assert proc.returncode == 0 and [r[1] for r in rows] == ["LTDV", "ESLTDV"], proc.stdout
    print(f"loop with two kills: {o['wall_s']:.0f} s")


def test_kill_after_labelling_and_during_training_loses_and_redoes_nothing(killed_and_resumed):
    o = killed_and_resumed
    work = o["work"]
    assert o["rc1"] == -signal.SIGKILL, o["out1"][-2000:]
    st = o["after_label"]["stages"]
    assert st["label"]["state"] == "done" and st["train"]["state"] == "pending"
    assert o["killed_in_training"], o["out2"][-2000:]
    st = o["during_train"]["stages"]
    assert st["train"]["state"] == "running"
    m0, m1 = manifest(work, 0), manifest(work, 1)
    # nothing redone: every stage of generation 0 ran once, labelling of generation 1 ran once
    assert all(s["attempts"] == 1 for s in m0["stages"].values())
    for name in ("explore", "select", "label"):
        assert m1["stages"][name]["attempts"] == 1
    assert m1["stages"]["train"]["attempts"] == 2
    assert "member 1/2: already trained, skipped" in o["out3"]
    assert "member 2/2: training" in o["out3"]
    assert (work / "gen_001" / "train" / "member_0" / "model.ckpt").stat().st_mtime_ns == o["member0_ckpt_mtime"]
    assert (work / "gen_001" / "train" / "member_0" / "done.json").read_text() == o["member0_done"]
    # nothing lost or duplicated: the label rows are those of run 1, one per uid
    db = connect(str(work / "gen_001" / "labels.db"))
    rows = sorted((r.id, r.uid, r.ctime) for r in db.select())
    assert rows == o["labels1"] and len({r[1] for r in rows}) == len(rows)
    assert len(read(work / "gen_001" / "labels.extxyz", index=":")) == m1["stages"]["label"]["outputs"]["n_labelled"]
    assert "gen 1 label: done" in o["out3"] and "skipped" in o["out3"]
    # a re-run finds everything done
    proc = subprocess.run([sys.executable, "-m", "models.loop", str(o["cfg"])], cwd=ROOT, capture_output=True,
                          text=True, env=_env(), timeout=300)
    assert proc.returncode == 0 and "starting" not in proc.stdout, proc.stdout[-2000:]


def test_changed_inputs_are_refused_without_force(killed_and_resumed, tmp_path):
    o = killed_and_resumed
    cfg = tmp_path / "loop.yaml"
    cfg.write_text(o["cfg"].read_text().replace("budget: 6", "budget: 5"))
    proc = subprocess.run([sys.executable, "-m", "models.loop", str(cfg)], cwd=ROOT, capture_output=True, text=True,
                          env=_env(), timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: gen_001: stage select finished with other inputs")


def _rerun_forced(tmp_path, text: str, work: Path, before: dict, keep_out=(), timeout=300):
    """Run the loop YAML TEXT with --force over WORK; every stage of the generations in BEFORE (their manifests)
    must be left as it was, except the (generation, stage) pairs in KEEP_OUT."""
    cfg = tmp_path / "loop.yaml"
    cfg.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "models.loop", str(cfg), "--force"], cwd=ROOT, capture_output=True,
                          text=True, env=_env(), timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    for g, m in before.items():
        for stage, st in m["stages"].items():
            if (g, stage) not in keep_out:
                assert manifest(work, g)["stages"][stage]["finished"] == st["finished"], (g, stage)
    return proc


def test_entries_from_a_later_generation_leave_finished_generations_alone(killed_and_resumed, tmp_path):
    """A system and a protocol added with from_generation 3 to the finished 2-generation loop: rerun with --force
    (the YAML changed), every finished stage keeps its inputs, so nothing is redone."""
    import shutil

    o = killed_and_resumed
    work = tmp_path / "work"
    shutil.copytree(o["work"], work)
    # and generation 1's training as if interrupted after its members finished: --force must resume it, keeping them
    m1 = manifest(work, 1)
    m1["stages"]["train"]["state"] = "running"
    (work / "gen_001" / "manifest.json").write_text(json.dumps(m1))
    ckpts = sorted((work / "gen_001" / "train").glob("member_*/model.ckpt"))
    mtimes = [c.stat().st_mtime_ns for c in ckpts]
    assert len(ckpts) == 2
    before = {g: manifest(work, g) for g in (0, 1)}
    extra = ("  - {name: au_big, support: hbn, diameter_nm: 1.0, height_ratio: 0.7, margin_A: 3, from_generation: 3}\n"
             "protocols:\n")
    text = o["cfg"].read_text().replace(f"out: {o['work']}", f"out: {work}").replace("protocols:\n", extra)
    text = text.replace("steps: 200}", "steps: 200}\n  - {name: relaxed, kind: heat_transfer, relax: true, "
                                        "steps: 50, from_generation: 3}")
    # and later generations trained longer, fine-tuned: train.by_generation leaves generations 0-1's inputs alone
    assert "val_fraction: 0.15}" in text
    text = text.replace("val_fraction: 0.15}", "val_fraction: 0.15, by_generation: [{from_generation: 3, "
                                                "finetune: true, overrides: [trainer.max_epochs=2]}]}")
    proc = _rerun_forced(tmp_path, text, work, before, keep_out=[(1, "train")])
    assert "starting" not in proc.stdout and "gen 1 train: resuming" in proc.stdout
    assert [c.stat().st_mtime_ns for c in ckpts] == mtimes   # no member trained again


def lj_au_bn(atoms):
    """The teacher's Au-B and Au-N Lennard-Jones (lj/cut 10 Å, unshifted) by hand: energy (eV) and forces (eV/Å)."""
    from ase.neighborlist import neighbor_list

    i, j, d, vec = neighbor_list("ijdD", atoms, 10.0)
    sym = np.array(atoms.get_chemical_symbols())
    energy, forces = 0.0, np.zeros((len(atoms), 3))
    for other, (eps, sigma) in (("B", (0.0036333, 3.2856)), ("N", (0.0022495, 3.0972))):
        m = (sym[i] == "Au") & (sym[j] == other)          # each Au-X pair once
        sr6 = (sigma / d[m]) ** 6
        energy += float((4 * eps * (sr6 ** 2 - sr6)).sum())
        push = (24 * eps * (2 * sr6 ** 2 - sr6) / d[m] ** 2)[:, None] * vec[m]   # -dE/dr along r_j - r_i
        np.add.at(forces, i[m], -push)
        np.add.at(forces, j[m], push)
    return energy, forces


def test_a_baseline_from_a_later_generation(killed_and_resumed, tmp_path):
    """train.by_generation adds the Lennard-Jones baseline from generation 2 to the finished loop: generations 0-1
    keep their inputs; generation 2 trains on the labels minus the teacher's Au-B/N Lennard-Jones (checked against
    a sum by hand) and is evaluated on those targets; generation 3 explores with its members overlaid on the
    baseline; models.bundle ships the baseline beside the members."""
    import shutil

    from models.baseline import residual_frames

    o = killed_and_resumed
    work = tmp_path / "work"
    shutil.copytree(o["work"], work)
    before = {g: manifest(work, g) for g in (0, 1)}
    text = o["cfg"].read_text().replace(f"out: {o['work']}", f"out: {work}").replace("generations: 2", "generations: 4")
    text = text.replace("val_fraction: 0.15}", "val_fraction: 0.15, by_generation: [{from_generation: 2, "
                                                "baseline: baseline_lj_au_hbn, overrides: [trainer.max_epochs=2]}]}")
    proc = _rerun_forced(tmp_path, text, work, before, timeout=900)
    base = str(ROOT / "lammps_inputs" / "potentials" / "baseline_lj_au_hbn.in")
    m2, m3 = manifest(work, 2), manifest(work, 3)
    assert m2["stages"]["train"]["outputs"]["baseline"] == base and "labels minus the baseline" in proc.stdout
    # the training targets: the teacher's labels minus its own Au-B/N Lennard-Jones
    train = read(work / "gen_002" / "train" / "data" / "train.extxyz", index=":")
    from models.data import frame_uid

    labels = {frame_uid(f): f for g in range(3) for f in read(work / f"gen_{g:03d}" / "labels.extxyz", index=":")}
    checked = 0
    for f in train:
        ref = labels[frame_uid(f)]
        e_lj, f_lj = lj_au_bn(ref)
        assert f.get_potential_energy() == pytest.approx(ref.get_potential_energy() - e_lj, abs=1e-6)
        np.testing.assert_allclose(f.get_forces(), ref.get_forces() - f_lj, atol=1e-6)
        checked += abs(e_lj) > 1e-3   # frames with particle and support
    assert checked >= 3
    # evaluated on those targets: the fixed test split minus the baseline
    from models.ensemble import Ensemble
    from models.metrics import evaluate

    test = read(work / "gen_000" / "train" / "data" / "test.extxyz", index=":")
    mine = evaluate(Ensemble([str(m) for m in sorted((work / "gen_002" / "deploy").glob("member_*.nequip.pth"))]),
                    residual_frames(test, base, ["Au", "B", "N"]))["ensemble"]
    assert m2["metrics"]["test"]["ensemble"]["force_rmse_eV_per_A"] == pytest.approx(mine["force_rmse_eV_per_A"])
    # generation 3 explored generation 2's members overlaid on the baseline; generation 2 explored without
    out3 = (work / "gen_003" / "explore" / "au_hbn_anneal_600K" / "lammps.out").read_text()
    out2 = (work / "gen_002" / "explore" / "au_hbn_anneal_600K" / "lammps.out").read_text()
    assert f"NequIP overlaid on the baseline {base}" in out3 and "overlaid" not in out2
    assert m3["stages"]["explore"]["inputs"]["baseline_hash"] and "baseline_hash" not in m2["stages"]["explore"]["inputs"]
    dest = tmp_path / "bundle"
    p = subprocess.run([sys.executable, "-m", "models.bundle", str(work), str(dest)], cwd=ROOT, capture_output=True,
                       text=True, env=_env())
    assert p.returncode == 0 and "+ baseline.in" in p.stdout, p.stdout + p.stderr
    assert (dest / "baseline.in").read_text() == Path(base).read_text()
    assert json.loads((dest / "metrics.json").read_text())["baseline"]["from"] == base
    # a baseline that is not an overlay template: one line, naming it
    y = tmp_path / "bad.yaml"
    y.write_text(text.replace("baseline: baseline_lj_au_hbn", "baseline: classical_au_hbn"))
    from models.loop import LoopError, load_config

    with pytest.raises(LoopError, match=r"baseline: .*classical_au_hbn.in: not a baseline file"):
        load_config(y)
    y.write_text(text.replace("baseline: baseline_lj_au_hbn", "baseline: nope"))
    with pytest.raises(LoopError, match="baseline nope: file not found"):
        load_config(y)


def test_emt_and_lammps_labellers_store_once(tmp_path):
    from ase.calculators.emt import EMT

    from models.loop import label_frames

    rng = np.random.default_rng(0)
    frames = []
    for k in range(3):
        a = bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 1, 1))
        a.positions += rng.normal(scale=0.1, size=a.positions.shape)
        a.info.update({"source": "test", "frame": k, "generation": 1})
        frames.append(a)
    db = tmp_path / "emt.db"
    out = label_frames(frames, {"kind": "emt"}, db, ["Au"], progress=lambda *a: None)
    assert len(out) == 3
    for a, lab in zip(frames, out):
        ref = a.copy()
        ref.calc = EMT()
        np.testing.assert_allclose(lab.get_forces(), ref.get_forces(), atol=1e-10)
        assert lab.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-10)
        assert lab.info["generation"] == 1
    again = label_frames(frames + [frames[0]], {"kind": "emt"}, db, ["Au"], progress=lambda *a: None)
    assert len(again) == 4 and connect(str(db)).count() == 3
    pot = str(ROOT / "lammps_inputs/potentials/classical_au_hbn.in")
    out = label_frames(frames[:2], {"kind": "lammps", "potential": pot}, tmp_path / "l.db", ["Au", "B", "N"],
                       progress=lambda *a: None)
    emt_f = [f.get_forces() for f in again[:2]]
    assert len(out) == 2 and not np.allclose(out[0].get_forces(), emt_f[0], atol=1e-3)  # EAM, not EMT
    bad = frames[0].copy()
    bad.symbols[0] = "Cu"  # not a type of the classical Au/hBN potential: recorded as failed, batch goes on
    out = label_frames([bad, frames[2]], {"kind": "lammps", "potential": pot}, tmp_path / "l.db", ["Au", "B", "N"],
                       progress=lambda *a: None)
    assert len(out) == 1 and connect(str(tmp_path / "l.db")).count(status="failed") == 1


def test_a_labeller_that_fails_every_frame_stops_the_loop(tmp_path):
    """Every candidate failing (a broken labeller, e.g. an element the potential lacks) is an error with the first
    reason, not a generation trained on nothing new."""
    from models.data import write_frames
    from models.loop import Generation, LoopError, stage_label

    pot = str(ROOT / "lammps_inputs/potentials/classical_au_hbn.in")
    cfg = {"initial": {"data": None}, "type_names": ["Au", "B", "N"],
           "labeller": {"kind": "lammps", "potential": pot}}
    gen = Generation(tmp_path, 1)
    gen.save()
    cands = [bulk("Cu", "fcc", a=3.6, cubic=True), bulk("Cu", "fcc", a=3.7, cubic=True)]
    for k, a in enumerate(cands):
        a.info.update({"source": "test", "frame": k, "generation": 1, "reason": "trust window"})
    write_frames(gen.dir / "candidates.extxyz", cands)
    with pytest.raises(LoopError, match="all 2 frames failed to label"):
        stage_label(cfg, gen, progress=lambda *a: None)
    assert not (gen.dir / "labels.extxyz").exists()


def test_gpaw_labeller_loop_step_on_two_atom_cells(tmp_path):
    pytest.importorskip("gpaw", reason="GPAW is installed by scripts/setup.sh unless BEAMHEAT_SKIP_GPAW=1")
    from ase import Atoms

    from models.loop import Generation, stage_label

    cfg = {"initial": {"data": None}, "type_names": ["H", "Li"],
           "labeller": {"kind": "gpaw", "settings": {"ecut_eV": 250.0}, "ranks_per_calc": None}}
    gen = Generation(tmp_path, 1)
    gen.save()
    cands = [Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]]), bulk("Li", "bcc", a=3.45, cubic=True)]
    for k, a in enumerate(cands):
        a.info.update({"source": "test", "frame": k, "generation": 1, "reason": "trust window"})
    from models.data import write_frames

    write_frames(gen.dir / "candidates.extxyz", cands)
    out = stage_label(cfg, gen, progress=lambda *a: None)
    assert out["n_labelled"] == 2 and out["n_failed"] == 0
    frames = read(gen.dir / "labels.extxyz", index=":")
    assert np.abs(frames[0].get_forces()).max() > 0.01 and len(frames[1]) == 2
    rows = list(connect(str(gen.dir / "labels.db")).select())
    assert {r.status for r in rows} == {"done"} and {r.generation for r in rows} == {1}
    assert all(r.settings_hash for r in rows)  # dft.label's schema
    assert sorted(p.stem for p in (gen.dir / "gpaw").glob("*.txt")) == sorted(r.uid for r in rows)  # GPAW's output
    again = stage_label(cfg, gen, progress=lambda *a: None)  # resumed: nothing recomputed
    assert again["labels_hash"] == out["labels_hash"] and connect(str(gen.dir / "labels.db")).count() == 2
    # a new run folder whose labeller reuses this database: the same candidates are copied, not computed
    # (wall_time_s is the original calculation's)
    other = Generation(tmp_path / "new", 1)
    other.save()
    write_frames(other.dir / "candidates.extxyz", cands)
    cfg_reuse = dict(cfg, labeller=dict(cfg["labeller"], reuse=[str(gen.dir / "labels.db")]))
    copied = stage_label(cfg_reuse, other, progress=lambda *a: None)
    assert copied["labels_hash"] == out["labels_hash"]
    old = {r.uid: r.wall_time_s for r in connect(str(gen.dir / "labels.db")).select()}
    assert {r.uid: r.wall_time_s for r in connect(str(other.dir / "labels.db")).select()} == old


def test_scan_protocol_labels_every_rigid_gap(tmp_path):
    """protocol kind scan: rigid particle-support copies at each gap (only the gap changes within a copy), each
    frame with the ensemble's sigma_F; select takes them all whatever their sigma_F; the teacher's labels along a
    copy give a binding well (the adhesion the loop must teach), and the scan is not counted as dynamics."""
    from models.loop import (explore_jobs, scan_selected, explore_summary, label_frames, load_config,
                             run_explore_jobs)

    gaps = [2.6, 3.2, 4.0, 6.5]
    y = tmp_path / "loop.yaml"
    y.write_text(YAML.format(out=tmp_path / "w").replace(
        "steps: 200}", f"steps: 200}}\n  - {{name: adhesion, kind: scan, gaps_A: {gaps}, shifts: 2}}"))
    cfg = load_config(y)
    work = Path(cfg["out"])
    models = sorted((ROOT / "models" / "bundled" / "au_hbn").glob("member_*.nequip.pth"))[:2]
    jobs = [j for j in explore_jobs(cfg, work, work / "gen_001", 1, models) if "scan" in j]
    assert [j["name"] for j in jobs] == ["au_hbn_adhesion"]
    res = run_explore_jobs(jobs, progress=lambda *a: None)[0]
    frames = read(res["scan"], index=":")
    assert res["n_frames"] == len(frames) == 2 * len(gaps)
    assert np.isfinite(res["binding_spread_eV"]) and res["binding_spread_eV"] >= 0
    p = np.array(frames[0].get_chemical_symbols()) == "Au"
    for c in range(2):
        copy = frames[c * len(gaps):(c + 1) * len(gaps)]
        for gap, f in zip(gaps, copy):
            z = f.positions[:, 2]
            assert z[p].min() - z[~p].max() == pytest.approx(gap, abs=1e-9)
            assert f.arrays["sigma_f"].shape == (len(f),) and (f.arrays["sigma_f"] >= 0).all()
            np.testing.assert_allclose(f.positions[~p], copy[0].positions[~p], atol=1e-12)   # support untouched
            inner = f.positions[p] - f.positions[p].mean(axis=0)
            np.testing.assert_allclose(inner, copy[0].positions[p] - copy[0].positions[p].mean(axis=0), atol=1e-9)
    assert not np.allclose(frames[0].positions, frames[len(gaps)].positions)          # copies differ
    picked = scan_selected(res["name"], frames, 1)
    assert len(picked) == len(frames) and {f.info["reason"] for f in picked} == {"scan"}
    summary = explore_summary(cfg, [res])
    assert summary["n_runs"] == 1 and summary["n_frames"] == 0 and summary["accurate_fraction"] is None
    lab = label_frames(picked, cfg["labeller"], tmp_path / "l.db", cfg["type_names"], progress=lambda *a: None)
    e = np.array([f.get_potential_energy() for f in lab]).reshape(2, len(gaps))
    binding = e - e[:, -1:]
    assert (binding[:, 1] < -0.1).all() and (binding[:, 1] < binding[:, 0]).all()   # a well near 3.2 Å
    for bad, msg in (("gaps_A: [3.0]", "gaps_A must list at least two gaps"),
                     ("shifts: 0", "shifts must be a whole number >= 1"),
                     ("rattle_A: -1", r"rattle_A must be a number >= 0 \(Å\)")):
        y.write_text(YAML.format(out=tmp_path / "w").replace(
            "steps: 200}", f"steps: 200}}\n  - {{name: adhesion, kind: scan, {bad}}}"))
        with pytest.raises(Exception, match=msg):
            load_config(y)
