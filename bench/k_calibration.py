"""Are fit_k's stated errors on k honest on real MD? Many short runs of the classical teacher, one system.

Runs --runs independent heat-transfer runs of the classical Au/hBN potential (lammps_inputs/heat_transfer.in, the
main job's system and protocol, one seed each) and analyses each alone exactly as `python -m analysis.fit_k` does
(analysis.k_analysis.analyse_transient). Their pooled k (sum Q / (A sum int dT dt)) stands in for the truth: its
standard error is the run-to-run scatter over sqrt(runs). Reported:

  scatter   the standard deviation of the single-run k, relative to the pooled k: what one run really scatters by
  stated    the median of the single-run relative errors fit_k prints: honest if close to the scatter
  coverage  how many single-run 68 % and 95 % intervals hold the pooled k (about 68 % and 95 % if honest; all of
            them means the intervals are too wide, which is dishonest as well)
  noise     var[Q(t+L) - Q(t) - k A (I(t+L) - I(t))] against L over all runs, fitted by
            2 D L + 2 s^2 (1 - exp(-L / tau)): D is the interface's diffusive heat noise, to set against the
            fluctuation-dissipation value k_B T_np T_sub k A, and s, tau the bounded back-and-forth part.

The classical teacher is cheap (about 13 s per 90 ps run on one core), which is what makes 32 runs affordable.
Runs whose log already ends with "beamheat: stage done" are kept. Results: RESULTS.json and RESULTS.md, not
overwritten without --force.
"""

from __future__ import annotations

import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy.optimize import curve_fit

from analysis.cooling import integral_dT, interface_heat
from analysis.k_analysis import analyse_transient, usable
from analysis.k_inputs import load_geometry
from bench.lib.jobs import TEACHER, Job, build_system, lmp_command, run_job, say
from bench.lib.records import machine_info, results_files
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write, write_json
from beamheat.lammps_log import read_thermo
from beamheat.markers import NVE_CONTACT
from beamheat.units import K_B_EV_PER_K

LAGS_PS = (0.1, 0.2, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60)


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m bench.k_calibration", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--out", default="runs/k_calibration", help="folder for the system and the runs (default "
                   "runs/k_calibration; finished runs are kept)")
    p.add_argument("--results", default="bench/results/k_calibration_au45_hbn",
                   help="prefix of RESULTS.json and RESULTS.md (default bench/results/k_calibration_au45_hbn)")
    p.add_argument("--force", action="store_true", help="overwrite existing results files")
    p.add_argument("--runs", type=int, default=32, help="independent runs (default 32)")
    p.add_argument("--seed0", type=int, default=60000, help="seed of run i is SEED0 + 1000·i (default 60000)")
    p.add_argument("--therm-ps", type=float, default=15.0, help="thermalisation at 600/300 K, ps (default 15)")
    p.add_argument("--nve-ps", type=float, default=90.0, help="NVE after contact per run, ps (default 90, the "
                   "main job's)")
    p.add_argument("--diameter-nm", type=float, default=1.0, help="particle diameter, nm (default 1.0: Au45)")
    p.add_argument("--margin-A", type=float, default=6.0, help="support margin around the particle, Å (default 6)")
    p.add_argument("--jobs", type=int, default=2, help="LAMMPS processes at a time, 1 thread each (default 2)")
    return p.parse_args(argv)


def nve_series(log: Path):
    """t (from contact), Q and int dT dt of the nve_contact block, as fit_k's energy balance sees them."""
    th = read_thermo(log)
    blocks = [b for b in dict.fromkeys(th.block.tolist()) if th.stage_name(b) == NVE_CONTACT]
    if not blocks:
        raise UserError(f"{log}: no {NVE_CONTACT} block")
    m = th.block == blocks[-1]
    t = th["Time"][m] - th["Time"][m][0]
    return t, interface_heat(t, th["v_E_np"][m]), integral_dT(t, th["v_dT"][m]), th["v_T_np"][m], \
        th["v_T_support"][m]


