"""Train NequIP models with nequip's own trainer (`nequip-train`, Hydra config): one model or an ensemble.

    python -m models.train CONFIG.yaml --data FRAMES.extxyz --out RUN_DIR [hydra.key=value ...]
    python -m models.train CONFIG.yaml --data labels.db [more.extxyz ...] --out ENS_DIR --ensemble 5

One model: the run directory receives nequip's checkpoint; `RUN_DIR/model.ckpt` always points at the final one,
ready for `python -m models.deploy`. Extra `key=value` arguments are passed to Hydra unchanged (e.g.
`trainer.max_epochs=5`).

Ensemble (--ensemble M, paper eq. 1-2): M members with identical hyper-parameters and seeds SEED..SEED+M-1 (weights
and data order). Data: ASE databases from dft.label (rows with status 'done') and/or extxyz files. All members share
one train/validation/test split by content hash (ENS_DIR/split.json); `--split OLD/split.json` keeps an earlier
test split fixed (new frames go to train/validation only). Layout: ENS_DIR/data/{train,val,test}.extxyz,
ENS_DIR/member_J/model.ckpt (+ config.yaml, train.log, done.json), ENS_DIR/deployed/member_J.nequip.pth and
ENS_DIR/metrics.json: per member and for the ensemble mean on the test (and validation) split, energy MAE/RMSE
(eV/atom), force MAE/RMSE per component (eV/Å), the RMSE of the force-error magnitude |F - F_ref| (eV/Å), and the
Pearson and Spearman correlation of sigma_F with delta_F per atom. A re-run with the same inputs skips finished
members (a killed run resumes); different inputs in an existing ENS_DIR need --force. `--finetune PREV_ENS_DIR`
starts member J from PREV_ENS_DIR/member_J/model.ckpt instead of random weights. A GPU is used when torch sees one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from beamheat.cli import UserError, run
from beamheat.hashing import stable_hash


class TrainError(UserError):
    pass


def resolve_config(config: str | Path) -> Path:
    """A config path as given, else the file of that name among the installed configs (models/configs), so that
    `models/configs/tiny.yaml` or `tiny.yaml` works from any directory."""
    p = Path(config)
    if p.is_file():
        return p.resolve()
    packaged = Path(__file__).resolve().parent / "configs" / p.name
    if packaged.is_file() and (len(p.parts) == 1 or p.parts[-2:-1] == ("configs",)):
        return packaged
    known = ", ".join(sorted(c.name for c in packaged.parent.glob("*.yaml")))
    raise TrainError(f"{config}: config file not found (installed configs: {known})")


def train(config: str | Path, data: str | Path, out: str | Path, overrides: list[str] = ()) -> Path:
    """Train with `nequip-train`; return the path of the final checkpoint (`OUT/model.ckpt`)."""
    config = resolve_config(config)
    data = Path(data).resolve()
    out = Path(out).resolve()
    if not config.is_file():
        raise TrainError(f"{config}: config file not found")
    if not data.is_file():
        raise TrainError(f"{data}: training data not found")
    out.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("nequip-train", path=str(Path(sys.executable).parent)) or shutil.which("nequip-train")
    if exe is None:
        raise TrainError("nequip-train not found: is nequip installed in this environment?")
    cmd = [exe, "-cp", str(config.parent), "-cn", config.stem,
           f"data_file={data}", f"hydra.run.dir={out}", *overrides]
    print("+", " ".join(cmd), flush=True)
    with open(out / "train.log", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=out)
    if proc.returncode != 0:
        tail = (out / "train.log").read_text().splitlines()[-15:]
        raise TrainError(f"nequip-train failed (exit {proc.returncode}); see {out / 'train.log'}:\n" + "\n".join(tail))
    ckpts = sorted(out.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    ckpts = [c for c in ckpts if c.name != "model.ckpt"]
    if not ckpts:
        raise TrainError(f"{out}: nequip-train finished but wrote no checkpoint")
    final = out / "model.ckpt"
    tmp = out / "model.ckpt.part"
    shutil.copyfile(ckpts[-1], tmp)
    tmp.replace(final)
    return final


ENERGY_SHIFTS = ("config", "lstsq")


def per_type_energy_shifts(frames, type_names) -> dict[str, float]:
    """Per-type energies e_t (eV) that minimise sum over FRAMES of (E - sum_t n_t e_t)^2, n_t the frame's count of
    type t: the share of the energy that the composition explains, by numpy's least squares. Types that always
    come in the same proportion (B and N in hBN) get equal shares, the minimum-norm solution; a type absent from
    the frames gets 0."""
    import numpy as np

    names = list(type_names)
    counts = np.array([[sym.count(t) for t in names] for sym in (f.get_chemical_symbols() for f in frames)], float)
    energies = np.array([f.get_potential_energy() for f in frames], float)
    e, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return {t: float(x) for t, x in zip(names, e)}


def _config_for_member(base: dict, train_file: Path, val_file: Path, seed: int, type_names=None,
                       finetune_ckpt: Path | None = None, energy_shifts: dict | None = None) -> dict:
    """The base Hydra config with explicit train/validation files (the shared split), this member's seed and, when
    given, its per-type energy shifts (per_type_energy_shifts)."""
    import copy

    cfg = copy.deepcopy(base)
    data = cfg.get("data") or {}
    if "split_dataset" in data and isinstance(data["split_dataset"], dict) and "dataset" in data["split_dataset"]:
        ds = data.pop("split_dataset")["dataset"]
    elif "train_dataset" in data:
        ds = data["train_dataset"]
    else:
        raise TrainError("config: data needs split_dataset.dataset or train_dataset (see models/configs/tiny.yaml)")
    data["train_dataset"] = dict(ds, file_path=str(train_file))
    data["val_dataset"] = dict(ds, file_path=str(val_file))
    for key in ("test_dataset", "predict_dataset"):
        data.pop(key, None)
    cfg["data"] = data
    cfg["data_file"] = str(train_file)
    cfg["seed"] = int(seed)
    if type_names:
        cfg["model_type_names"] = list(type_names)
    if energy_shifts is not None:
        model = (cfg.get("training_module") or {}).get("model") or {}
        if "per_type_energy_shifts" not in model:
            raise TrainError("config: energy shifts by least squares need training_module.model.per_type_energy_shifts "
                             "(see models/configs/tiny.yaml)")
        model["per_type_energy_shifts"] = dict(energy_shifts)
    if finetune_ckpt is not None:
        cfg["training_module"]["model"] = {"_target_": "nequip.model.ModelFromCheckpoint",
                                           "checkpoint_path": str(finetune_ckpt)}
    return cfg


def train_ensemble(config: str | Path, data: str | Path | Sequence[str | Path], out: str | Path, members: int = 5,
                   overrides: Sequence[str] = (), seed: int = 1, test_fraction: float = 0.1,
                   val_fraction: float = 0.1, split: str | Path | None = None, type_names=None,
                   finetune: str | Path | None = None, evaluate: bool = True, force: bool = False,
                   energy_shifts: str = "config", progress=print) -> dict:
    """Train an ensemble in OUT (layout in the module doc); finished members are skipped. ENERGY_SHIFTS: the
    members' per-type energy shifts as the config gives them ("config"), or per_type_energy_shifts of the train
    split ("lstsq"; not with FINETUNE, whose members keep their own). Returns a summary dict with the member
    checkpoints, the split counts and (evaluate=True) the metrics also written to metrics.json."""
    import yaml

    from beamheat.io import write_json
    from models.data import file_hash, make_split, read_labelled, write_frames

    config, out = resolve_config(config), Path(out).resolve()
    if members < 1:
        raise TrainError(f"--ensemble {members}: need at least one member")
    try:
        base = yaml.safe_load(config.read_text())
    except yaml.YAMLError as e:
        raise TrainError(f"{config}: not valid YAML ({str(e).splitlines()[0]})") from None
    frames = read_labelled([data] if isinstance(data, (str, Path)) else list(data))
    fixed_test = None
    if split is not None:
        split = Path(split)
        if not split.is_file():
            raise TrainError(f"{split}: split file not found")
        fixed_test = json.loads(split.read_text())["test"]
    parts = make_split(frames, test_fraction, val_fraction, fixed_test)
    by_uid = {f.info["uid"]: f for f in frames}
    if energy_shifts not in ENERGY_SHIFTS:
        raise TrainError(f"energy shifts {energy_shifts!r}: choose {' or '.join(ENERGY_SHIFTS)}")
    shifts = None
    if energy_shifts == "lstsq":
        if finetune:
            raise TrainError("energy shifts lstsq: fine-tuned members keep their checkpoint's shifts; use config")
        if not parts["train"]:
            raise TrainError("energy shifts lstsq: the train split is empty")
        shifts = per_type_energy_shifts([by_uid[u] for u in parts["train"]],
                                        type_names or base.get("model_type_names") or [])
        progress("  per-type energy shifts (least squares on the train split): "
                 + ", ".join(f"{t} {x:.4f}" for t, x in shifts.items()) + " eV")

    # shifts: None adds nothing, so that ensembles trained with the config's shifts keep their hash
    inputs = stable_hash([base, list(overrides), seed, members, parts, str(finetune), type_names]
                         + ([shifts] if shifts is not None else []))
    stamp = out / "ensemble.json"
    if stamp.exists() and not force:
        old = json.loads(stamp.read_text())
        if old.get("inputs_hash") != inputs:
            raise TrainError(f"{out}: holds an ensemble trained from other inputs; use --force to replace it")
    if force and out.exists():
        shutil.rmtree(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    write_json(out / "split.json", dict(parts, n_train=len(parts["train"]), n_val=len(parts["val"]),
                                        n_test=len(parts["test"])))
    files = {}
    for role in ("train", "val", "test"):
        files[role] = out / "data" / f"{role}.extxyz"
        chosen = [by_uid[u] for u in parts[role]]
        for f in chosen:
            f.info.pop("uid", None)
        if chosen or role != "test":
            write_frames(files[role], chosen)
        for f, u in zip(chosen, parts[role]):
            f.info["uid"] = u
    write_json(stamp, {"inputs_hash": inputs, "config": str(config), "members": members, "seed": seed,
                       "overrides": list(overrides), "finetune": str(finetune) if finetune else None,
                       "energy_shifts": shifts or energy_shifts,
                       "n_train": len(parts["train"]), "n_val": len(parts["val"]), "n_test": len(parts["test"])})
    try:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        device = "cpu"
    progress(f"ensemble of {members} in {out}: {len(parts['train'])} train / {len(parts['val'])} val / "
             f"{len(parts['test'])} test frames, device {device}")
    data_hash = [file_hash(files["train"]), file_hash(files["val"])]
    ckpts = []
    for j in range(members):
        mdir = out / f"member_{j}"
        prev = None
        if finetune:
            prev = Path(finetune).resolve() / f"member_{j}" / "model.ckpt"
            if not prev.is_file():
                raise TrainError(f"{prev}: no checkpoint to fine-tune member {j} from")
        m_hash = stable_hash([inputs, data_hash, j, file_hash(prev) if prev else None])
        done = mdir / "done.json"
        if done.exists() and (mdir / "model.ckpt").exists() and json.loads(done.read_text()).get("hash") == m_hash:
            progress(f"  member {j + 1}/{members}: already trained, skipped")
            ckpts.append(mdir / "model.ckpt")
            continue
        if mdir.exists():
            shutil.rmtree(mdir)  # a member killed while training: start it again
        mdir.mkdir(parents=True)
        cfg = _config_for_member(base, files["train"], files["val"], seed + j, type_names, prev, shifts)
        (mdir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        t0 = time.perf_counter()
        progress(f"  member {j + 1}/{members}: training (seed {seed + j}{', fine-tuned' if prev else ''}) ...")
        ckpt = train(mdir / "config.yaml", files["train"], mdir, list(overrides))
        wall = time.perf_counter() - t0
        write_json(done, {"hash": m_hash, "seed": seed + j, "wall_s": wall})
        progress(f"  member {j + 1}/{members}: done in {wall:.0f} s")
        ckpts.append(ckpt)
    result = {"members": [str(c) for c in ckpts], "split": str(out / "split.json"),
              "n_train": len(parts["train"]), "n_val": len(parts["val"]), "n_test": len(parts["test"])}
    if evaluate:
        from models.deploy import deploy_ensemble_subprocess

        models = deploy_ensemble_subprocess(out, out / "deployed")
        result["metrics"] = evaluate_ensemble(models, {"test": files["test"], "val": files["val"]},
                                              out / "metrics.json")
    return result


def evaluate_ensemble(models, data_files: dict, out_json: Path | None = None) -> dict:
    """Metrics (models.metrics) of compiled members on each labelled file; written to OUT_JSON if given."""
    from beamheat.io import write_json
    from models.data import read_labelled
    from models.ensemble import Ensemble
    from models.metrics import evaluate, public

    ens = Ensemble([str(m) for m in models])
    result = {"models": [str(m) for m in models]}
    for name, path in data_files.items():
        if path is None or not Path(path).exists():
            continue
        result[name] = public(evaluate(ens, read_labelled(path)))
    if out_json is not None:
        write_json(out_json, result)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="nequip Hydra YAML config (e.g. models/configs/tiny.yaml)")
    p.add_argument("--data", required=True, nargs="+",
                   help="labelled frames: extxyz/ASE-readable files or ASE databases (several with --ensemble)")
    p.add_argument("--out", required=True, help="run directory (checkpoint written to OUT/model.ckpt)")
    p.add_argument("--ensemble", type=int, metavar="M", nargs="?", const=5, default=None,
                   help="train an ensemble of M members (M default 5) with a shared split")
    p.add_argument("--seed", type=int, default=1, help="ensemble: seed of member 0; member J gets SEED+J (default 1)")
    p.add_argument("--test-fraction", type=float, default=0.1,
                   help="ensemble: fraction of frames held out as the test split (default 0.1)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="ensemble: fraction of the remaining frames for validation (default 0.1)")
    p.add_argument("--split", help="ensemble: an earlier split.json whose test split is kept fixed")
    p.add_argument("--type-names", help="ensemble: model type names, comma separated (default: the config's)")
    p.add_argument("--finetune", metavar="PREV_DIR", help="ensemble: start member J from PREV_DIR/member_J")
    p.add_argument("--energy-shifts", choices=ENERGY_SHIFTS, default="config",
                   help="ensemble: the members' per-type energy shifts (eV): the config's, or fitted by least squares "
                        "to the train split's energies and compositions (lstsq: for types whose energies per atom "
                        "differ by eV, as Au and B/N) (default config)")
    p.add_argument("--force", action="store_true", help="replace OUT/model.ckpt (single model), or an ensemble OUT "
                   "trained from other inputs")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="Hydra overrides, passed to nequip-train")
    a, rest = p.parse_known_args(argv)
    bad = [r for r in rest if "=" not in r]
    if bad:
        p.error(f"unrecognized arguments: {' '.join(bad)}")
    # argparse puts trailing key=value words into --data (nargs="+"): move them back to the overrides
    overrides = [d for d in a.data if "=" in d and not Path(d).exists()] + a.overrides + rest
    data = [d for d in a.data if d not in overrides]
    if a.ensemble is None:
        if a.energy_shifts != "config":
            raise TrainError("--energy-shifts is an ensemble option (--ensemble)")
        if len(data) != 1:
            raise TrainError("one --data file for a single model (several need --ensemble)")
        if (Path(a.out) / "model.ckpt").exists() and not a.force:
            raise TrainError(f"{Path(a.out) / 'model.ckpt'}: exists; use --force to train again and replace it")
        ckpt = train(a.config, data[0], a.out, overrides)
        print(f"checkpoint: {ckpt}")
        return 0
    for frac, name in ((a.test_fraction, "--test-fraction"), (a.val_fraction, "--val-fraction")):
        if not 0 <= frac < 1:
            raise TrainError(f"{name} {frac}: must be in [0, 1)")
    r = train_ensemble(a.config, data, a.out, a.ensemble, overrides, a.seed, a.test_fraction, a.val_fraction,
                       a.split, a.type_names.split(",") if a.type_names else None, a.finetune, force=a.force,
                       energy_shifts=a.energy_shifts)
    ens = r["metrics"].get("test", {}).get("ensemble") or r["metrics"].get("val", {}).get("ensemble", {})
    print(f"{len(r['members'])} members in {a.out}; ensemble force RMSE {ens.get('force_rmse_eV_per_A', float('nan')):.4g} "
          f"eV/Å, |dF| RMSE {ens.get('force_error_rmse_eV_per_A', float('nan')):.4g} eV/Å, Spearman(sigma_F, dF) "
          f"{ens.get('spearman_sigma_delta') if ens.get('spearman_sigma_delta') is not None else 'n/a'}; "
          f"metrics in {Path(a.out) / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
