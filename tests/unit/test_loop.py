"""models.loop's config: settings that start from a generation, training by generation, and which member drives
the protocols that follow one member; no model is run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loop_config import YAML


def test_for_generation_and_its_checks(tmp_path):
    from models.loop import LoopError, for_generation, load_config

    cfg = {"systems": [{"name": "a"}, {"name": "b", "from_generation": 3}],
           "protocols": [{"kind": "anneal"}, {"kind": "heat_transfer", "relax": True, "from_generation": 2}]}
    assert [s["name"] for s in for_generation(cfg, 1)["systems"]] == ["a"]
    assert len(for_generation(cfg, 2)["protocols"]) == 2 and len(for_generation(cfg, 2)["systems"]) == 1
    assert len(for_generation(cfg, 3)["systems"]) == 2
    for bad, msg in (("from_generation: 0", "from_generation must be a whole number >= 1"),
                     ("from_generation: x", "from_generation must be a whole number >= 1"),
                     ("from_generation: 2, until_generation: 1", r"until_generation must be a whole number >= "
                                                                 r"from_generation \(2\), not 1"),
                     ("until_generation: 1.5", "until_generation must be a whole number"),
                     ("relax: maybe", "relax must be true or false")):
        y = tmp_path / "bad.yaml"
        y.write_text(YAML.format(out=tmp_path / "w").replace("steps: 200}", f"steps: 200, {bad}}}"))
        with pytest.raises(LoopError, match=msg):
            load_config(y)


def test_an_ended_entry_leaves_the_generations_before_its_end_as_they_were():
    """until_generation: a rigid scan labelled in generation 1 only. Generations up to its end explore the entry as
    it was before it had an end (the same explore inputs, so a running loop may be given one); later ones drop it."""
    from models.loop import for_generation
    from models.loop.stages import explore_inputs

    scan = {"kind": "scan", "gaps_A": [3.0, 6.5]}
    cfg = {"systems": [{"name": "a"}], "protocols": [{"kind": "anneal"}, scan],
           "explore": {"dump_every": 20}, "select": {"lo": 0.05}, "type_names": ["Au"], "train": {"baseline": None}}
    ended = {**cfg, "protocols": [{"kind": "anneal"}, {**scan, "until_generation": 1}]}
    assert for_generation(ended, 1)["protocols"] == for_generation(cfg, 1)["protocols"] == [{"kind": "anneal"}, scan]
    assert explore_inputs(ended, 1, []) == explore_inputs(cfg, 1, [])
    assert for_generation(ended, 2)["protocols"] == [{"kind": "anneal"}]
    assert for_generation(cfg, 2)["protocols"] == [{"kind": "anneal"}, scan]
    assert ended["protocols"][1]["until_generation"] == 1          # the configuration itself keeps it


def test_train_by_generation_and_its_checks(tmp_path):
    from models.loop import LoopError, load_config, train_for_generation

    y = tmp_path / "loop.yaml"
    later = ("by_generation: [{from_generation: 3, finetune: true, overrides: [trainer.max_epochs=9]}, "
             "{from_generation: 4, ensemble: 3}]")
    y.write_text(YAML.format(out=tmp_path / "w").replace("val_fraction: 0.15}", f"val_fraction: 0.15, {later}}}"))
    cfg = load_config(y)
    assert "by_generation" not in cfg["train"]           # so finished generations' train inputs stay as they were
    t1, t3, t4 = (train_for_generation(cfg, g) for g in (1, 3, 4))
    assert t1 == cfg["train"] and t1["finetune"] is False and t1["overrides"] == ["trainer.max_epochs=3"]
    assert t3["finetune"] is True and t3["overrides"] == ["trainer.max_epochs=9"] and t3["ensemble"] == 2
    assert t4["finetune"] is True and t4["ensemble"] == 3
    for bad, msg in (("[{finetune: true}]", r"by_generation\[0\].from_generation must be a whole number"),
                     ("[{from_generation: 2, epochs: 3}]", "unknown key 'epochs'"),
                     ("[{from_generation: 2, config: nope.yaml}]", "nope.yaml: file not found"),
                     ("{from_generation: 2}", "must be a list")):
        y.write_text(YAML.format(out=tmp_path / "w").replace("val_fraction: 0.15}",
                                                              f"val_fraction: 0.15, by_generation: {bad}}}"))
        with pytest.raises(LoopError, match=msg):
            load_config(y)


def test_protocols_driven_by_the_first_member_get_the_best_member_first(tmp_path):
    """ensemble: first explores the main job's dynamics: the member with the smallest validation error drives."""
    from models.loop import explore_jobs, load_config, members_best_first

    y = tmp_path / "loop.yaml"
    y.write_text(YAML.format(out=tmp_path / "w").replace(
        "steps: 200}", "steps: 200}\n  - {name: main, kind: heat_transfer, ensemble: first, steps: 50}"))
    cfg = load_config(y)
    work = Path(cfg["out"])
    (work / "gen_000").mkdir(parents=True)
    errors = [0.30, 0.10, 0.20]
    (work / "gen_000" / "manifest.json").write_text(json.dumps({"generation": 0, "stages": {}, "metrics": {
        "validation": {"members": [{"force_error_rmse_eV_per_A": e} for e in errors]}}}))
    models = [tmp_path / f"m{j}.nequip.pth" for j in range(3)]
    assert members_best_first(work, 0, models) == [models[1], models[2], models[0]]
    jobs = {j["name"]: j["var"] for j in explore_jobs(cfg, work, work / "gen_001", 1, models)}
    first, mean = jobs["au_hbn_main_600K"], jobs["au_hbn_anneal_600K"]
    assert first["ensemble"] == "first" and "ensemble" not in mean    # explore.in's default: mean
    assert first["models"].split() == [str(models[k]) for k in (1, 2, 0)]
    assert mean["models"].split() == [str(m) for m in models]
    y.write_text(YAML.format(out=tmp_path / "w").replace("steps: 200}", "steps: 200, ensemble: best}"))
    with pytest.raises(Exception, match="ensemble 'best': choose mean"):
        load_config(y)


