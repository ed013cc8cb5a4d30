"""Benchmark: pair_style nequip on several MPI ranks. Not a test; nothing here asserts a time.

    python -m bench.bench_mpi [--model FILE] [--rounds 5] [--steps 10] [--json OUT] [--table-only | --no-table]
                              [--device cpu|cuda|cuda:N|auto] [--configs 1x1,1x2,2x1,4x1[:GRAPH]] [--contention]

1. Steps/s against ranks. System: Au octahedron (19 atoms) on a 20x20x10 B2 CuPd slab, 8019 atoms, `p p f` with
   vacuum; the tiny 2-block model (r_max 4 A, models/configs/tiny.yaml, one epoch: weights do not change the cost).
   Each configuration is its own `mpirun -np N lmp` process (model load and a 2-step warm-up excluded: the time is
   LAMMPS's `Loop time` of `run STEPS`), run interleaved in `rounds` rounds so machine noise hits them alike;
   medians are reported. Configurations: 1 rank x 1 thread (periodic-image graph), 1 rank x 2 threads, 2 ranks x 1
   thread (the style's default on several ranks: feature exchange), and 4 ranks x 1 thread (oversubscribed on 2
   cores, for the record); `2x1:ghosts` names a route (pair_style nequip's graph keyword) explicitly. The slab is split
   in x and y only (`processors * * 1`): LAMMPS splits space, not atoms, and a cut along z would give one rank the
   slab and the other the vacuum (seen: 122k against 31k edges per rank, slower than one rank).
   `--contention` adds, per round, half the slab (20x10x10, one rank's share) on 1 rank alone and as two 1-rank
   processes started together: the slow-down of sharing the machine, and the ceiling of a 2-rank run that did no
   redundant work (1-rank time of the whole slab over the two-at-once time of half of it).
   `--device` is passed to `pair_style nequip device ...` (default: no keyword, i.e. the style's `auto`, which is
   the CPU on a machine without a GPU; with GPUs each rank takes GPU local rank mod GPUs). `--configs` picks the
   RANKSxTHREADS configurations (default the four above); one using more cores than the machine has is labelled
   oversubscribed.
2. Redundant work against system size, rank count and L. `run 0` per case; the plugin logs the nodes and edges
   of all ranks' graphs: redundant = 1 - atoms / sum(nodes) and 1 - one-rank edges / sum(edges). L is set with
   `interaction_blocks` on a copy of the model without the recorded value (the counts are those an L-block
   model needs; the forces of that run are not the point), `graph ghosts`. Feature exchange's graph is the L = 1
   row's for every L (own atoms' edges, ghosts within r_max), with no redundant edge work. Last column: the redundant edge work of an L-layer
   model pruned layer-wise (layer l sees only the edges centred within L-1-l hops of own atoms, as pair nequip
   runs nequip models): 1 - L x own edges / sum over layers of the edges each sees.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.lib.jobs import ROOT, loop_time
from bench.lib.systems import TYPES, md_input, write_system
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import read_json, write_json
from beamheat.lammps_command import lmp_command


def build_model(workdir: Path) -> Path:
    from models.demo_data import write_dataset
    from models.train import train

    data = write_dataset(workdir / "frames.extxyz", n_frames=24, seed=0)
    ckpt = train(ROOT / "models/configs/tiny.yaml", data, workdir / "train_tiny",
                 ["trainer.max_epochs=1", "n_train=18", "n_val=6"])
    out = workdir / "tiny.nequip.pth"
    subprocess.run([sys.executable, "-m", "models.deploy", str(ckpt), str(out)], check=True, cwd=ROOT,
                   capture_output=True)
    return out


def strip_blocks(model: Path, out: Path) -> Path:
    import torch

    extra = {k: "" for k in ("r_max", "type_names", "num_types", "model_dtype", "allow_tf32")}
    torch.jit.save(torch.jit.load(str(model), _extra_files=extra), str(out), _extra_files=extra)
    return out


def start_lmp(workdir: Path, text: str, nprocs: int, threads: int) -> subprocess.Popen:
    """`mpirun -np NPROCS lmp -in in.bench` (the venv's) in workdir, OMP_NUM_THREADS=threads, started, not waited for."""
    (workdir / "in.bench").write_text(text)
    return subprocess.Popen(lmp_command("in.bench", nprocs=nprocs, log="none"), cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS=str(threads)))


