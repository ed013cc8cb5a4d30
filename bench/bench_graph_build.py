"""Benchmark: pair_style nequip's graph built on the host every step against the graph kept on the model's device.

    python -m bench.bench_graph_build [--model FILE] [--arch tiny|paper] [--repeat 10,10,5] [--rounds 5]
                                      [--steps 20] [--threads 2] [--device cpu|cuda|cuda:N] [--json OUT]

System: Au octahedron on a B2 CuPd slab of REPEAT cells (10,10,5: 1019 atoms; 22,22,10: ~9.7k), `p p f` with 15 A
of vacuum, velocities at 300 K, NVE, LAMMPS's default neighbour settings (skin 2 A, rebuilt when an atom moved
half of it). Model: FILE, or one trained for one epoch in the `tiny` (default) or `paper` architecture
(bench.lib.systems; the weights do not change the cost). One MPI rank, the periodic-image graph.

Each route is its own `lmp` process (`pair_style nequip device DEV graph_build host|device`; model load and a
2-step warm-up excluded), the two alternating in `rounds` rounds so machine noise hits them alike; medians are
reported. Per route: the step time (LAMMPS's `Loop time` / steps), and from the style's own timing line the graph
and model time per call, the graph's share of the step and the neighbour-list rebuilds of the timed run.
Nothing here asserts a time.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

from bench.lib.jobs import loop_time
from bench.lib.lmp import check_timing_args, lmp_output
from bench.lib.systems import ARCH, TYPES, build_model, md_input, write_system
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import write_json

ROUTES = ("host", "device")
TIMING = re.compile(r"pair nequip: (\d+) calls, model [0-9.eE+-]+ s \(([0-9.eE+-]+) ms/call\), graph [0-9.eE+-]+ s "
                    r"\(([0-9.eE+-]+) ms/call\), (\d+) edges/call; graph (.*)")


def timing(out: str) -> dict:
    """The style's timing line of the last run: model and graph ms per call, edges per call, rebuilds."""
    rows = TIMING.findall(out)
    if not rows:
        raise UserError("no 'pair nequip: ... calls' timing line in the LAMMPS output")
    calls, model_ms, graph_ms, edges, how = rows[-1]
    m = re.search(r"(\d+) neighbour-list rebuild", how)
    return {"model_ms": float(model_ms), "graph_ms": float(graph_ms), "edges": int(edges),
            "rebuilds": int(m.group(1)) if m else None, "graph": how}


def bench(a, model: Path, tmp: Path) -> dict:
    n = write_system(tmp / "sys.data", a.repeat)
    rows = {r: [] for r in ROUTES}
    print(f"{n} atoms, model {model.name}, device {a.device}, {a.threads} threads, {a.rounds} rounds x {a.steps} "
          f"steps, separate processes", flush=True)
    for k in range(a.rounds):
        for route in ROUTES:
            pair = (f"nequip device {a.device} graph_build {route}\npair_coeff * * {model} {' '.join(TYPES)}")
            out = lmp_output(tmp, md_input("sys.data", pair, a.steps), a.threads)
            row = {"step_ms": 1e3 * loop_time(out) / a.steps, **timing(out)}
            rows[route].append(row)
        print(f"round {k + 1}: " + ", ".join(
            f"{r} step {rows[r][-1]['step_ms']:.1f} ms (graph {rows[r][-1]['graph_ms']:.2f}, model "
            f"{rows[r][-1]['model_ms']:.1f})" for r in ROUTES), flush=True)
    med = {r: {key: statistics.median(row[key] for row in rows[r]) for key in ("step_ms", "graph_ms", "model_ms")}
           for r in ROUTES}
    for r in ROUTES:
        med[r]["graph_share_of_step"] = med[r]["graph_ms"] / med[r]["step_ms"]
        med[r]["edges"] = rows[r][-1]["edges"]
        med[r]["rebuilds_per_run"] = [row["rebuilds"] for row in rows[r]]
    import torch

    return {"n_atoms": n, "repeat": list(a.repeat), "model": str(model), "arch": a.arch if not a.model else "given",
            "device": a.device, "threads": a.threads, "rounds": a.rounds, "steps": a.steps,
            "torch": torch.__version__, "cpu": cpu_name(), "median": med,
            "graph_ms_host_over_device": med["host"]["graph_ms"] / med["device"]["graph_ms"],
            "step_host_over_device": med["host"]["step_ms"] / med["device"]["step_ms"],
            "per_round": rows}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{os.cpu_count()} cores"


def report(res: dict) -> None:
    print(f"\n{res['n_atoms']} atoms on {res['device']} ({res['cpu']}), medians of {res['rounds']} rounds:")
    for r in ROUTES:
        m = res["median"][r]
        print(f"  graph_build {r:6s}: step {m['step_ms']:8.2f} ms, graph {m['graph_ms']:7.3f} ms/call "
              f"({100 * m['graph_share_of_step']:.1f}% of the step), model {m['model_ms']:8.2f} ms/call, "
              f"{m['edges']} edges, rebuilds per run {m['rebuilds_per_run']}")
    print(f"  graph time host / device: {res['graph_ms_host_over_device']:.2f}x; step time host / device: "
          f"{res['step_host_over_device']:.3f}x")


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m bench.bench_graph_build", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 2)[2], formatter_class=HelpFormatter)
    p.add_argument("--model", help="compiled model (.nequip.pth) instead of training one")
    p.add_argument("--arch", choices=sorted(ARCH), default="tiny",
                   help="architecture of the model trained when --model is not given (default tiny)")
    p.add_argument("--repeat", default="10,10,5",
                   help="slab cells along x,y,z (default 10,10,5: 1019 atoms; 22,22,10: ~9.7k atoms)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--steps", type=int, default=20, help="timed MD steps per run (default 20)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of each lmp process (default 2)")
    p.add_argument("--device", default="cpu", help="pair_style nequip device: cpu (default), cuda or cuda:N")
    p.add_argument("--json", help="write the results here (an existing file is refused)")
    return p


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    check_timing_args(a, ("rounds", "steps", "threads"))
    out = v.output_file(a.json, "--json")
    model = v.input_file(a.model, "--model", "model file").resolve() if a.model else None
    with tempfile.TemporaryDirectory(prefix="bench_graph_build_") as d:
        tmp = Path(d)
        res = bench(a, model or build_model(tmp, a.arch), tmp)
    report(res)
    if out:
        write_json(out, res)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
