"""Bundle the last generation of an active-learning loop (models.loop) as a ready ensemble folder.

    python -m models.bundle runs/bundled_au_hbn models/bundled/au_hbn [--generation N] [--force]

Copies the deployed members (member_*.nequip.pth, portable TorchScript) of the last generation whose deploy and
evaluate stages are done (or --generation N), best first: member_0 is the member with the smallest force error
(RMSE of |F - F_ref|) on that generation's validation split (GEN/train/data/val.extxyz, frames of every
generation), because `pair_style nequip ensemble first` lets member_0 alone drive the dynamics (--keep-order copies
them in the loop's order). It writes every configuration the loop labelled, once (all generations'
labels.extxyz, teacher energies and forces; a frame a later generation copied is not repeated) to labels.extxyz.gz,
and metrics.json: per generation the counts, the
fixed-test-split errors of each member and of the ensemble, the exploration's halted fraction, the file hashes,
and under "order" where each member came from with its validation error. When that generation was trained on labels
minus a long-range baseline (the loop's train.baseline), the baseline goes beside the members as baseline.in, which
potentials/nequip.in overlays on them; labels.extxyz.gz keeps the teacher's full energies and forces.
Each member also goes in as member_K.nequip.zip, nequip's portable package of the same checkpoint (nequip-package
build), from which `python -m models.accelerate` compiles the members for the machine they run on (AOTInductor,
1.7x faster than TorchScript in the main job).
The loop's YAML, README and the rest of DEST are left as they are; existing member files, labels or metrics are
replaced only with --force.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
from pathlib import Path

from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import write_json

from models.data import file_hash, read_labelled
from models.loop import validation_errors


def generations(loop_dir: Path) -> list[dict]:
    out = []
    for d in sorted(loop_dir.glob("gen_[0-9][0-9][0-9]")):
        path = d / "manifest.json"
        if path.is_file():
            try:
                m = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                raise UserError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
            m["dir"] = d
            out.append(m)
    if not out:
        raise UserError(f"{loop_dir}: no generation folders (gen_NNN/manifest.json); run python -m models.loop first")
    return out


def finished(m: dict) -> bool:
    st = m.get("stages", {})
    return all(st.get(s, {}).get("state") == "done" for s in ("deploy", "evaluate"))


def gen_summary(m: dict) -> dict:
    test = m.get("metrics", {}).get("test", {})
    ens = test.get("ensemble", {})
    return {"generation": m["generation"], "counts": m.get("counts", {}),
            "test_frames": test.get("n_frames"), "test_atoms": test.get("n_atoms"),
            "members": test.get("members", []), "ensemble": ens,
            "explore": m.get("metrics", {}).get("explore", {}),
            "spearman": m.get("metrics", {}).get("spearman", m.get("metrics", {}).get("rho", {})),
            "wall_s": {s: v.get("wall_s") for s, v in m.get("stages", {}).items()}}


def package(checkpoint: Path, out: Path) -> None:
    """models.deploy --format package in a fresh interpreter (nequip sets process-wide state while loading)."""
    from models.deploy import deploy_subprocess

    deploy_subprocess(checkpoint, out, "package")


def bundle(loop_dir: Path, dest: Path, generation: int | None = None, force: bool = False,
           keep_order: bool = False) -> dict:
    gens = generations(loop_dir)
    if generation is None:
        done = [m for m in gens if finished(m)]
        if not done:
            raise UserError(f"{loop_dir}: no generation has finished deploy and evaluate yet")
        chosen = done[-1]
    else:
        match = [m for m in gens if m["generation"] == generation]
        if not match or not finished(match[0]):
            raise UserError(f"{loop_dir}: generation {generation} does not exist or has not finished deploy/evaluate")
        chosen = match[0]
    models = [Path(p) for p in chosen["stages"]["deploy"]["outputs"]["models"]]
    missing = [str(p) for p in models if not p.is_file()]
    if missing:
        raise UserError(f"{missing[0]}: deployed member missing (re-run python -m models.loop)")
    errors = None if keep_order else validation_errors(chosen["dir"], chosen, models)
    order = sorted(range(len(models)), key=lambda j: errors[j]) if errors else list(range(len(models)))
    dest.mkdir(parents=True, exist_ok=True)
    baseline = chosen["stages"].get("train", {}).get("outputs", {}).get("baseline")
    if baseline and not Path(baseline).is_file():
        raise UserError(f"{baseline}: the baseline generation {chosen['generation']} was trained with is missing")
    checkpoints = [chosen["dir"] / "train" / p.name.split(".")[0] / "model.ckpt" for p in models]
    missing = [str(c) for c in checkpoints if not c.is_file()]
    if missing:
        raise UserError(f"{missing[0]}: checkpoint of a deployed member missing (the package is built from it)")
    targets = [dest / f"member_{k}{suffix}" for k in range(len(models)) for suffix in (".nequip.pth", ".nequip.zip")]
    targets += [dest / "labels.extxyz.gz",
                                                                                dest / "metrics.json",
                                                                                dest / "baseline.in"]
    exists = [str(t) for t in targets if t.exists()]
    if exists and not force:
        raise UserError(f"{exists[0]}: exists; refusing to overwrite (--force replaces the bundle)")
    for stale in [*dest.glob("member_*.nequip.pth"), *dest.glob("member_*.nequip.zip")]:
        stale.unlink()
    copies = [(src, dest / f"member_{k}.nequip.pth") for k, src in enumerate(models[j] for j in order)]
    for src, dst in copies + ([(Path(baseline), dest / "baseline.in")] if baseline else []):
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
    for k, j in enumerate(order):
        package(checkpoints[j], dest / f"member_{k}.nequip.zip")
    if not baseline:
        (dest / "baseline.in").unlink(missing_ok=True)  # members without one must not run overlaid on a stale one
    from ase.io import write

    # each configuration once (models.data.read_labelled): a generation's labeller may copy a frame an earlier
    # generation labelled (labeller.reuse), and training counts it once too
    files = [m["dir"] / "labels.extxyz" for m in gens if m["generation"] <= chosen["generation"]]
    files = [f for f in files if f.is_file()]
    labels = read_labelled(files) if files else []
    n_frames = len(labels)
    text = io.StringIO()
    write(text, labels, format="extxyz")
    tmp = dest / ".labels.extxyz.gz.tmp"
    tmp.write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    tmp.replace(dest / "labels.extxyz.gz")
    metrics = {
        "loop": str(loop_dir), "generation": chosen["generation"], "n_members": len(models),
        "members": {f"member_{k}.nequip.pth": file_hash(dest / f"member_{k}.nequip.pth") for k in range(len(models))},
        "packages": {f"member_{k}.nequip.zip": file_hash(dest / f"member_{k}.nequip.zip")
                     for k in range(len(models))},
        "order": [{"member": f"member_{k}.nequip.pth", "from": str(models[j]), "checkpoint": str(checkpoints[j]),
                   "val_force_error_rmse_eV_per_A": errors[j] if errors else None} for k, j in enumerate(order)],
        "order_rule": ("smallest validation force error first (member_0 drives `ensemble first` dynamics)"
                       if errors else "the loop's order"),
        "n_labelled_frames": n_frames,
        "baseline": ({"file": "baseline.in", "from": str(baseline), "hash": file_hash(dest / "baseline.in"),
                      "note": "the members learned the labels minus this; potentials/nequip.in overlays it"}
                     if baseline else None),
        "generations": [gen_summary(m) for m in gens if m["generation"] <= chosen["generation"]],
    }
    write_json(dest / "metrics.json", metrics)
    return metrics


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m models.bundle", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("loop_dir", type=Path, help="the loop's output folder (its YAML's out:)")
    p.add_argument("dest", type=Path, help="the bundle folder, e.g. models/bundled/au_hbn")
    p.add_argument("--generation", type=int, help="bundle this generation (default: the last finished one)")
    p.add_argument("--force", action="store_true", help="replace existing members, labels and metrics in DEST")
    p.add_argument("--keep-order", action="store_true",
                   help="copy the members in the loop's order (default: smallest validation force error first)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    if not a.loop_dir.is_dir():
        raise UserError(f"{a.loop_dir}: no such loop folder")
    m = bundle(a.loop_dir, a.dest, a.generation, a.force, a.keep_order)
    g = m["generations"][-1]
    ens = g.get("ensemble") or {}
    rmse = ens.get("force_rmse_eV_per_A")
    print(f"bundled generation {m['generation']} of {a.loop_dir}: {m['n_members']} members"
          + (f" + baseline.in ({m['baseline']['from']})" if m["baseline"] else "") + ", "
          f"{m['n_labelled_frames']} labelled frames"
          + (f", ensemble force RMSE {rmse:.4f} eV/Å on the fixed test split" if rmse is not None else "")
          + f" -> {a.dest}")
    if m["order"][0]["val_force_error_rmse_eV_per_A"] is not None:
        print("  member order (validation |dF| RMSE, eV/Å): " + ", ".join(
            f"{Path(o['from']).name} {o['val_force_error_rmse_eV_per_A']:.4f}" for o in m["order"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
