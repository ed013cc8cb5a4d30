"""Compile a trained NequIP checkpoint into a file that `pair_style nequip` (and models.rerun) loads.

    python -m models.deploy CHECKPOINT OUT [--format torchscript|aotinductor|package] [--device cpu|cuda]
                            [--modifiers enable_OpenEquivariance|enable_CuEquivariance ...]
    python -m models.deploy ENSEMBLE_DIR OUT_DIR [--format ...]     # every member_J/model.ckpt -> OUT_DIR/member_J.*

An ensemble directory (from `python -m models.train --ensemble`) is compiled in one call: OUT_DIR/member_J.nequip.pth
(or .nequip.pt2) for every member, in member order. Files already compiled from the same checkpoint (recorded in
OUT_DIR/deployed.json by checkpoint hash) are kept, so a killed call resumes; --force compiles everything again.

Formats
  torchscript   OUT must end in .nequip.pth. Portable across CPU/GPU and torch versions >= the one that wrote it.
  aotinductor   OUT must end in .nequip.pt2. Ahead-of-time compiled C++/CUDA; tied to the torch version and the
                CPU ISA / GPU architecture it was built on. Built with nequip's own `nequip-compile` (target
                pair_nequip), which takes ~1-2 min for a small model. CHECKPOINT may also be a package.
  package       OUT must end in .nequip.zip. nequip's portable archive of the model and the code that builds it
                (`nequip-package build`): independent of the torch version and machine; nequip-compile turns it
                into either of the two above anywhere (models.accelerate does so for a bundle).

Why TorchScript is written here rather than by `nequip-compile --mode torchscript`: on torch >= 2.10 nequip's
CLI refuses TorchScript because PyTorch has deprecated (not removed) it. `torch.jit.script`/`torch.jit.save`
still work in the torch this project pins, and nequip's own library function `save_torchscript_model` writes the
same file the CLI used to. This module performs exactly the CLI's steps (load checkpoint, combine model and
global-state metadata, script, save) through nequip's library API, without patching nequip. The tests check the
written file against nequip's ASE calculator to 1e-6 eV/Å, so a torch release that really breaks TorchScript is
caught there; `--format aotinductor` is the forward-compatible route.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from beamheat import validate as v
from beamheat.cli import ArgumentParser, UserError, run

FORMATS = {"torchscript": ".nequip.pth", "aotinductor": ".nequip.pt2", "package": ".nequip.zip"}


class DeployError(UserError):
    pass


def _model_metadata(model) -> dict[str, str]:
    """Model metadata + nequip's global metadata state, as strings (what nequip-compile stores)."""
    from nequip.utils.global_state import get_latest_global_state

    metadata = dict(model.metadata)
    metadata.update(get_latest_global_state(only_metadata_related=True))
    blocks = interaction_blocks(model)
    if blocks:
        metadata["interaction_blocks"] = blocks
    return {k: str(int(v)) if isinstance(v, bool) else str(v) for k, v in metadata.items()}


def interaction_blocks(model) -> int | None:
    """Message-passing (interaction) blocks L of a NequIP model: an atom's energy depends on atoms up to L*r_max
    away, so `pair_style nequip` on several MPI ranks needs ghost atoms out to L*r_max. Allegro models (package
    nequip-allegro) are strictly local: 1. None if not recognised."""
    from nequip.nn import ConvNetLayer

    n = sum(isinstance(m, ConvNetLayer) for m in model.modules())
    if not n and any(type(m).__module__.split(".")[0] == "allegro" for m in model.modules()):
        n = 1
    return n or None


def deploy_torchscript(checkpoint: Path, out: Path, device: str = "cpu", tf32: bool = False,
                       modifiers: Sequence[str] = ()) -> dict[str, str]:
    import torch
    from nequip.model.modify_utils import modify
    from nequip.model.saved_models.load_utils import load_saved_model
    from nequip.model.utils import _EAGER_MODEL_KEY
    from nequip.model.inference_models.torchscript import save_torchscript_model
    from nequip.scripts._workflow_utils import set_workflow_state
    from nequip.train.lightning import _SOLE_MODEL_KEY
    from nequip.utils.global_state import set_global_state

    set_workflow_state("compile")
    try:
        set_global_state(allow_tf32=tf32)
        try:
            model = load_saved_model(str(checkpoint), _EAGER_MODEL_KEY, _SOLE_MODEL_KEY)
        except Exception as e:  # torch/lightning/zip raise many kinds for a file that is not a checkpoint
            text = str(e).splitlines()[0][:120] if str(e) else ""
            raise DeployError(f"{checkpoint}: cannot load as a nequip checkpoint or package "
                              f"({e.__class__.__name__}: {text})") from None
        # as nequip-compile applies them; the metadata then names the modifiers' custom-op modules
        try:
            model = modify(model, [{"modifier": m} for m in modifiers])
        except (ImportError, RuntimeError) as e:
            err = modifier_error(e, modifiers)
            if err is None:
                raise
            raise err from None
        metadata = _model_metadata(model)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
        try:
            save_torchscript_model(model, metadata, str(tmp), torch.device(device))
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        set_workflow_state(None)
    return metadata


