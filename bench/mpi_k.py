"""Does `mpirun -np 2` give the one-rank k? A protocol input on the bundled NequIP ensemble, 1 rank against 2.

--protocol transient (default) runs lammps_inputs/heat_transfer.in (thermalisation, then NVE cooling; fit_k's
energy balance over the NVE); --protocol steady runs lammps_inputs/steady_state.in (start at 550/300 K, then the
particle heated at --power eV/ps with the support's bath removing it; fit_k --steady over the window after
--equil-ps). Both use -var potential nequip on the main job's system (Au45 on hBN, 261 atoms), --seeds seeds, each
once with `mpirun -np 1` and once with `mpirun -np 2` (one torch thread per rank). The 2-rank side runs the bundled
TorchScript members (the compiled ones carry no receptive field and run on one rank only); the 1-rank side runs
them too, or with --one-rank-members compiled the compiled members (`python -m models.accelerate --check`, with the
bundle's baseline: forces equal to the TorchScript members' to 6e-15 eV/Å, 1.7x faster). Reported:

  trajectory  the largest |T_np(2 ranks) - T_np(1 rank)| over the first 1, 5 and 20 ps of NVE (transient) or of
              heating (steady), same seed. The forces agree to round-off (tests/mpi/test_pair_nequip_mpi.py), but fix
              langevin draws its noise per rank, so the thermalisation already differs and the two runs are
              independent samples: this column shows that, and k is the comparison (from one and the same state
              the protocols follow the same trajectory on 1 and 2 ranks: tests/mpi/test_pair_nequip_mpi.py);
  k           python -m analysis.fit_k (with --steady for the steady protocol) on the 1-rank runs and on the
              2-rank runs (combined k and its error), and their difference in combined standard errors (within 2 =
              the same within statistical error);
  speed       ms per MD step of each run (LAMMPS' Loop time of the last block over its steps).

The 1-rank runs go two at a time, the 2-rank runs one at a time (2 cores). Finished runs are kept; OUT/settings.json
records the protocol, and another protocol into the same OUT is refused. Results: RESULTS.json and RESULTS.md, not
overwritten without --force.

--one-rank-from DIR (transient only) takes the 1-rank side from a bench/validate_bundled.py folder instead of running
it: all its finished student runs (DIR/nequip_<seed>/log.lammps, the compiled members on one rank). Its settings.json
must have this --therm-ps and --nve-ps, and its system.data must be OUT's (copied into OUT when OUT has none), so
that both sides run the same protocol on the same system; only the 2-rank runs are run.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from analysis.k_inputs import pick_stage_block
from bench.lib.jobs import ROOT, STUDENT, build_system, log_done, say
from bench.lib.records import fmt, machine_info, pm, results_files
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write, read_json, write_json
from beamheat.lammps_command import lmp_command
from beamheat.lammps_log import read_thermo
from beamheat.markers import HEAT, NVE_CONTACT
from beamheat.readers import json_object, number

# per protocol: the input, the stage whose block is analysed (and its name in the report), fit_k's extra options,
# the default results prefix, and a title
PROTOCOLS = {
    "transient": {"input": ROOT / "lammps_inputs" / "heat_transfer.in", "stage": NVE_CONTACT, "stage_word": "NVE",
                  "fit_k": [], "results": "bench/results/mpi_k_au45_hbn", "title": "heat_transfer.in (transient)"},
    "steady": {"input": ROOT / "lammps_inputs" / "steady_state.in", "stage": HEAT, "stage_word": "heating",
               "fit_k": ["--steady"], "results": "bench/results/mpi_k_au45_hbn_steady",
               "title": "steady_state.in (steady state)"},
}
LOOP_RE = re.compile(rb"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps")


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m bench.mpi_k", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--out", default="runs/mpi_k", help="folder for the system and the runs (default runs/mpi_k)")
    p.add_argument("--results", help="prefix of RESULTS.json and RESULTS.md (default bench/results/mpi_k_au45_hbn, "
                   "with _steady appended for --protocol steady)")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), default="transient",
                   help="transient: heat_transfer.in; steady: steady_state.in (default transient)")
    p.add_argument("--force", action="store_true", help="overwrite existing results files")
    p.add_argument("--seeds", type=int, default=2, help="seeds, each run on 1 and on 2 ranks (default 2)")
    p.add_argument("--seed0", type=int, default=48213, help="seed i is SEED0 + 1000·i (default 48213, the demo's)")
    p.add_argument("--therm-ps", type=float, default=5.0,
                   help="thermalisation (transient: at 600/300 K; steady: the start stage at 550/300 K), ps "
                        "(default 5)")
    p.add_argument("--nve-ps", type=float, default=40.0,
                   help="transient: NVE after contact; steady: the analysis window after --equil-ps, ps (default 40)")
    p.add_argument("--equil-ps", type=float, default=10.0,
                   help="steady: heating before the window, not analysed, ps (default 10)")
    p.add_argument("--power", type=float, default=0.0075,
                   help="steady: heating power P, eV/ps (default 0.0075: ΔT = P/(kA) ≈ 250 K on this interface, "
                        "so the particle stays near the 550 K it starts at)")
    p.add_argument("--one-rank-members", choices=["torchscript", "compiled"], default="torchscript",
                   help="the members the 1-rank runs use: the TorchScript ones (as on 2 ranks) or the compiled ones "
                        "(python -m models.accelerate; same forces, faster) (default torchscript)")
    p.add_argument("--one-rank-from", metavar="DIR",
                   help="a bench/validate_bundled.py folder whose student runs are the 1-rank side (see below; "
                        "default: run the 1-rank side here)")
    return p.parse_args(argv)


def compiled_members() -> dict[str, str]:
    """-var model and -var baseline for the compiled bundled members (refused in one line when missing or stale)."""
    from models.accelerate import compiled_files, default_bundle, stale_reason

    bundle = default_bundle()
    why = stale_reason(bundle)
    if why:
        raise UserError(f"--one-rank-members compiled: {why} (run python -m models.accelerate)")
    return {"model": " ".join(map(str, compiled_files(bundle))), "baseline": str(bundle / "baseline.in")}


def command(ranks: int, seed: int, data: Path, a, members: dict[str, str]) -> list[str]:
    """The run's `mpirun -np RANKS lmp` command; MEMBERS: -var model and baseline (none: the bundled members)."""
    variables = {"inputs": ROOT / "lammps_inputs", "data": data, "potential": "nequip", **members, "seed": seed}
    if a.protocol == "steady":
        variables.update(t_start_ps=fmt(a.therm_ps), t_equil_ps=fmt(a.equil_ps), t_steady_ps=fmt(a.nve_ps),
                         P_eV_per_ps=fmt(a.power))
    else:
        variables.update(t_therm_ps=fmt(a.therm_ps), t_nve_ps=fmt(a.nve_ps), dump_ps=1)
    return lmp_command(PROTOCOLS[a.protocol]["input"], variables, ranks, log="log.lammps", screen="none")


