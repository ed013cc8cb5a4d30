"""Compile a bundled ensemble for this machine (AOTInductor): the same forces, 1.7x faster in the main job.

    python -m models.accelerate [BUNDLE] [--device cpu|cuda] [--jobs N] [--force]
    python -m models.accelerate [BUNDLE] --check     # up to date? prints the compiled files on one line, else exit 1

BUNDLE (default: the bundled Au/hBN ensemble, models/bundled/au_hbn) holds member_K.nequip.pth (TorchScript: what
pair_style nequip runs anywhere) and member_K.nequip.zip (nequip packages of the same checkpoints: models.bundle).
Each package is compiled by nequip-compile (AOTInductor, target pair_nequip) into BUNDLE/aoti_DEVICE/
member_K.nequip.pt2. Such a file is tied to this torch version and to this CPU's vector instructions (or this GPU), so
it is made here and never shipped. Each compiled member is then checked against its TorchScript member in LAMMPS on
the bundle's first labelled frame: forces within 1e-6 eV/Å and energy within 1e-6 eV per atom, else it is deleted
and the command fails (float64 members agree to ~1e-14). BUNDLE/aoti_DEVICE/compiled.json records torch, nequip,
the instruction set, the hashes of each member's files and the check; members already compiled from the same files
on the same machine are kept, so a killed call resumes. Each member takes 1-2 min to compile, --jobs at a time.

Running the compiled members (scripts/demo.sh does this when --check passes; scripts/setup.sh compiles them):
    lmp -in lammps_inputs/heat_transfer.in -var potential nequip \\
        -var model "$(python -m models.accelerate --check)" -var baseline models/bundled/au_hbn/baseline.in
They run on one MPI rank. Without them, -var potential nequip alone runs the TorchScript members: the same
numbers, slower.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import write_json

from models.data import file_hash

RECORD = "compiled.json"
TOLERANCE_EV_PER_A = 1e-6   # |F_compiled - F_torchscript| max; float64 members agree to ~1e-14
TOLERANCE_EV_PER_ATOM = 1e-6


class AccelerateError(UserError):
    pass


def default_bundle() -> Path:
    return Path(__file__).resolve().parent / "bundled" / "au_hbn"


def members(bundle: Path) -> list[tuple[Path, Path]]:
    """(member_K.nequip.pth, member_K.nequip.zip) of a bundle, in member order."""
    if not bundle.exists():
        raise AccelerateError(f"{bundle}: no such bundle folder")
    if not bundle.is_dir():
        raise AccelerateError(f"{bundle}: a file, not a bundle folder (give the folder with member_K.nequip.pth)")
    pth = sorted(bundle.glob("member_*.nequip.pth"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    if not pth:
        raise AccelerateError(f"{bundle}: no member_K.nequip.pth (not a bundle; make one with python -m models.bundle)")
    pairs = [(p, p.with_name(p.name.replace(".nequip.pth", ".nequip.zip"))) for p in pth]
    for _, z in pairs:
        if not z.is_file():
            raise AccelerateError(f"{z}: missing: the bundle has no nequip package to compile (rebundle it with "
                                  "python -m models.bundle, which writes them)")
    return pairs


def out_dir(bundle: Path, device: str) -> Path:
    return bundle / f"aoti_{device.split(':')[0]}"


def machine(device: str) -> dict:
    """What a compiled package is tied to: torch, nequip, and the CPU's vector instructions or the GPU."""
    import nequip
    import torch

    m = {"torch": torch.__version__, "nequip": nequip.__version__, "device": device.split(":")[0]}
    if device == "cpu":
        from torch._inductor.cpu_vec_isa import pick_vec_isa

        m["cpu_isa"] = str(pick_vec_isa() or "none")
    else:
        m["gpu"] = torch.cuda.get_device_name(0)
        m["gpu_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    return m


def _record(bundle: Path, device: str) -> dict:
    path = out_dir(bundle, device) / RECORD
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}


def stale_reason(bundle: Path, device: str = "cpu") -> str | None:
    """None when every member has a compiled file for this machine made from its current files; else why not."""
    rec = _record(bundle, device)
    if not rec:
        return f"{out_dir(bundle, device) / RECORD}: nothing compiled yet"
    here = machine(device)
    for key, value in here.items():
        if rec.get("machine", {}).get(key) != value:
            return f"compiled for {key} {rec.get('machine', {}).get(key)}, this machine has {value}"
    for pth, pkg in members(bundle):
        name = pth.name.split(".")[0]
        m = rec.get("members", {}).get(name)
        pt2 = out_dir(bundle, device) / f"{name}.nequip.pt2"
        if not m or not pt2.is_file():
            return f"{name} is not compiled"
        if m.get("torchscript") != file_hash(pth) or m.get("package") != file_hash(pkg):
            return f"{name} changed since it was compiled"
        if m.get("compiled") != file_hash(pt2):
            return f"{pt2} was changed after its check"
    return None


def compiled_files(bundle: Path, device: str = "cpu") -> list[Path]:
    return [out_dir(bundle, device) / f"{pth.name.split('.')[0]}.nequip.pt2" for pth, _ in members(bundle)]


def first_frame(bundle: Path):
    from ase.io import read

    path = bundle / "labels.extxyz.gz"
    if not path.is_file():
        raise AccelerateError(f"{path}: missing: the compiled members are checked on the bundle's first labelled frame")
    with gzip.open(path, "rt") as f:
        return read(f, index=0, format="extxyz")