def deploy_aotinductor(checkpoint: Path, out: Path, device: str = "cpu", tf32: bool = False,
                       modifiers: Sequence[str] = ()) -> None:
    import tempfile

    from nequip.scripts.compile import main as nequip_compile

    # compile under the final name (the package's inner folder is named after it) in a scratch folder beside OUT,
    # then move it into place: OUT is either complete or absent
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".deploy-") as scratch:
        tmp = Path(scratch) / out.name
        args = [str(checkpoint), str(tmp), "--mode", "aotinductor", "--device", device, "--target", "pair_nequip"]
        if tf32:
            args.append("--tf32")
        if modifiers:
            args += ["--modifiers", *modifiers]
        try:
            nequip_compile(args)
        except (ImportError, RuntimeError) as e:
            err = modifier_error(e, modifiers)
            if err is None:
                raise
            raise err from None
        os.replace(tmp, out)


def deploy_package(checkpoint: Path, out: Path) -> None:
    """nequip's own packager (`nequip-package build`), under the final name in a scratch folder beside OUT (the
    archive's inner folder is named after it), then moved into place."""
    import tempfile

    from nequip.scripts.package import main as nequip_package

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".deploy-") as scratch:
        tmp = Path(scratch) / out.name
        nequip_package(["build", str(checkpoint), str(tmp)])
        os.replace(tmp, out)


def modifier_error(e: Exception, modifiers: Sequence[str]) -> DeployError | None:
    """The one-line error for modifiers nequip does not know or cannot apply here (their package is missing)."""
    if not modifiers:
        return None
    if isinstance(e, ImportError):
        return DeployError(f"--modifiers {' '.join(modifiers)}: needs the Python package {e.name!r}, which is not "
                           "installed (enable_OpenEquivariance: pip install openequivariance; enable_CuEquivariance: "
                           "pip install cuequivariance-torch cuequivariance-ops-torch-cu12)")
    if isinstance(e, RuntimeError) and "is not a registered model modifier" in str(e):
        return DeployError(f"--modifiers {' '.join(modifiers)}: {str(e).splitlines()[0]}")
    return None


