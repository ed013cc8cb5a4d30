"""Benchmark: the bundled ensemble as the main job runs it, TorchScript members against the members compiled for this
CPU (python -m models.accelerate, AOTInductor).

    python -m bench.bench_accelerate [--rounds 5] [--steps 500] [--threads 1] [--json OUT]

System: the main job's (beamheat.build: Au45, 1 nm, on monolayer hBN, margin 6 Å; 261 atoms). Potential: the main
job's, potentials/nequip.in with its defaults (ensemble first sigma_every 10, fix halt at max sigma_F > 1.5 eV/Å,
overlaid on the bundle's baseline.in): route `torchscript` is `-var potential nequip` alone (the bundled .nequip.pth members), route `aoti`
adds `-var model "<the compiled members>" -var baseline <bundle>/baseline.in`. Each measurement is its own
`mpirun -np 1 lmp` process, as users run it, NVE from 450 K for STEPS steps after 20 warm-up steps; the two routes
alternate in every round, so machine noise hits them alike. Reported: medians over rounds of ms per MD step (LAMMPS
Loop time) and of the plugin's ms per model call, and the ratio torchscript/aoti of the step times (median of the
per-round ratios). Needs the compiled members: `python -m models.accelerate` first (scripts/setup.sh runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from beamheat.lammps_command import lmp_command

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "models" / "bundled" / "au_hbn"

INPUT = """units metal
atom_style atomic
atom_modify map array
boundary p p f
read_data ${data}
include ${inputs}/potentials/nequip.in
velocity all create 450 4928 mom yes rot yes
fix nve all nve
timestep 0.002
thermo 100
run 20
run ${steps}
"""


def lmp(workdir: Path, steps: int, threads: int, extra: dict) -> dict:
    cmd = lmp_command("in.bench", {"inputs": ROOT / "lammps_inputs", "data": workdir / "system.data", "steps": steps,
                                   "potential": "nequip", **extra}, screen="none", log="log")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    log = (workdir / "log").read_text() if (workdir / "log").exists() else ""
    if proc.returncode != 0:
        used = " ".join(f"-var {k} {v}" for k, v in extra.items()) or "torchscript"
        raise SystemExit(f"lmp failed ({used}): {(proc.stderr or log)[-800:]}")
    loops = re.findall(r"Loop time of ([0-9.eE+-]+) on 1 procs for (\d+) steps", log)
    calls = re.findall(r"pair nequip: (\d+) calls, model [0-9.eE+-]+ s \(([0-9.eE+-]+) ms/call\)", log)
    seconds, n = float(loops[-1][0]), int(loops[-1][1])
    return {"ms_per_step": 1e3 * seconds / n, "ms_per_call": float(calls[-1][1]),
            "formats": sorted(set(re.findall(r"pair nequip: loaded (\w+) model", log)))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_accelerate", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="rounds, each running both routes (default 5)")
    p.add_argument("--steps", type=int, default=500, help="timed MD steps per run (default 500)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (OMP_NUM_THREADS; default 1, as the demo)")
    p.add_argument("--json", type=Path, help="write the results here")
    a = p.parse_args(argv)
    check = subprocess.run([sys.executable, "-m", "models.accelerate", str(BUNDLE), "--check"], cwd=ROOT,
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(check.stderr.strip() or "the compiled members are missing: python -m models.accelerate")
    routes = {"torchscript": {}, "aoti": {"model": check.stdout.strip(), "baseline": BUNDLE / "baseline.in"}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "beamheat.build", "--out", str(work), "--support", "hbn",
                        "--diameter-nm", "1.0", "--height-ratio", "0.7", "--margin-A", "6"], check=True,
                       capture_output=True)
        (work / "in.bench").write_text(INPUT)
        rows = {r: [] for r in routes}
        for i in range(a.rounds):
            for route, extra in routes.items():
                rows[route].append(lmp(work, a.steps, a.threads, extra))
            print(f"round {i + 1}/{a.rounds}: " + ", ".join(
                f"{r} {rows[r][-1]['ms_per_step']:.2f} ms/step" for r in routes), flush=True)
    res = {"system": "Au45 on monolayer hBN (261 atoms), the main job's", "steps": a.steps, "rounds": a.rounds,
           "threads": a.threads, "potential": "potentials/nequip.in defaults: ensemble first sigma_every 10, "
                                               "5 members, overlaid on baseline.in",
           "routes": {}}
    for r in routes:
        res["routes"][r] = {"formats": rows[r][0]["formats"],
                            "median_ms_per_step": statistics.median(x["ms_per_step"] for x in rows[r]),
                            "median_ms_per_call": statistics.median(x["ms_per_call"] for x in rows[r]),
                            "ms_per_step": [x["ms_per_step"] for x in rows[r]]}
    ratios = [t["ms_per_step"] / c["ms_per_step"] for t, c in zip(rows["torchscript"], rows["aoti"])]
    res["speedup_median"] = statistics.median(ratios)
    res["speedup_range"] = [min(ratios), max(ratios)]
    for r, v in res["routes"].items():
        print(f"{r:12s} {v['median_ms_per_step']:7.2f} ms/step  {v['median_ms_per_call']:7.2f} ms/model call  "
              f"({', '.join(v['formats'])})")
    print(f"speed-up (torchscript / aoti, median of per-round ratios): {res['speedup_median']:.2f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f})")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
