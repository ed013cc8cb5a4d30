"""The stages of a generation, explore -> select -> label -> train -> deploy -> evaluate, each a function of the
configuration and the generation's folder that returns the outputs its manifest records; and run_loop, which runs
them generation by generation with the inputs each stage is hashed by (a finished stage whose inputs changed is
redone only with --force)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from models.data import file_hash, read_labelled, write_frames
from models.loop.config import LoopError, for_generation, train_for_generation
from models.loop.distribute import label_on_ranks, run_explore_jobs
from models.loop.exploration import explore_jobs, explore_summary, read_dump
from models.loop.figures import figures
from models.loop.labellers import self_comm
from models.loop.manifest import Generation, content_hash, files_hash, generation_models, run_stage, yaml_hash
from models.loop.status import history, status_table
from models.loop.structures import initial_structures


def stage_explore(cfg, work: Path, gen: Generation, models: list[Path], progress=print, world=None) -> dict:
    """Generation GEN's exploration runs with the previous generation's MODELS (on WORLD's ranks when given); the
    summary explore_summary gives."""
    jobs = explore_jobs(cfg, work, gen.dir, gen.g, models)
    results = run_explore_jobs(jobs, world, int(cfg["explore"]["ranks_per_run"]), progress)
    return explore_summary(cfg, results)


def scan_selected(name: str, frames: list, g: int) -> list:
    """Every frame of a scan goes to the labeller, whatever its sigma_F (the point of a scan: its error is in the
    energy differences, which sigma_F does not see), with provenance as select_frames gives it."""
    from models.select import picked_frame

    return [picked_frame(f, f"{name}/scan.extxyz", k, "scan", g, gap_A=float(f.info["gap_A"]))
            for k, f in enumerate(frames)]


def stage_select(cfg, gen: Generation, progress=print) -> dict:
    """models.select's rules over the generation's dumps and halt files, plus every scan frame: candidates.extxyz."""
    from ase.io import read

    from models.select import SelectionRule, select_frames

    s = cfg["select"]
    sources = []
    scans = []
    for name in gen.stage("explore")["outputs"]["runs"]:
        res = json.loads((gen.dir / "explore" / name / "result.json").read_text())
        if res.get("scan"):
            scans += scan_selected(name, read(res["scan"], index=":"), gen.g)
            continue
        frames = read_dump(Path(res["dump"]), cfg["type_names"])
        if frames:
            sources.append((f"{name}/explore.dump", frames))
        if res["halt_file"]:
            sources.append((f"{name}/halt.extxyz", read(res["halt_file"], index=":")))
    rule = SelectionRule(s["lo"], s["hi"], s["top_k"], s["last_n"], s["min_gap"], cap=s["budget"])
    picked = select_frames(sources, rule, gen.g) if sources else []
    n_halt = sum(f.info["reason"] == "halt" for f in picked)
    progress(f"  selected {len(picked)} frames ({n_halt} from halts) from {len(sources)} source(s)"
             + (f", and all {len(scans)} scan frames" if scans else ""))
    picked += scans
    write_frames(gen.dir / "candidates.extxyz", picked)
    return {"n_selected": len(picked), "n_halt": n_halt, "n_scan": len(scans),
            "candidates": str(gen.dir / "candidates.extxyz"),
            "candidates_hash": file_hash(gen.dir / "candidates.extxyz")}


def in_hold_out(info: dict, hold_out: list[dict]) -> bool:
    """Whether a frame's INFO matches all the keys of one of the HOLD_OUT maps (numbers compared as numbers)."""
    def same(x, y) -> bool:
        try:
            return float(x) == float(y)
        except (TypeError, ValueError):
            return str(x) == str(y)
    return any(all(k in info and same(info[k], v) for k, v in m.items()) for m in hold_out)


def stage_label(cfg, gen: Generation, progress=print, world=None) -> dict:
    """Generation 0: the given data set, or builder structures labelled; later: the candidates labelled. Into
    labels.db (one row per frame) and labels.extxyz; all frames failing is an error."""
    from ase.io import read

    out = gen.dir / "labels.extxyz"
    if gen.g == 0 and cfg["initial"]["data"]:
        frames = read_labelled(cfg["initial"]["data"])
        kept = [f for f in frames if not in_hold_out(f.info, cfg["initial"]["hold_out"])]
        for f in kept:  # the data set's own info (a candidate's kind, system, gap) stays with the frame
            f.info.pop("uid", None)
            f.info.update({"source": "initial:data", "generation": 0})
        progress(f"  generation 0 from the given data set: {len(kept)} labelled frames"
                 + (f" ({len(frames) - len(kept)} held out: initial.hold_out)" if len(kept) < len(frames) else ""))
        frames = kept
    else:
        if gen.g == 0:
            cands = initial_structures(cfg)
            write_frames(gen.dir / "candidates.extxyz", cands)
        else:
            cands = read(gen.dir / "candidates.extxyz", index=":") if (gen.dir / "candidates.extxyz").stat().st_size \
                else []
        frames = label_on_ranks(cands, cfg["labeller"], gen.dir / "labels.db", cfg["type_names"], progress=progress,
                                world=world)
    n_failed = 0
    if (gen.dir / "labels.db").exists():
        from ase.db import connect

        db = connect(str(gen.dir / "labels.db"))
        n_failed = db.count(status="failed")
        if not frames and n_failed:  # a broken labeller, not hard frames: stop before training on nothing new
            first = next(db.select(status="failed")).get("error", "no reason recorded")
            raise LoopError(f"{gen.dir / 'labels.db'}: all {n_failed} frames failed to label ({first}); fix the "
                            f"labeller, delete the failed rows (or the database) and run the loop again")
    write_frames(out, frames)
    return {"n_labelled": len(frames), "n_failed": n_failed, "labels": str(out), "labels_hash": file_hash(out)}


def _label_files(work: Path, g: int) -> list[Path]:
    return [work / f"gen_{k:03d}" / "labels.extxyz" for k in range(g + 1)]


def stage_train(cfg, work: Path, gen: Generation, force: bool = False, progress=print) -> dict:
    """models.train's ensemble on the labels of generations 0..g (minus the baseline), generation 0's test split
    kept; FORCE retrains members that finished with other inputs."""
    from models.train import train_ensemble

    t = cfg["train"]
    files = [p for p in _label_files(work, gen.g) if p.stat().st_size > 0]
    if t["baseline"]:
        progress(f"  training targets: labels minus the baseline {t['baseline']}")
        files = [_residual(work, p, t["baseline"], cfg["type_names"]) for p in files]
    split = work / "gen_000" / "train" / "split.json" if gen.g > 0 else None
    prev = work / f"gen_{gen.g - 1:03d}" / "train" if (gen.g > 0 and t["finetune"]) else None
    r = train_ensemble(config=t["config"], data=files, out=gen.dir / "train", members=int(t["ensemble"]),
                       overrides=list(t["overrides"]), seed=int(t["seed"]), test_fraction=float(t["test_fraction"]),
                       val_fraction=float(t["val_fraction"]), split=split, type_names=cfg["type_names"],
                       finetune=prev, evaluate=False, force=force, energy_shifts=t["energy_shifts"],
                       progress=progress)
    out = {"n_train": r["n_train"], "n_val": r["n_val"], "n_test": r["n_test"],
           "checkpoints_hash": files_hash(r["members"])}
    if t["baseline"]:
        out["baseline"] = t["baseline"]  # models.bundle ships it beside the members
    return out


def _residual(work: Path, labels: Path, baseline: str, type_names) -> Path:
    """LABELS minus BASELINE (models.baseline), cached in OUT/baseline by both files' hashes."""
    from models.baseline import residual_file

    return residual_file(labels, baseline, type_names, work / "baseline", self_comm())


def _targets(cfg, work: Path, labels: Path, g: int) -> list:
    """The labelled frames of LABELS as generation g's members predict them: minus the baseline they were trained
    with (the cached file _residual writes)."""
    b = train_for_generation(cfg, g)["baseline"]
    return read_labelled(_residual(work, labels, b, cfg["type_names"]) if b else labels)


def stage_deploy(gen: Generation, progress=print) -> dict:
    """Every trained member compiled (models.deploy) into GEN/deploy."""
    from models.deploy import deploy_ensemble_subprocess

    progress(f"  compiling the ensemble in {gen.dir / 'deploy'}")
    files = deploy_ensemble_subprocess(gen.dir / "train", gen.dir / "deploy")
    return {"models": [str(f) for f in files], "models_hash": files_hash(files)}


def stage_evaluate(cfg, work: Path, gen: Generation, progress=print) -> dict:
    """Metrics on the fixed test split and the validation split, the previous ensemble on the new labels, the
    exploration statistics, and the figures; recorded in the manifest's metrics."""
    from models.ensemble import Ensemble
    from models.metrics import evaluate, public

    figdir = gen.dir / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    metrics = {}
    test = work / "gen_000" / "train" / "data" / "test.extxyz"
    ens = Ensemble([str(m) for m in generation_models(work, gen.g)])
    if test.exists() and test.stat().st_size > 0:  # generation 0's frames: as labelled
        metrics["test"] = public(evaluate(ens, _targets(cfg, work, test, gen.g)))
    val = gen.dir / "train" / "data" / "val.extxyz"  # this generation's targets: ranks the members (models.bundle)
    if val.exists() and val.stat().st_size > 0:
        metrics["validation"] = public(evaluate(ens, read_labelled(val)))
    new = None
    if gen.g > 0:
        labels = gen.dir / "labels.extxyz"
        if labels.stat().st_size > 0:
            prev = Ensemble([str(m) for m in generation_models(work, gen.g - 1)])
            new = evaluate(prev, _targets(cfg, work, labels, gen.g - 1))
            metrics["new_frames_previous_ensemble"] = public(new)
            np.savez(gen.dir / "new_frames_sigma_delta.npz", sigma_f=new["_sigma_f"], delta_f=new["_delta_f"])
        metrics["explore"] = {k: v for k, v in gen.stage("explore")["outputs"].items() if k != "runs"}
    metrics["n_train"] = gen.stage("train")["outputs"]["n_train"]
    gen.m["metrics"] = metrics
    gen.save()
    metrics["figures"] = figures(cfg, work, gen, new)
    t = metrics.get("test", {}).get("ensemble", {})
    if t:
        progress(f"  fixed test split: force RMSE {t['force_rmse_eV_per_A']:.4g} eV/Å, |dF| RMSE "
                 f"{t['force_error_rmse_eV_per_A']:.4g} eV/Å, energy MAE {t['energy_mae_eV_per_atom']:.4g} eV/atom")
    if new is not None:
        e = new["ensemble"]
        progress(f"  new frames (ensemble of gen {gen.g - 1}): |dF| RMSE {e['force_error_rmse_eV_per_A']:.4g} eV/Å, "
                 f"Spearman(sigma_F, dF) per atom {e['spearman_sigma_delta']}, per frame (max) "
                 f"{e.get('spearman_frame_max_sigma_delta')}")
    return metrics




# ------------------------------------------------------------------------------------------------ stage inputs
# What each stage's manifest entry is hashed by (manifest.run_stage): a finished stage is redone only when these
# change. They are part of a run folder's identity: a change here makes every finished run folder refuse to resume
# without --force.
def explore_inputs(cfg: dict, g: int, models: list[Path]) -> dict:
    cfg_g = for_generation(cfg, g)
    out = {"models_hash": files_hash(models), "systems": cfg_g["systems"], "protocols": cfg_g["protocols"],
           "explore": {k: v for k, v in cfg["explore"].items() if k != "ranks_per_run"},  # results do not depend on it
           "lo": cfg["select"]["lo"], "type_names": cfg["type_names"]}
    baseline = train_for_generation(cfg, g - 1)["baseline"]  # the explored members run with their own baseline
    if baseline:
        out["baseline_hash"] = file_hash(baseline)
    return out


def select_inputs(cfg: dict, explore_outputs: dict) -> dict:
    return {"explore_hash": content_hash(explore_outputs), "select": cfg["select"]}


def label_inputs(cfg: dict, g: int, candidates_hash: str | None = None) -> dict:
    # an empty hold_out is left out: the hashes of run folders made before the key existed stay valid
    initial = {k: v for k, v in cfg["initial"].items() if k != "hold_out" or v}
    out = {"candidates_hash": candidates_hash} if g > 0 else {"initial": initial, "type_names": cfg["type_names"]}
    # labeller.reuse copies labels that the labeller would compute: not an input of the labels
    lab = {k: v for k, v in cfg["labeller"].items() if k != "reuse"}
    out["labeller"] = lab if not cfg["initial"]["data"] or g > 0 else None
    if g == 0 and cfg["initial"]["data"]:  # a data set that grew is a changed input, not a finished stage
        data = cfg["initial"]["data"]
        out["data_hash"] = file_hash(data) if isinstance(data, str) else [file_hash(f) for f in data]
    return out


def train_inputs(cfg: dict, work: Path, g: int) -> dict:
    """From the train settings of generation g and the label, split and (fine-tuning) checkpoint hashes recorded in
    the manifests of generations 0..g."""
    t = train_for_generation(cfg, g)
    labels_hash = [Generation(work, k).stage("label")["outputs"]["labels_hash"] for k in range(g + 1)]
    # baseline: null and energy_shifts: config are left out, so that the inputs of loops without them keep their hash
    out = {"labels_hash": labels_hash,
           "train": {k: v for k, v in t.items() if not (k == "baseline" and not v)
                     and not (k == "energy_shifts" and v == "config")},
           "config_hash": yaml_hash(t["config"]), "type_names": cfg["type_names"]}
    if t["baseline"]:
        out["baseline_hash"] = file_hash(t["baseline"])
    if g > 0:
        out["split_hash"] = file_hash(work / "gen_000" / "train" / "split.json")
        if t["finetune"]:
            out["previous"] = Generation(work, g - 1).stage("train")["outputs"]["checkpoints_hash"]
    return out


def deploy_inputs(train_outputs: dict) -> dict:
    return {"checkpoints_hash": train_outputs["checkpoints_hash"]}


def evaluate_inputs(cfg: dict, deploy_outputs: dict) -> dict:
    return {"models_hash": deploy_outputs["models_hash"], "lo": cfg["select"]["lo"], "hi": cfg["select"]["hi"]}


# ------------------------------------------------------------------------------------------------ the loop
def save_config(cfg: dict, work: Path, force: bool, progress=print) -> None:
    """WORK/loop.yaml: the configuration the loop ran with (written once, or again with FORCE); a note when the
    current one differs."""
    import yaml

    saved = work / "loop.yaml"
    text = yaml.safe_dump(cfg, sort_keys=True)
    if saved.exists() and saved.read_text() != text and not force:
        progress(f"note: the loop configuration differs from {saved}; stages whose inputs changed will be refused "
                 f"unless --force")
    if not saved.exists() or force:
        tmp = saved.with_name(".loop.yaml.part")
        tmp.write_text(text)
        tmp.replace(saved)


def run_generation(cfg: dict, work: Path, g: int, *, force: bool = False, progress=print, world=None) -> Generation:
    """Every stage of generation g not done yet with its current inputs."""
    gen = Generation(work, g)
    gen.save()
    candidates_hash = None
    if g > 0:
        models = generation_models(work, g - 1)
        cfg_g = for_generation(cfg, g)
        out = run_stage(gen, "explore", explore_inputs(cfg, g, models),
                        lambda: stage_explore(cfg_g, work, gen, models, progress, world), force, progress)
        run_stage(gen, "select", select_inputs(cfg, out), lambda: stage_select(cfg, gen, progress), force, progress)
        candidates_hash = gen.stage("select")["outputs"]["candidates_hash"]
    run_stage(gen, "label", label_inputs(cfg, g, candidates_hash), lambda: stage_label(cfg, gen, progress, world),
              force, progress)
    cfg_t = {**cfg, "train": train_for_generation(cfg, g)}
    tr = run_stage(gen, "train", train_inputs(cfg, work, g),
                   lambda: stage_train(cfg_t, work, gen, gen.redo, progress), force, progress)
    dep = run_stage(gen, "deploy", deploy_inputs(tr), lambda: stage_deploy(gen, progress), force, progress)
    run_stage(gen, "evaluate", evaluate_inputs(cfg, dep), lambda: stage_evaluate(cfg, work, gen, progress), force,
              progress)
    gen.m["counts"] = {"n_labelled": gen.stage("label")["outputs"]["n_labelled"], "n_train": tr["n_train"]}
    gen.save()
    return gen


def run_loop(cfg: dict, force: bool = False, progress=print, world=None) -> list[dict]:
    """Run (or resume) the loop. WORLD: an mpi4py communicator whose ranks > 0 wait in explore_worker; exploration
    runs are then spread over them (everything else runs here, on rank 0)."""
    if not int(cfg["explore"]["ranks_per_run"]) >= 1:
        raise LoopError("explore.ranks_per_run must be >= 1")
    work = Path(cfg["out"])
    work.mkdir(parents=True, exist_ok=True)
    save_config(cfg, work, force, progress)
    acc = cfg["stop"]["accurate_fraction"]
    for g in range(int(cfg["stop"]["generations"])):
        gen = run_generation(cfg, work, g, force=force, progress=progress, world=world)
        if g > 0 and acc is not None:
            frac = gen.stage("explore")["outputs"]["accurate_fraction"]
            if frac is not None and frac >= acc:
                progress(f"converged: {frac:.2f} of the exploration frames have max sigma_F < lo (>= {acc})")
                break
    print(status_table(work))
    return history(work)