def noise_model(series, k: float, area: float) -> dict:
    """var of the detrended heat increments against lag, and the fit described in the module docstring."""
    dt = series[0][0][1] - series[0][0][0]
    t_max = min(s[0][-1] for s in series)
    lags = np.array([L for L in LAGS_PS if L <= 0.7 * t_max and L >= dt])
    var = []
    for L in lags:
        n = int(round(L / dt))
        x = [Q - k * area * I for _, Q, I, _, _ in series]
        var.append(np.mean([np.mean((xi[n:] - xi[:-n]) ** 2) for xi in x]))
    var = np.array(var)

    def f(L, D, s2, tau):
        return 2 * D * L + 2 * s2 * (1 - np.exp(-L / tau))

    (D, s2, tau), _ = curve_fit(f, lags, var, p0=[var[-1] / lags[-1] / 2, var[-1] / 4, 5.0], sigma=var,
                                bounds=([0, 0, dt], [np.inf, np.inf, t_max]), maxfev=20000)
    TT = np.mean([np.mean(Tn * Ts) for _, _, _, Tn, Ts in series])
    return {"lags_ps": lags.tolist(), "var_eV2": var.tolist(), "fit_var_eV2": f(lags, D, s2, tau).tolist(),
            "D_eV2_per_ps": float(D), "D_fluctuation_dissipation_eV2_per_ps": float(K_B_EV_PER_K * TT * k * area),
            "slosh_eV": float(np.sqrt(s2)), "slosh_ps": float(tau), "mean_T_np_T_support_K2": float(TT)}


def markdown(res: dict) -> str:
    s, c, nm = res["settings"], res["calibration"], res["noise"]
    L = ["# Are fit_k's errors on k honest? Classical teacher, many runs", "",
         f"System: {res['system']}. Protocol: {s['therm_ps']:g} ps thermalisation at 600/300 K, {s['nve_ps']:g} ps "
         f"NVE, {c['n_runs']} runs (seeds {s['seed0']} + 1000·i), each analysed alone as `python -m analysis.fit_k` "
         f"does ({c['k_method']}).", "",
         "| quantity | value |", "|---|---|",
         f"| pooled k (stands in for the truth) | {c['k_pooled']:.4g} ± {c['k_pooled_se']:.2g} eV/(nm² ps K) |",
         f"| single-run scatter (std / pooled k) | {100 * c['scatter_rel']:.0f} % |",
         f"| stated single-run error, median | {100 * c['stated_rel_median']:.0f} % |",
         f"| stated / scatter | {c['stated_rel_median'] / c['scatter_rel']:.2f} |",
         f"| rms of (k_run − pooled) / stated σ | {c['z_rms']:.2f} |",
         f"| runs whose 68 % interval holds the pooled k | {c['hit68']}/{c['n_runs']} "
         f"({100 * c['hit68'] / c['n_runs']:.0f} %) |",
         f"| runs whose 95 % interval holds the pooled k | {c['hit95']}/{c['n_runs']} "
         f"({100 * c['hit95'] / c['n_runs']:.0f} %) |",
         f"| runs fit_k calls reliable alone | {c['n_reliable']}/{c['n_runs']} |", ""]
    if c["excluded"]:
        L += [f"{len(c['excluded'])} of {c['n_runs'] + len(c['excluded'])} runs are left out, as fit_k leaves them "
              "out of a combined k:", ""] + [f"- seed {e['seed']}: {'; '.join(e['reasons'])}" for e in c["excluded"]]
        L += [""]
    L += [
         "## Where the noise comes from", "",
         "var[ΔQ − k A ΔI] over a lag L, all runs, fitted by 2 D L + 2 s² (1 − exp(−L/τ)):", "",
         f"- D = {nm['D_eV2_per_ps']:.3g} eV²/ps; fluctuation–dissipation k_B ⟨T_np T_sup⟩ k A = "
         f"{nm['D_fluctuation_dissipation_eV2_per_ps']:.3g} eV²/ps",
         f"- bounded back-and-forth part: s = {nm['slosh_eV']:.3f} eV, τ = {nm['slosh_ps']:.2g} ps", "",
         "| L (ps) | var (eV²) | fit |", "|---|---|---|"]
    L += [f"| {x:g} | {y:.4g} | {z:.4g} |" for x, y, z in zip(nm["lags_ps"], nm["var_eV2"], nm["fit_var_eV2"])]
    L += ["", "## Runs", "", "| seed | k (eV/(nm² ps K)) | stated σ | reliable alone |", "|---|---|---|---|"]
    L += [f"| {r['seed']} | {r['k']:.4g} | {r['err']:.2g} | {'yes' if r['reliable'] else 'no'} |" for r in res["runs"]]
    mi = res["machine"]
    L += ["", "## Machine", "", f"{mi.get('cpu', '?')}, {mi['cpu_count']} cores; lammps "
          f"{mi.get('lammps_version', '?')}; git {mi.get('git_commit', '?')[:12]}"
          f"{' (dirty)' if mi.get('git_dirty') else ''}.", "", "## Commands", "", "```", *res["commands"], "```", ""]
    return "\n".join(L)