def finish_lmp(p: subprocess.Popen, workdir: Path, timeout=1200) -> str:
    """The output of a process start_lmp started in workdir; a failed run is a one-line error (LAMMPS' ERROR line)."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    if p.returncode != 0:
        lines = (out + err).strip().splitlines()
        why = next((ln for ln in reversed(lines) if ln.startswith("ERROR")), lines[-1] if lines else "no output")
        raise UserError(f"{workdir / 'in.bench'}: lmp exit {p.returncode}: {why.strip()[:300]}")
    return out


def lmp(workdir: Path, text: str, nprocs: int, threads: int, timeout=1200) -> str:
    return finish_lmp(start_lmp(workdir, text, nprocs, threads), workdir, timeout)


def lmp_side_by_side(workdir: Path, text: str, copies: int) -> list[str]:
    """`copies` one-rank, one-thread `lmp` processes started together, each in its own folder; their outputs."""
    dirs = [workdir / f"copy_{k}" for k in range(copies)]
    for d in dirs:
        d.mkdir(exist_ok=True)
    procs = [start_lmp(d, text.replace("read_data ", "read_data ../"), 1, 1) for d in dirs]
    return [finish_lmp(p, d) for p, d in zip(procs, dirs)]


def pair_style(device: str | None) -> str:
    """`nequip` (the style's default device, auto) or `nequip device DEV`."""
    return "nequip" if not device else f"nequip device {device}"


def config_name(ranks: int, threads: int, graph: str = "") -> str:
    name = f"{ranks} rank{'s' if ranks > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"
    name += f", graph {graph}" if graph else ""
    return name + (" (oversubscribed)" if ranks * threads > (os.cpu_count() or 1) else "")


GRAPHS = ("exchange", "ghosts", "images")


def parse_configs(text: str) -> list[tuple[int, int, str]]:
    out = []
    for item in text.replace(",", " ").split():
        spec, _, graph = item.lower().partition(":")
        try:
            r, t = (int(x) for x in spec.split("x"))
            if r < 1 or t < 1 or graph not in ("", *GRAPHS):
                raise ValueError
        except ValueError:
            raise UserError(f"--configs {item!r}: expected RANKSxTHREADS[:GRAPH] with whole numbers >= 1 and GRAPH "
                            f"one of {', '.join(GRAPHS)}, e.g. 2x1 or 2x1:ghosts") from None
        out.append((r, t, graph))
    return out


HALF_ALONE = "half the atoms, 1 rank x 1 thread, alone"
HALF_TWO = "half the atoms, 1 rank x 1 thread, two processes at once (mean)"


def speed(a, model: Path, tmp: Path) -> dict:
    n = write_system(tmp / "big.data", (20, 20, 10))
    configs = [(config_name(r, t, g), r, t, g) for r, t, g in parse_configs(a.configs)]
    pair = f"{pair_style(a.device)}\npair_coeff * * {model} {' '.join(TYPES)}"
    times = {c[0]: [] for c in configs}
    print(f"speed: {n} atoms, {a.rounds} rounds x {a.steps} steps, separate processes, pair_style {pair_style(a.device)}",
          flush=True)
    if a.contention:  # one rank's share of the atoms (half the slab), alone and two processes at once
        half = write_system(tmp / "half.data", (20, 10, 10))
        times[HALF_ALONE], times[HALF_TWO] = [], []
    for r in range(a.rounds):
        for name, np_, th, graph in configs:
            pg = pair.replace("\n", f" graph {graph}\n", 1) if graph else pair
            t = loop_time(lmp(tmp, md_input("big.data", pg, a.steps), np_, th)) / a.steps
            times[name].append(t)
        if a.contention:
            times[HALF_ALONE].append(loop_time(lmp(tmp, md_input("half.data", pair, a.steps), 1, 1)) / a.steps)
            two = lmp_side_by_side(tmp, md_input("half.data", pair, a.steps), 2)
            times[HALF_TWO].append(statistics.mean(loop_time(o) for o in two) / a.steps)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1] * 1e3:.0f} ms" for k, v in times.items()), flush=True)
    res = summarise(times, n, a.rounds, a.steps)
    if a.contention:
        add_contention(res, half)
    return res