def test_generation_0_from_a_data_set_keeps_each_frames_info(tmp_path):
    """initial.data: the labelled frames go into generation 0 with their own info (a DFT candidate's kind, system,
    gap), so that the training splits say what each frame is; source and generation are added."""
    import numpy as np
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import read, write

    from models.loop.manifest import Generation
    from models.loop.stages import stage_label

    frames = []
    for k, gap in enumerate((2.9, 3.5)):
        a = Atoms("AuB", positions=[[0, 0, 0], [0, 0, gap]], cell=[8, 8, 12], pbc=True)
        a.info.update({"kind": "scan", "system": "Au10_hbn", "gap_A": gap, "frame": k})
        a.calc = SinglePointCalculator(a, energy=-1.0 - k, forces=np.zeros((2, 3)))
        frames.append(a)
    data = tmp_path / "labels.extxyz"
    write(data, frames)
    cfg = {"initial": {"data": str(data), "hold_out": []}}
    gen = Generation(tmp_path / "w", 0)
    gen.dir.mkdir(parents=True)
    r = stage_label(cfg, gen, progress=lambda *_: None)
    assert r["n_labelled"] == 2
    out = read(r["labels"], index=":")
    assert [f.info["gap_A"] for f in out] == [2.9, 3.5]
    assert all(f.info["kind"] == "scan" and f.info["source"] == "initial:data" and f.info["generation"] == 0
               and "uid" not in f.info for f in out)
    assert [f.get_potential_energy() for f in out] == [-1.0, -2.0]