def main(argv=None) -> int:
    a = parse_args(argv)
    v.integer("--runs", a.runs, 3)
    v.integer("--jobs", a.jobs, 1)
    v.positive("--therm-ps", a.therm_ps, "ps")
    v.positive("--nve-ps", a.nve_ps, "ps")
    v.positive("--diameter-nm", a.diameter_nm, "nm")
    v.nonnegative("--margin-A", a.margin_A, "Å")
    out = Path(a.out).resolve()
    res_json, res_md = results_files(a.results, a.force)
    out.mkdir(parents=True, exist_ok=True)
    data, geometry, build = build_system(out, a.diameter_nm, a.margin_A)
    opts = SimpleNamespace(nequip_options=None, baseline=None)
    seeds = [a.seed0 + 1000 * i for i in range(1, a.runs + 1)]
    jobs = [Job(TEACHER, s, a.nve_ps, out / f"{TEACHER}_{s}",
                lmp_command(opts, TEACHER, data, [], seed=s, t_therm_ps=float(a.therm_ps), t_nve_ps=float(a.nve_ps),
                            dump_ps=10)) for s in seeds]
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        done = list(pool.map(run_job, jobs))
    failed = [j for j in done if j.error]
    if failed:
        raise UserError(f"{len(failed)} run(s) failed, first: {failed[0].error}")

    geo = load_geometry(jobs[0].log, geometry)
    rows, series, excluded = [], [], []
    for j in jobs:
        r = analyse_transient([j.log], geo, n_boot=200)
        if not usable(r):  # e.g. the bodies came apart: fit_k leaves such a run out of the combined k too
            excluded.append({"seed": j.seed, "reasons": list(r.unreliable_reasons)})
            continue
        rows.append({"seed": j.seed, "k": r.k.k_eV_per_nm2_ps_K, "err": r.k.k_err_eV_per_nm2_ps_K,
                     "interval68": r.k.k_interval_eV_per_nm2_ps_K, "interval95": r.k.k_interval95_eV_per_nm2_ps_K,
                     "heat_eV": r.heat_out_eV, "integral_K_ps": r.integral_dT_K_ps, "reliable": r.reliable,
                     "k_method": r.k_method})
        series.append(nve_series(j.log))
    k = np.array([r["k"] for r in rows])
    err = np.array([r["err"] for r in rows])
    pooled = sum(r["heat_eV"] for r in rows) / (geo.area_nm2 * sum(r["integral_K_ps"] for r in rows))
    scatter = float(np.std(k, ddof=1))
    cal = {"n_runs": len(rows), "k_method": ",".join(sorted({r["k_method"] for r in rows})),
           "k_pooled": float(pooled), "k_pooled_se": scatter / np.sqrt(len(k)),
           "scatter_rel": scatter / pooled, "stated_rel_median": float(np.median(err) / pooled),
           "z_rms": float(np.sqrt(np.mean(((k - pooled) / err) ** 2))),
           "hit68": int(sum(lo <= pooled <= hi for lo, hi in (r["interval68"] for r in rows))),
           "hit95": int(sum(lo <= pooled <= hi for lo, hi in (r["interval95"] for r in rows))),
           "n_reliable": int(sum(r["reliable"] for r in rows)), "excluded": excluded}
    res = {"settings": vars(a), "system": f"Au{geo.n_atoms_np} on hBN ({geo.n_atoms_np + geo.n_atoms_support} atoms), "
           f"A = {geo.area_nm2:.4g} nm²", "calibration": cal, "noise": noise_model(series, pooled, geo.area_nm2),
           "runs": rows, "machine": machine_info(),
           "commands": [shlex.join(build)] + [f"(cd {j.dir} && {shlex.join(j.cmd)})" for j in jobs[:2]]
           + ["... one per seed"]}
    write_json(res_json, res)
    atomic_write(res_md, markdown(res))
    say(f"k_calibration: pooled k {pooled:.4g} +- {cal['k_pooled_se']:.2g}; one run scatters by "
        f"{100 * cal['scatter_rel']:.0f} %, fit_k states {100 * cal['stated_rel_median']:.0f} % (median); "
        f"68 % intervals hold the pooled k in {cal['hit68']}/{cal['n_runs']} runs, 95 % in "
        f"{cal['hit95']}/{cal['n_runs']}; wrote {res_md}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