def add_contention(res: dict, half_atoms: int) -> None:
    """From the medians of the half-slab rows: what two processes at once cost, and the 2-rank ceiling."""
    med = res["median_step_ms"]
    res["contention"] = {
        "half_system_atoms": half_atoms,
        "slowdown_two_processes_at_once": med[HALF_TWO] / med[HALF_ALONE],
        "ceiling_2_ranks_no_redundant_work": med.get("1 rank x 1 thread", float("nan")) / med[HALF_TWO]}
    print(f"\ncontention: two one-rank processes at once on {half_atoms} atoms each take "
          f"{res['contention']['slowdown_two_processes_at_once']:.2f}x the time of one alone; 2 ranks without any "
          f"redundant work could reach {res['contention']['ceiling_2_ranks_no_redundant_work']:.2f}x here")



def summarise(times: dict, n: int, rounds: int, steps: int) -> dict:
    """Medians, and the fastest round (least disturbed by other jobs on a shared machine) as a second estimate."""
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    base_name = "1 rank x 1 thread" if "1 rank x 1 thread" in med else next(iter(med))
    base = med[base_name]
    res = {"n_atoms": n, "rounds": rounds, "steps": steps, "median_step_ms": {k: v * 1e3 for k, v in med.items()},
           "steps_per_s": {k: 1 / v for k, v in med.items()},
           "speedup_vs_1rank_1thread": {k: base / v for k, v in med.items()},
           "fastest_round_step_ms": {k: v * 1e3 for k, v in best.items()},
           "fastest_round_speedup_vs_1rank_1thread": {k: best[base_name] / v for k, v in best.items()},
           "per_round_ms": {k: [t * 1e3 for t in v] for k, v in times.items()}}
    if "1 rank x 2 threads" in med and "2 ranks x 1 thread" in med:
        res["speedup_2ranks_vs_1rank_2threads"] = med["1 rank x 2 threads"] / med["2 ranks x 1 thread"]
    if base_name != "1 rank x 1 thread":  # speed-ups are then against the first configuration
        res["speedup_base"] = base_name
    print(f"\n| configuration | median ms/step | steps/s | speed-up vs {base_name} | fastest round ms | "
          "speed-up (fastest rounds) |")
    print("|---|---|---|---|---|---|")
    for k in med:
        print(f"| {k} | {med[k] * 1e3:.0f} | {1 / med[k]:.2f} | {base / med[k]:.2f} | {best[k] * 1e3:.0f} | "
              f"{best[base_name] / best[k]:.2f} |")
    return res