def check_device(device: str) -> str:
    """cpu, or cuda[:N] with a GPU there: refused in one line before anything is loaded."""
    import torch

    if device == "cpu":
        return device
    if not device.startswith("cuda"):
        raise DeployError(f"--device {device}: choose cpu or cuda[:N]")
    if not torch.cuda.is_available():
        raise DeployError(f"--device {device}: no CUDA GPU is visible to this torch ({torch.__version__})")
    idx = device.split(":", 1)[1] if ":" in device else "0"
    if not idx.isdigit() or int(idx) >= torch.cuda.device_count():
        raise DeployError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def deploy(checkpoint: str | Path, out: str | Path, fmt: str = "torchscript", device: str = "cpu",
           tf32: bool = False, modifiers: Sequence[str] = ()) -> Path:
    checkpoint, out = Path(checkpoint), Path(out)
    check_device(device)
    if fmt not in FORMATS:
        raise DeployError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not checkpoint.exists():
        raise DeployError(f"{checkpoint}: checkpoint not found")
    if not out.name.endswith(FORMATS[fmt]):
        raise DeployError(f"{out}: a {fmt} model file must end in {FORMATS[fmt]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if modifiers and fmt == "package":
        raise DeployError("--modifiers: a package holds the unmodified model; give them when compiling it "
                          "(torchscript or aotinductor)")
    if fmt == "torchscript":
        deploy_torchscript(checkpoint, out, device, tf32, modifiers)
    elif fmt == "package":
        deploy_package(checkpoint, out)
    else:
        deploy_aotinductor(checkpoint, out, device, tf32, modifiers)
    return out


def ensemble_checkpoints(ens_dir: str | Path) -> list[Path]:
    ens_dir = Path(ens_dir)
    members = sorted(ens_dir.glob("member_*/model.ckpt"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not members:
        raise DeployError(f"{ens_dir}: no member_*/model.ckpt (train with python -m models.train --ensemble)")
    return members


def deploy_ensemble(ens_dir: str | Path, out_dir: str | Path, fmt: str = "torchscript", device: str = "cpu",
                    tf32: bool = False, force: bool = False, progress=print) -> list[Path]:
    """Compile every member of an ensemble directory into OUT_DIR/member_J + suffix; returns the files in order."""
    import json

    from beamheat.io import write_json
    from models.data import file_hash

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record_path = out_dir / "deployed.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    files = []
    ckpts = ensemble_checkpoints(ens_dir)
    for j, ckpt in enumerate(ckpts):
        out = out_dir / f"{ckpt.parent.name}{FORMATS[fmt]}"
        h = file_hash(ckpt)
        if not force and out.exists() and record.get(out.name) == h:
            progress(f"  {out.name}: up to date, kept")
        else:
            progress(f"  compiling member {j + 1}/{len(ckpts)} -> {out.name} ({fmt})")
            deploy(ckpt, out, fmt, device, tf32)
            record[out.name] = h
            write_json(record_path, record)
        files.append(out)
    return files


def run_deploy_cli(args: list[str]):
    """`python -m models.deploy ARGS` in a fresh interpreter (nequip sets process-wide state while loading and
    compiling), with this same models package importable in the child, installed or not. The finished process."""
    import subprocess

    here = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return subprocess.run([sys.executable, "-m", "models.deploy", *args], capture_output=True, text=True, env=env)


def deploy_subprocess(source: str | Path, out: str | Path, fmt: str, device: str = "cpu") -> None:
    """deploy() of one file in a fresh interpreter (OUT replaced); a failure is one DeployError line."""
    proc = run_deploy_cli([str(source), str(out), "--format", fmt, "--device", device, "--force"])
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        raise DeployError(f"{source}: {fmt} deploy failed: " + " | ".join(tail))


def deploy_ensemble_subprocess(ens_dir: str | Path, out_dir: str | Path, fmt: str = "torchscript",
                               device: str = "cpu") -> list[Path]:
    """deploy_ensemble in a fresh interpreter (nequip sets process-wide state while compiling)."""
    proc = run_deploy_cli([str(ens_dir), str(out_dir), "--format", fmt, "--device", device])
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise DeployError(f"compiling {ens_dir} failed: " + " | ".join(tail))
    return [Path(out_dir) / f"{c.parent.name}{FORMATS[fmt]}" for c in ensemble_checkpoints(ens_dir)]


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.deploy", description=__doc__.split("\n\n")[0],
                       epilog="Formats: torchscript (.nequip.pth), aotinductor (.nequip.pt2), package (.nequip.zip).")
    p.add_argument("checkpoint", help="nequip training checkpoint (.ckpt) or package (.nequip.zip), or an ensemble "
                   "directory from models.train --ensemble")
    p.add_argument("out", help="output model file (.nequip.pth for torchscript, .nequip.pt2 for aotinductor, "
                   ".nequip.zip for package); for "
                   "an ensemble directory, the output directory")
    p.add_argument("--format", choices=sorted(FORMATS), default=None,
                   help="default: from OUT's suffix, else torchscript")
    p.add_argument("--device", default="cpu", help="device to compile for: cpu or cuda (default cpu)")
    p.add_argument("--tf32", action="store_true", help="allow TF32 matmuls on Ampere+ GPUs (default off)")
    p.add_argument("--modifiers", nargs="+", default=[], metavar="MODIFIER",
                   help="nequip model modifiers applied before compiling, as nequip-compile --modifiers (kernel "
                   "accelerations: enable_OpenEquivariance, enable_CuEquivariance; need those packages and a GPU); "
                   "single files only (default: none)")
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT; ensemble: recompile members "
                   "already compiled (default: refuse / skip them)")
    a = p.parse_args(argv)
    check_device(a.device)
    if not Path(a.checkpoint).is_dir():
        if not Path(a.checkpoint).exists():
            raise DeployError(f"{a.checkpoint}: checkpoint not found")
        v.input_file(a.checkpoint, "CHECKPOINT", "checkpoint")
        v.output_file(a.out, "OUT", force=a.force, inputs=[a.checkpoint], mkdir=True)
    if Path(a.checkpoint).is_dir():
        if a.modifiers:
            raise DeployError(f"{a.checkpoint}: --modifiers applies to single checkpoints, not ensemble directories")
        fmt = a.format or "torchscript"
        if fmt not in FORMATS:
            raise DeployError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        files = deploy_ensemble(a.checkpoint, a.out, fmt, a.device, a.tf32, a.force)
        print(f"wrote {len(files)} {fmt} models to {a.out}")
        return 0
    fmt = a.format or next((f for f, suffix in FORMATS.items() if a.out.endswith(suffix)), "torchscript")
    out = deploy(a.checkpoint, a.out, fmt, a.device, a.tf32, a.modifiers)
    print(f"wrote {fmt} model {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