def run_one(job: dict) -> dict:
    d = Path(job["dir"])
    d.mkdir(parents=True, exist_ok=True)
    log = d / "log.lammps"
    if log_done(log):
        say(f"{d.name}: already done, not rerun")
        return job
    say(f"{d.name}: start")
    t = time.perf_counter()
    p = subprocess.run(job["cmd"], cwd=d, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
    job["wall_s"] = time.perf_counter() - t
    if p.returncode != 0 or not log_done(log):
        tail = (p.stdout + p.stderr).strip().splitlines()
        raise UserError(f"{log}: run failed (exit {p.returncode}){': ' + tail[-1][:300] if tail else ''}")
    say(f"{d.name}: finished in {job['wall_s']:.0f} s")
    return job


def analysed_block(log: Path, stage: str):
    """Time from the start of the analysed stage's block (ps) and T_np there (K)."""
    th = read_thermo(log)
    b = pick_stage_block(th, log, stage, None)
    m = th.block == b
    return th["Time"][m] - th["Time"][m][0], th["v_T_np"][m]


def ms_per_step(log: Path) -> float | None:
    loops = LOOP_RE.findall(log.read_bytes())
    if not loops:
        return None
    secs, _, steps = loops[-1]     # the NVE block is the input's last run
    return 1000 * float(secs) / int(steps)


def fit_k(logs: list[Path], geometry: Path, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "analysis.fit_k", *map(str, logs), *extra, "--geometry", str(geometry),
           "--json", str(out), "--table", str(out.with_suffix("")) + "_table", "--no-plot", "--force"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode not in (0, 1) or not out.is_file():
        raise UserError(f"fit_k failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
    r = json_object(out, "fit_k result")
    return {"k": number(r, "k_eV_per_nm2_ps_K", out, required=False),
            "err": number(r, "k_err_eV_per_nm2_ps_K", out, required=False), "reliable": r.get("reliable"),
            "n_runs_combined": r.get("n_runs_combined", 1), "command": shlex.join(cmd)}


def protocol(out: Path, a) -> None:
    """OUT/settings.json records the protocol of the runs in OUT; finished runs are reused, so another protocol
    into the same OUT is refused rather than mixed."""
    f, ours = out / "settings.json", {"therm_ps": a.therm_ps, "nve_ps": a.nve_ps}
    if a.protocol == "steady":  # a transient OUT's settings.json (written before --protocol) has none of these
        ours.update(protocol="steady", equil_ps=a.equil_ps, power_eV_per_ps=a.power)
    if f.is_file():
        theirs = read_json(f, "--out settings")
        if {k: theirs.get(k) for k in set(ours) | set(theirs)} != ours:
            said = ", ".join(f"{k} {theirs[k]}" for k in sorted(theirs))
            want = ", ".join(f"{k} {ours[k]:g}" if not isinstance(ours[k], str) else f"{k} {ours[k]}"
                             for k in sorted(ours))
            raise UserError(f"{f}: the runs in {out} have {said}, not {want} (use another --out)")
    elif any(out.glob("np[12]_*/log.lammps")):
        raise UserError(f"{out}: holds runs but no settings.json, so their protocol is unknown (use another --out)")
    else:
        write_json(f, ours)


def one_rank_runs(src: Path, out: Path, a) -> list[Path]:
    """The finished student runs of the validate_bundled folder SRC, checked to run this protocol on OUT's system
    (copied from SRC when OUT has none)."""
    v.input_dir(src, "--one-rank-from", "bench/validate_bundled.py folder")
    settings = read_json(src / "settings.json", "--one-rank-from settings")
    for key, ours in (("therm_ps", a.therm_ps), ("nve_ps", a.nve_ps)):
        theirs = settings.get(key)
        if not isinstance(theirs, (int, float)) or not math.isclose(theirs, ours):
            raise UserError(f"{src / 'settings.json'}: {key} is {theirs}, not this run's {ours:g} "
                            f"(give --{key.replace('_', '-')} {theirs})")
    for name in ("system.data", "geometry.json"):
        theirs, ours = src / name, out / name
        v.input_file(theirs, "--one-rank-from")
        if not ours.is_file():
            atomic_write(ours, theirs.read_text())
        elif ours.read_bytes() != theirs.read_bytes():
            raise UserError(f"{ours}: not the same system as {theirs} (use another --out)")
    logs = [lg for lg in sorted(src.glob(f"{STUDENT}_[0-9]*/log.lammps")) if log_done(lg)]
    if not logs:
        raise UserError(f"{src}: no finished student runs ({STUDENT}_<seed>/log.lammps)")
    return logs


def per_run(res_json: Path) -> list[dict]:
    """Each run's k from a fit_k JSON: log, k, err, reliable, and why it was left out of the combined k."""
    r = json_object(res_json, "fit_k result")
    excluded = {e["log"]: "; ".join(e.get("reasons", [])) for e in r.get("excluded_runs", [])}
    rows = [{"log": x["logs"][0], "k": number(x, "k_eV_per_nm2_ps_K", res_json, required=False),
             "err": number(x, "k_err_eV_per_nm2_ps_K", res_json, required=False),
             "reliable": x.get("reliable"), "excluded": excluded.get(x["logs"][0])} for x in r.get("runs", [r])
            if x.get("logs")]
    rows += [{"log": lg, "k": None, "err": None, "reliable": False, "excluded": why}
             for lg, why in excluded.items() if lg not in {x["log"] for x in rows}]
    return rows


def main(argv=None) -> int:
    a = parse_args(argv)
    v.integer("--seeds", a.seeds, 1)
    v.positive("--therm-ps", a.therm_ps, "ps")
    v.positive("--nve-ps", a.nve_ps, "ps")
    v.positive("--equil-ps", a.equil_ps, "ps")
    v.positive("--power", a.power, "eV/ps")
    if a.one_rank_from and a.protocol != "transient":
        raise UserError("--one-rank-from: validate_bundled runs are transient (heat_transfer.in); drop it for "
                        "--protocol steady")
    if a.one_rank_from and a.one_rank_members != "torchscript":
        raise UserError("--one-rank-members: the 1-rank side comes from --one-rank-from (its members), not run here")
    proto = PROTOCOLS[a.protocol]
    if a.results is None:
        a.results = proto["results"]
    members1 = compiled_members() if a.one_rank_members == "compiled" else {}
    out = Path(a.out).resolve()
    res_json, res_md = results_files(a.results, a.force)
    out.mkdir(parents=True, exist_ok=True)
    protocol(out, a)
    src = Path(a.one_rank_from).resolve() if a.one_rank_from else None
    logs1 = one_rank_runs(src, out, a) if src else None
    data, geometry, build = build_system(out)
    seeds = [a.seed0 + 1000 * i for i in range(1, a.seeds + 1)]
    jobs = {(r, s): {"ranks": r, "seed": s, "dir": str(out / f"np{r}_{s}"),
                     "cmd": command(r, s, data, a, members1 if r == 1 else {})}
            for r in ((2,) if src else (1, 2)) for s in seeds}
    if not src:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(run_one, [jobs[1, s] for s in seeds]))
        logs1 = [Path(jobs[1, s]["dir"]) / "log.lammps" for s in seeds]
    for s in seeds:
        run_one(jobs[2, s])
    logs2 = [Path(jobs[2, s]["dir"]) / "log.lammps" for s in seeds]
    one_rank_of = {int(lg.parent.name.rsplit("_", 1)[1]): lg for lg in logs1}

    traj = []
    for s, lg2 in zip(seeds, logs2):
        lg1 = one_rank_of.get(s)
        if lg1 is None:
            continue
        (t1, T1), (t2, T2) = analysed_block(lg1, proto["stage"]), analysed_block(lg2, proto["stage"])
        n = min(len(t1), len(t2))
        dT = np.abs(T2[:n] - T1[:n])
        traj.append({"seed": s, **{f"max_dT_np_first_{w}ps_K": float(dT[t1[:n] <= w].max()) for w in (1, 5, 20)},
                     "ms_per_step_1_rank": ms_per_step(lg1), "ms_per_step_2_ranks": ms_per_step(lg2)})
    ks = {r: fit_k(lgs, geometry, out / f"k_np{r}.json", proto["fit_k"]) for r, lgs in ((1, logs1), (2, logs2))}
    runs = {r: per_run(out / f"k_np{r}.json") for r in (1, 2)}
    have = all(ks[r]["k"] is not None and ks[r]["err"] is not None for r in (1, 2))
    gap = abs(ks[2]["k"] - ks[1]["k"]) / math.hypot(ks[1]["err"], ks[2]["err"]) if have else float("nan")
    def cd(ranks: int) -> list[str]:
        return [f"(cd {j['dir']} && OMP_NUM_THREADS=1 {shlex.join(j['cmd'])})"
                for (r, _), j in jobs.items() if r == ranks]

    one_cmds = ([f"1-rank runs: the student runs of {src} (bench/validate_bundled.py; its RESULTS md lists "
                 "their commands)"] if src else cd(1))
    members_1 = "compiled members" if a.one_rank_members == "compiled" else "TorchScript members"
    res = {"settings": vars(a), "one_rank_source": str(src) if src else f"run here ({members_1})",
           "trajectory": traj, "k": {str(r): v_ for r, v_ in ks.items()},
           "runs": {str(r): x for r, x in runs.items()},
           "k_difference_in_sigma": gap, "machine": machine_info(),
           "commands": [shlex.join(build)] + one_cmds + cd(2) + [ks[1]["command"], ks[2]["command"]]}
    side1 = (f"the {len(logs1)} finished student runs of `{src}` (bench/validate_bundled.py, same protocol and "
             "system: the compiled members, forces equal to the TorchScript members' to 6e-15 eV/Å)" if src else
             f"seeds {', '.join(map(str, seeds))} ({members_1}"
             + (": forces equal to the TorchScript members' to 6e-15 eV/Å)" if a.one_rank_members == "compiled"
                else ")"))
    steps = (f"{a.therm_ps:g} ps start at 550/300 K + heating at P = {a.power:g} eV/ps for {a.equil_ps:g} ps, then "
             f"the {a.nve_ps:g} ps window fit_k --steady analyses" if a.protocol == "steady" else
             f"{a.therm_ps:g} ps thermalisation + {a.nve_ps:g} ps NVE")
    L = [f"# {proto['title']} with the bundled NequIP ensemble on 1 and 2 MPI ranks", "",
         f"Au45 on hBN (261 atoms), {steps}. 2 ranks: seeds "
         f"{', '.join(map(str, seeds))} (TorchScript members, 1 torch thread per rank). 1 rank: {side1}.", "",
         "| ranks | combined k (eV/(nm² ps K)) | runs | combined | reliable |", "|---|---|---|---|---|"]
    L += [f"| {r} | {pm(ks[r]['k'], ks[r]['err'])} | {len(runs[r])} | {ks[r]['n_runs_combined']} | "
          f"{'yes' if ks[r]['reliable'] else 'no'} |" for r in (1, 2)]
    L += ["", (f"Difference: {gap:.2f} combined standard errors "
               f"({'the same within statistical error' if gap < 2 else 'NOT the same within statistical error'})."
               if have else "Difference: fit_k gave no k for one of the rank counts."), "",
          "Each run (fit_k; left out: not in the combined k):", "",
          "| ranks | run | k (eV/(nm² ps K)) | reliable alone | left out |", "|---|---|---|---|---|"]
    L += [f"| {r} | {Path(x['log']).parent.name} | {pm(x['k'], x['err']) if x['k'] is not None else '—'} | "
          f"{'yes' if x['reliable'] else 'no'} | {x['excluded'] or ''} |" for r in (1, 2) for x in runs[r]]
    L += ["", "Same seed, 1 against 2 ranks: largest |ΔT_np| over the first 1, 5 and 20 ps of "
          f"{proto['stage_word']} (K), and ms per step.",
          "fix langevin draws its noise per rank, so the same seed gives different thermalisations on 1 and 2 ranks:",
          "the runs are independent samples, and k above is the comparison. "
          + ("The 1-rank runs are the validation's (compiled members, run beside other work): their ms/step is not "
             "a speed comparison." if src else
             "The 1-rank runs ran two at a time and the 2-rank runs alone (one process per core either way)."), "",
          "| seed | 1 ps | 5 ps | 20 ps | ms/step 1 rank | ms/step 2 ranks |", "|---|---|---|---|---|---|"]
    L += [f"| {t['seed']} | {t['max_dT_np_first_1ps_K']:.3g} | {t['max_dT_np_first_5ps_K']:.3g} | "
          f"{t['max_dT_np_first_20ps_K']:.3g} | {t['ms_per_step_1_rank']:.1f} | {t['ms_per_step_2_ranks']:.1f} |"
          for t in traj]
    mi = res["machine"]
    L += ["", "## Machine", "", f"{mi.get('cpu', '?')}, {mi['cpu_count']} cores; git "
          f"{mi.get('git_commit', '?')[:12]}{' (dirty)' if mi.get('git_dirty') else ''}.", "", "## Commands", "",
          "```", *res["commands"], "```", ""]
    write_json(res_json, res)
    atomic_write(res_md, "\n".join(L))
    say(f"mpi_k: k on 1 rank {pm(ks[1]['k'], ks[1]['err'])}, on 2 ranks {pm(ks[2]['k'], ks[2]['err'])}: "
        f"{gap:.2f} sigma apart; wrote {res_md}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