def table(a, model: Path, tmp: Path) -> list[dict]:
    bare = strip_blocks(model, tmp / "bare.nequip.pth")
    rows = []
    sizes = [(5, 5, 5), (10, 10, 5), (20, 20, 10), (30, 30, 10)]
    print("\n| atoms | ranks | L | ghost shell (A) | redundant nodes | redundant edges | redundant edge work, L layers "
          "pruned layer-wise |")
    print("|---|---|---|---|---|---|---|")
    for rep in sizes:
        n = write_system(tmp / "t.data", rep)
        for ranks in (2, 4, 8):
            for L in (1, 2, 4):
                text = f"""units metal
atom_style atomic
boundary p p f
processors * * 1
read_data t.data
pair_style {pair_style(a.device)} interaction_blocks {L} graph ghosts
pair_coeff * * {bare} {' '.join(TYPES)}
run 0
"""
                out = lmp(tmp, text, ranks, 1)
                m = re.search(r"ghost graphs over \d+ rank\(s\): (\d+) nodes and (\d+) edges per step for (\d+) atoms; "
                              r"redundant work ([0-9.]+)% of nodes, ([0-9.]+)% of edges \(ghost shell ([0-9.]+) A\)", out)
                p = re.search(r"edges per step centred within 0\.\.\d+ hops of own atoms: ([0-9, ]+); pruned layer-wise, "
                              r"\d+ layers do ([0-9.]+)% redundant edge work", out)
                row = {"atoms": n, "ranks": ranks, "L": L, "ghost_shell_A": float(m.group(6)),
                       "nodes": int(m.group(1)), "edges": int(m.group(2)),
                       "redundant_nodes": float(m.group(4)) / 100, "redundant_edges": float(m.group(5)) / 100,
                       "edges_centred_within_hops": [int(e) for e in p.group(1).split(", ")],
                       "redundant_edge_work_pruned": float(p.group(2)) / 100}
                rows.append(row)
                print(f"| {n} | {ranks} | {L} | {row['ghost_shell_A']:g} | {m.group(4)}% | {m.group(5)}% | {p.group(2)}% |",
                      flush=True)
    return rows


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m bench.bench_mpi", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--model", help="compiled tiny model, .nequip.pth (default: train one for one epoch)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of every configuration (default 5)")
    p.add_argument("--steps", type=int, default=10, help="MD steps timed per run, 2 fs each (default 10); times "
                                                          "are reported in ms per step")
    p.add_argument("--json", help="write results here (JSON)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json")
    p.add_argument("--device", help="pair_style nequip device: cpu, cuda, cuda:N or auto (default: no keyword, the "
                                    "style's auto: the CPU where torch sees no GPU)")
    p.add_argument("--configs", default="1x1,1x2,2x1,4x1",
                   help="RANKSxTHREADS[:GRAPH] configurations for the speed runs; GRAPH is pair_style nequip's graph "
                        "keyword (exchange, ghosts, images; default: none, the style's auto: exchange on several "
                        "ranks for a model that allows it) (default 1x1,1x2,2x1,4x1)")
    p.add_argument("--resummarise", help="recompute the summary of a JSON written earlier (per-round times) in place")
    p.add_argument("--contention", action="store_true",
                   help="also time half the slab (one rank's share) on 1 rank alone and as two processes at once: "
                        "what sharing the machine costs, and the 2-rank speed-up with no redundant work")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--table-only", action="store_true")
    g.add_argument("--no-table", action="store_true")
    a = p.parse_args(argv)
    if a.resummarise:
        r = read_json(v.input_file(a.resummarise, "--resummarise", "results JSON"), "bench_mpi results")
        sp = r.get("speed") if isinstance(r, dict) else None
        if not isinstance(sp, dict) or "per_round_ms" not in sp:
            raise UserError(f"{a.resummarise}: no speed.per_round_ms: not a bench_mpi.py result (--resummarise)")
        times = {k: [t / 1e3 for t in tv] for k, tv in sp["per_round_ms"].items()}
        r["speed"] = summarise(times, sp["n_atoms"], sp["rounds"], sp["steps"])
        if "contention" in sp:
            add_contention(r["speed"], sp["contention"]["half_system_atoms"])
        write_json(a.resummarise, r)
        return 0
    v.integer("--rounds", a.rounds, 1)
    v.integer("--steps", a.steps, 1)
    parse_configs(a.configs)
    if a.model:
        v.input_file(a.model, "--model", "model file")
    v.output_file(a.json, "--json", force=a.force)
    tmp = Path(tempfile.mkdtemp(prefix="bench_mpi_"))
    model = Path(a.model).resolve() if a.model else build_model(tmp)
    result = {"model": str(model), "cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    if a.device:
        result["device"] = a.device
    if not a.table_only:
        result["speed"] = speed(a, model, tmp)
    if not a.no_table:
        result["redundant_work"] = table(a, model, tmp)
    result["load_average_at_end"] = os.getloadavg()
    if a.json:
        write_json(a.json, result)
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