def test_generation_0_leaves_the_held_out_frames_untrained(tmp_path):
    """initial.hold_out: frames of the data set whose info matches one of the maps (numbers as numbers) never reach
    generation 0's labels, so bench.dft_validation can use them as frames never trained on."""
    import numpy as np
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import read, write

    from models.loop.manifest import Generation
    from models.loop.stages import in_hold_out, label_inputs, stage_label

    frames = []
    for k, (kind, copy) in enumerate([("scan", 0), ("scan", 1), ("md", None), ("scan", 1), ("particle", 1)]):
        a = Atoms("AuB", positions=[[0, 0, 0], [0, 0, 3 + k]], cell=[8, 8, 12], pbc=True)
        a.info.update({"kind": kind, "frame": k})
        if copy is not None:
            a.info["copy"] = copy
        a.calc = SinglePointCalculator(a, energy=-1.0 - k, forces=np.zeros((2, 3)))
        frames.append(a)
    data = tmp_path / "labels.extxyz"
    write(data, frames)
    hold = [{"kind": "scan", "copy": 1}]
    assert [in_hold_out(a.info, hold) for a in frames] == [False, True, False, True, False]
    assert in_hold_out({"copy": np.int64(1), "kind": "scan"}, [{"copy": 1.0, "kind": "scan"}])
    assert not in_hold_out({"kind": "scan"}, hold)                        # a missing key does not match
    assert not in_hold_out({"kind": "scan", "copy": 1}, [])
    cfg = {"initial": {"data": str(data), "hold_out": hold}}
    gen = Generation(tmp_path / "w", 0)
    gen.dir.mkdir(parents=True)
    r = stage_label(cfg, gen, progress=lambda *_: None)
    assert [f.info["frame"] for f in read(r["labels"], index=":")] == [0, 2, 4]
    # an empty hold_out hashes as before the key existed; a given one is part of generation 0's inputs
    base = {"initial": {"data": str(data), "n_frames": 30}, "type_names": ["Au"], "labeller": {}}
    empty = dict(base, initial=dict(base["initial"], hold_out=[]))
    given = dict(base, initial=dict(base["initial"], hold_out=hold))
    assert label_inputs(empty, 0) == label_inputs(base, 0)
    assert label_inputs(given, 0)["initial"]["hold_out"] == hold
    before = label_inputs(base, 0)["data_hash"]
    write(data, frames[:2])                                             # the data set changed: a changed input
    assert label_inputs(base, 0)["data_hash"] != before


def test_a_run_folder_is_finished_only_for_the_settings_it_ran_with(tmp_path):
    """A protocol changed in the YAML (a scan's gaps, a temperature's steps) reruns that run instead of keeping the
    old result; a result recorded without its settings' hash is kept as it is."""
    from beamheat.io import write_json
    from models.loop.exploration import finished
    from models.loop.manifest import content_hash

    spec = {"gaps_A": [3.0, 3.4, 6.5], "shifts": 1, "seed": 1002}
    h = content_hash(spec)
    assert not finished(tmp_path, h)                                  # nothing ran
    write_json(tmp_path / "result.json", {"name": "x", "spec_hash": h})
    assert finished(tmp_path, h)
    assert not finished(tmp_path, content_hash(dict(spec, gaps_A=[2.6, 2.9])))
    write_json(tmp_path / "result.json", {"name": "x"})
    assert finished(tmp_path, content_hash(dict(spec, gaps_A=[2.6, 2.9])))


def test_status_counts_the_labels_of_a_generation_being_labelled(tmp_path):
    """--status while a (DFT) label stage runs for hours: "K/N", the frames finished in labels.db out of the frames
    selected; the count of the labelled set once the stage is done."""
    from ase import Atoms
    from ase.db import connect

    from models.loop.manifest import Generation
    from models.loop.status import status_table

    g0 = Generation(tmp_path, 0)
    for name in g0.m["stages"]:
        g0.m["stages"][name] = {"state": "done", "outputs": {"n_labelled": 35} if name == "label" else {}}
    g0.save()
    g1 = Generation(tmp_path, 1)
    g1.m["stages"]["explore"] = {"state": "done", "outputs": {}}
    g1.m["stages"]["select"] = {"state": "done", "outputs": {"n_selected": 12}}
    g1.m["stages"]["label"] = {"state": "running"}
    g1.save()
    rows = lambda: {ln.split()[0]: ln.split() for ln in status_table(tmp_path).splitlines()[2:]}  # noqa: E731
    assert rows()["1"][1:3] == ["ES*...", "-"]                    # no database yet
    db = connect(str(g1.dir / "labels.db"), serial=True)
    for k in range(6):
        db.write(Atoms("H", positions=[[0, 0, k]]), status="done")
    assert rows()["1"][1:3] == ["ES*...", "6/12"] and rows()["0"][1:3] == ["LTDV", "35"]
