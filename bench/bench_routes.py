"""Benchmark: `lmp -in` with pair_style nequip against the paper's ASE route, each in its own process.

    python -m bench.bench_routes [--arch tiny paper] [--rounds 5] [--warm 3] [--steps 10] [--threads 2]
                                 [--model FILE] [--json OUT]

Each route runs as its users run it, one fresh process per measurement, on the same compiled file and system:

  lmp               `lmp -in in.bench` (the PyPI lmp wrapper), `pair_style nequip device cpu`, other defaults
  lmp malloc system  the same with `pair_style nequip malloc system` (glibc left alone: isolates that lever)
  ase               python bench/route_ase.py: ase.md.VelocityVerlet + nequip's NequIPCalculator
  ase + tunables    the same with GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824,
                    i.e. what an ASE user gets by hand with the allocator setting the plugin makes by itself

System: Au octahedron (19 atoms) on a 10x10x5 B2 CuPd slab, 1019 atoms, p p f (bench_pair_nequip.system, centred
with 8 A of vacuum). Models: `tiny` (2 interaction blocks, 8 features) and `paper` (4 blocks, 32 features, l_max 1),
float64, r_max 5 A, trained one epoch on the EMT demo data (weights do not change the cost). The routes run
interleaved, the order rotated each round, so machine noise hits them alike. Reported: the median ms/step of the
timed steps (LAMMPS's `Loop time` of the second `run`, perf_counter around ASE's `dyn.run`), the min-max over rounds,
user and sys CPU seconds of the whole process, and the ratio of medians ASE/lmp (> 1: the plugin is faster).
Nothing else should run on the machine; the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.lib.jobs import ROOT, loop_time
from bench.lib.systems import build_model, system

from beamheat.lammps_command import lmp_command  # noqa: E402

TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824"

LAMMPS_INPUT = """units metal
atom_style atomic
boundary p p f
read_data system.data
pair_style nequip ${pkw}
pair_coeff * * ${model} ${elements}
velocity all create 300 12345 mom yes rot yes
timestep 0.002
fix nve all nve
thermo 1000
run ${warm}
run ${steps}
"""


def write_system(workdir: Path) -> tuple[list[str], int]:
    """system.extxyz (ASE route), system.data and in.bench (lmp route); the element order and the atom count."""
    from ase.io import write

    atoms = system()
    atoms.center(vacuum=8.0, axis=2)
    elements = sorted(set(atoms.get_chemical_symbols()))
    write(workdir / "system.extxyz", atoms)
    write(workdir / "system.data", atoms, format="lammps-data", specorder=elements, masses=True, atom_style="atomic")
    (workdir / "in.bench").write_text(LAMMPS_INPUT)
    return elements, len(atoms)


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[subprocess.CompletedProcess, float, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc, wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def run_route(route: str, model: Path, elements: list[str], workdir: Path, a) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("GLIBC_TUNABLES", None)
    if route.startswith("lmp"):
        pkw = "device cpu malloc system" if route == "lmp malloc system" else "device cpu"
        cmd = lmp_command("in.bench", {"model": model, "elements": " ".join(elements), "pkw": pkw, "warm": a.warm,
                                       "steps": a.steps}, log="none", screen="lmp.out", mpirun=False)
        proc, wall, user, sys_ = timed(cmd, workdir, env)
        out = (workdir / "lmp.out").read_text() if (workdir / "lmp.out").exists() else ""
        if proc.returncode != 0 or out.count("Loop time of") < 2:  # the warm-up run and the timed one
            raise SystemExit(f"error: {route} failed (exit {proc.returncode}):\n{(out + proc.stderr)[-1500:]}")
        ms = loop_time(out) / a.steps * 1e3
    else:
        if route == "ase + tunables":
            env["GLIBC_TUNABLES"] = TUNABLES
        cmd = [sys.executable, str(ROOT / "bench" / "route_ase.py"), str(model), "system.extxyz",
               "--warm", str(a.warm), "--steps", str(a.steps)]
        proc, wall, user, sys_ = timed(cmd, workdir, env)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise SystemExit(f"error: {route} failed (exit {proc.returncode}):\n{proc.stderr[-1500:]}")
        ms = json.loads(lines[-1])["ms_per_step"]
    return {"ms_per_step": ms, "process_wall_s": wall, "user_s": user, "sys_s": sys_}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_routes", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", nargs="+", choices=["tiny", "paper"], default=["tiny", "paper"],
                   help="model architectures (default: tiny paper)")
    p.add_argument("--model", help="one compiled model to use instead of training them")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--warm", type=int, default=3, help="untimed MD steps first, per process (default 3)")
    p.add_argument("--steps", type=int, default=10, help="timed MD steps per process (default 10)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS for every route (default 2)")
    p.add_argument("--routes", nargs="+", default=["lmp", "lmp malloc system", "ase", "ase + tunables"],
                   help="routes to run (default: all four)")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args(argv)
    for name in ("rounds", "steps", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be >= 1, not {getattr(a, name)}")
    if a.warm < 0:
        p.error(f"--warm must be >= 0, not {a.warm}")
    if a.model and not Path(a.model).is_file():
        p.error(f"{a.model}: no such model file")
    if a.json and not (Path(a.json).resolve().parent.is_dir() and os.access(Path(a.json).resolve().parent, os.W_OK)):
        p.error(f"{a.json}: its folder does not exist or is not writable")
    unknown = sorted(set(a.routes) - {"lmp", "lmp malloc system", "ase", "ase + tunables"})
    if unknown:
        p.error(f"unknown route(s) {unknown}; choose from: lmp, 'lmp malloc system', ase, 'ase + tunables'")

    workdir = Path(tempfile.mkdtemp(prefix="bench_routes_"))
    elements, n_atoms = write_system(workdir)
    models = {"given": Path(a.model).resolve()} if a.model else {arch: build_model(workdir, arch) for arch in a.arch}
    import torch

    result = {"n_atoms": n_atoms, "threads": a.threads, "rounds": a.rounds, "warm": a.warm, "steps": a.steps,
              "torch": torch.__version__, "cpu": _cpu_name(), "loadavg_before": os.getloadavg(), "models": {}}
    for arch, model in models.items():
        per_round = {r: [] for r in a.routes}
        for rnd in range(a.rounds):
            order = a.routes[rnd % len(a.routes):] + a.routes[:rnd % len(a.routes)]
            for route in order:
                per_round[route].append(run_route(route, model, elements, workdir, a))
            print(f"{arch} round {rnd + 1}/{a.rounds}: " +
                  ", ".join(f"{r} {per_round[r][-1]['ms_per_step']:.1f}" for r in a.routes) + " ms/step",
                  flush=True)
        summary = {}
        for route, rows in per_round.items():
            ms = [row["ms_per_step"] for row in rows]
            summary[route] = {"median_ms_per_step": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms),
                              "median_user_s": statistics.median(r["user_s"] for r in rows),
                              "median_sys_s": statistics.median(r["sys_s"] for r in rows), "rounds": rows}
        if "ase" in summary and "lmp" in summary:
            summary["speedup_lmp_vs_ase"] = summary["ase"]["median_ms_per_step"] / summary["lmp"]["median_ms_per_step"]
        result["models"][arch] = {"file": str(model), **summary}
    result["loadavg_after"] = os.getloadavg()

    print(f"\n{n_atoms} atoms, {a.threads} threads, {a.rounds} rounds x {a.steps} timed steps, each route its own process")
    print("| model | route | median ms/step | min-max | user s | sys s |")
    print("|---|---|---|---|---|---|")
    for arch, res in result["models"].items():
        for route in a.routes:
            s = res[route]
            print(f"| {arch} | {route} | {s['median_ms_per_step']:.1f} | {s['min_ms']:.1f}-{s['max_ms']:.1f} | "
                  f"{s['median_user_s']:.1f} | {s['median_sys_s']:.1f} |")
        if "speedup_lmp_vs_ase" in res:
            print(f"| {arch} | **ASE / lmp** | **{res['speedup_lmp_vs_ase']:.2f}x** | | | |")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {a.json}")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