def compare(torchscript: Path, compiled: Path, atoms) -> dict:
    """Energy and forces of the same frame from both files, in LAMMPS (pair_style nequip on one rank)."""
    import numpy as np

    from beamheat.lammps_run import single_point

    types = sorted(set(atoms.get_chemical_symbols()))
    out = [single_point(atoms, "nequip", f"* * {f} {' '.join(types)}", types) for f in (torchscript, compiled)]
    return {"max_abs_dF_eV_per_A": float(np.abs(out[0]["forces_eV_per_A"] - out[1]["forces_eV_per_A"]).max()),
            "abs_dE_eV_per_atom": abs(out[0]["energy_eV"] - out[1]["energy_eV"]) / len(atoms),
            "frame": f"labels.extxyz.gz[0] ({len(atoms)} atoms)"}


def _compile(pkg: Path, out: Path, device: str) -> float:
    """models.deploy --format aotinductor in a fresh interpreter; the seconds it took."""
    from models.deploy import deploy_subprocess

    t0 = time.perf_counter()
    deploy_subprocess(pkg, out, "aotinductor", device)
    return time.perf_counter() - t0


def accelerate(bundle: Path, device: str = "cpu", jobs: int = 1, force: bool = False, progress=print) -> list[Path]:
    """Compile and check every member not yet compiled for this machine from its current files; the compiled files."""
    pairs = members(bundle)
    atoms = first_frame(bundle)
    dest = out_dir(bundle, device)
    dest.mkdir(exist_ok=True)
    here = machine(device)
    rec = _record(bundle, device)
    if rec.get("machine") != here:
        rec = {"machine": here, "members": {}}
    rec["note"] = ("AOTInductor packages of the bundle's members for this machine (python -m models.accelerate); "
                   "never copy them to another machine or torch")
    todo = []
    for pth, pkg in pairs:
        name = pth.name.split(".")[0]
        m, pt2 = rec["members"].get(name, {}), dest / f"{name}.nequip.pt2"
        fresh = (pt2.is_file() and m.get("torchscript") == file_hash(pth) and m.get("package") == file_hash(pkg)
                 and m.get("compiled") == file_hash(pt2))
        if fresh and not force:
            progress(f"  {name}: compiled for this machine earlier, kept")
        else:
            rec["members"].pop(name, None)
            todo.append((name, pth, pkg, pt2))
    if todo:
        progress(f"  compiling {len(todo)} member(s) for {device} ({here.get('cpu_isa') or here.get('gpu')}), "
                 f"{min(jobs, len(todo))} at a time, 1-2 min each")

    def work(item):
        name, pth, pkg, pt2 = item
        seconds = _compile(pkg, pt2, device)
        progress(f"  {name}: compiled in {seconds:.0f} s")
        return seconds

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(todo) or 1))) as pool:
        seconds = list(pool.map(work, todo))
    for (name, pth, pkg, pt2), s in zip(todo, seconds):
        check = compare(pth, pt2, atoms)
        if check["max_abs_dF_eV_per_A"] > TOLERANCE_EV_PER_A or check["abs_dE_eV_per_atom"] > TOLERANCE_EV_PER_ATOM:
            pt2.unlink()
            raise AccelerateError(
                f"{pkg}: the compiled member differs from {pth.name} by {check['max_abs_dF_eV_per_A']:.2e} eV/Å "
                f"(energy {check['abs_dE_eV_per_atom']:.2e} eV/atom) on {check['frame']}; the package and the "
                "TorchScript file are not the same model (rebundle with python -m models.bundle)")
        progress(f"  {name}: same forces as {pth.name} within {check['max_abs_dF_eV_per_A']:.1e} eV/Å")
        rec["members"][name] = {"torchscript": file_hash(pth), "package": file_hash(pkg), "compiled": file_hash(pt2),
                                "compile_s": round(s, 1), "check": check}
        write_json(dest / RECORD, rec)
    write_json(dest / RECORD, rec)
    return compiled_files(bundle, device)


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m models.accelerate", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("bundle", nargs="?", type=Path, default=None,
                   help="bundle folder (member_K.nequip.pth + .nequip.zip); default: the bundled Au/hBN ensemble")
    p.add_argument("--device", default="cpu", help="compile for cpu or cuda (default cpu)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="members compiled at a time (default: the number of cores)")
    p.add_argument("--force", action="store_true", help="compile every member again")
    p.add_argument("--check", action="store_true",
                   help="compile nothing: print the compiled files (one line) and exit 0 when they are up to date "
                        "for this machine, else say why on stderr and exit 1")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from models.deploy import check_device

    a = parse_args(argv)
    bundle = a.bundle or default_bundle()
    if a.jobs < 1:
        raise AccelerateError(f"--jobs {a.jobs}: must be at least 1")
    check_device(a.device)
    members(bundle)
    if a.check:
        reason = stale_reason(bundle, a.device)
        if reason:
            raise AccelerateError(f"{bundle}: not compiled for this machine: {reason} (run python -m models.accelerate"
                                  f"{'' if a.bundle is None else ' ' + str(bundle)})")
        print(" ".join(str(p) for p in compiled_files(bundle, a.device)))
        return 0
    t0 = time.perf_counter()
    files = accelerate(bundle, a.device, a.jobs, a.force)
    print(f"{len(files)} members of {bundle} compiled for this machine in {out_dir(bundle, a.device)} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
