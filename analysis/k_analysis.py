"""Interfacial conductance k from heat-transfer logs (paper eq. 4-6): one run, and several combined.

    from analysis.k_inputs import Columns, load_geometry
    from analysis.k_analysis import analyse_transient, combine
    geo = load_geometry("run/log.lammps")                  # geometry.json next to the log
    r = analyse_transient(["run/log.lammps"], geo)         # TransientResult; r.k.k_eV_per_nm2_ps_K, r.reliable
    write_json("k.json", r.to_json())

Functions take paths, a Geometry and values (no argparse) and return the typed results of analysis.k_results;
the equations and intervals are analysis.cooling's, the figures and tables analysis.k_report's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analysis.cooling import (block_bootstrap_decay, combine_runs, conductance, energy_balance_k, fit_decay,
                              heat_capacity, honest_interval, integral_dT, interface_heat)
from analysis.k_inputs import (Columns, check_finite, column_terms, column_values, has_columns, pick_stage_block,
                               read_columns, require_stage, segment_info, transient_window)
from analysis.k_results import (CombinedResult, KEstimate, KStats, RunResult, RunSummary, SteadyResult,
                                TransientResult, run_header)
from beamheat.cli import UserError
from beamheat.geometry import Geometry
from beamheat.lammps_log import MissingColumnsError, read_stages
from beamheat.markers import HEAT, NVE_CONTACT
from beamheat.results import ABSENT
from beamheat.units import EV_PER_NM2_PS_K_TO_MW_PER_M2_K

UNDETERMINED = "the interval reaches zero or is wider than k: k is undetermined"
LOST_CONTACT_A = 6.0  # growth of the particle-support centre-of-mass distance beyond which the bodies separated
METHODS = ("auto", "energy_balance", "exp_fit")


def lost_contact(t_ps: np.ndarray, sep_A: np.ndarray, limit_A: float = LOST_CONTACT_A) -> str | None:
    """Why a run is not a heat-transfer run, or None: the particle-support centre-of-mass distance (heat_transfer.in's
    v_sep_A) grew by more than LIMIT_A over the window, so the bodies came apart and heat stopped crossing."""
    if not len(sep_A):
        return None
    grown = sep_A - sep_A[0]
    if grown.max() <= limit_A:
        return None
    i = int(np.argmax(grown > limit_A))
    return (f"lost contact: the particle-support centre-of-mass distance grew from {sep_A[0]:.2f} to "
            f"{sep_A.max():.2f} Å (more than {limit_A:g} Å by {t_ps[i]:.3g} ps after contact): the bodies separated, "
            f"so the run measures no interface")


def analyse_transient(paths: list[Path], geo: Geometry, *, columns: Columns = Columns(), start_ps: float | None = None,
                      stop_temp_K: float | None = None, block: int | None = None, cp_eV_per_K: float | None = None,
                      infinite_support: bool = False, n_boot: int = 200, method: str = "auto") -> TransientResult:
    """k from the NVE segment after contact (stage nve_contact of heat_transfer.in).

    Two estimators: the energy balance (eq. 4 integrated, needs the particle's energy in the log) and the paper's
    eq.-6 fit of dT(t) with C = N c_p. method 'auto' takes the energy balance when it can."""
    if method not in METHODS:
        raise UserError(f"--method {method}: choose auto, energy_balance or exp_fit")
    want = [columns.time] + column_terms(columns.t_np) + column_terms(columns.t_support)
    optional = column_terms(columns.e_np) + column_terms(columns.separation)
    if not infinite_support:
        optional += column_terms(columns.e_support)
    try:
        th = read_columns(paths, want, optional)
    except MissingColumnsError:
        # a log that stopped before contact may lack the NVE columns altogether: say that first
        stages = [st.split()[0] if st else None for st in read_stages(paths)]
        if block is None and any(stages):
            require_stage(stages, paths[0], NVE_CONTACT)
        raise
    have_e_np = has_columns(th, columns.e_np)
    have_e_sub = not infinite_support and has_columns(th, columns.e_support)
    if method == "energy_balance" and not have_e_np:
        raise UserError(f"{paths[0]}: --method energy_balance needs the particle energy column {columns.e_np}")
    if cp_eV_per_K is None and not have_e_np:
        raise UserError(f"{paths[0]}: no particle energy column {columns.e_np}: give --cp or the column (--e-np)")
    primary = "energy_balance" if (method == "auto" and have_e_np) else ("exp_fit" if method == "auto" else method)
    notes = list(th.notes)
    blk = pick_stage_block(th, paths[0], NVE_CONTACT, block)
    mask, stop_info = transient_window(th, blk, columns, start_ps, stop_temp_K, paths[0], notes)
    t = th[columns.time]
    t0 = t[mask][0]
    seg = segment_info(th, blk, float(t[mask][-1]), paths[0], notes)
    T_np, T_sub = column_values(th, columns.t_np), column_values(th, columns.t_support)
    tw, dT = t[mask] - t0, (T_np - T_sub)[mask]
    window_ps = float(tw[-1] - tw[0])

    # ---- eq. 6: exponential fit and heat capacities
    fit = fit_decay(tw, dT)
    E_np = column_values(th, columns.e_np)[mask] if have_e_np else None
    if cp_eV_per_K is not None:
        C_np, C_np_err = cp_eV_per_K * geo.n_atoms_np, 0.0
    else:
        C_np, C_np_err = heat_capacity(E_np, T_np[mask])
    E_sub = C_sub = C_sub_err = None
    if have_e_sub:
        E_sub = column_values(th, columns.e_support)[mask]
        C_sub, C_sub_err = heat_capacity(E_sub, T_sub[mask])
        if not C_sub > 0:
            C_sub = None  # support barely warms: treat it as a bath
    exp_issues = []
    k_exp = conductance(fit["tau_ps"], geo.area_nm2, C_np, C_sub) if C_np > 0 else float("nan")
    if not C_np > 0:
        exp_issues.append(f"the particle's energy does not rise with its temperature in the window (C = {C_np:.3g} "
                          f"eV/K): no heat capacity for eq. 6")
    if not fit["tau_ps"] > 0 or fit["tau_err_ps"] > 0.5 * abs(fit["tau_ps"]) or fit["tau_ps"] > 20 * window_ps:
        exp_issues.append(f"tau poorly determined: window {window_ps:.3g} ps against tau = {fit['tau_ps']:.3g} "
                          f"+- {fit['tau_err_ps']:.2g} ps")
    if C_np > 0 and C_np_err > 0.2 * C_np:
        binned = [b.mean() for b in np.array_split(T_np[mask], 20)]
        exp_issues.append(f"c_p poorly determined (+-{100 * C_np_err / C_np:.0f} %): the particle cools by only "
                          f"{np.ptp(binned):.0f} K (time-binned) in the window, or its temperature is not a "
                          f"function of its energy alone")
    k_exp_unc = None
    k_err_boot = float("nan")
    if np.isfinite(k_exp):
        rel = np.sqrt((fit["tau_err_ps"] / fit["tau_ps"]) ** 2 + (C_np_err / C_np) ** 2)
        k_err_fit = abs(k_exp) * rel
        ks = None
        if n_boot > 0:
            taus, Cs = block_bootstrap_decay(tw, dT, fit, E_np if cp_eV_per_K is None else None, T_np[mask], E_sub,
                                             T_sub[mask] if E_sub is not None else None, n_boot=n_boot)
            n = min([len(taus)] + [len(v) for v in Cs.values()])
            if n > 10:
                with np.errstate(divide="ignore", invalid="ignore"):
                    ks = np.array([conductance(taus[i], geo.area_nm2, Cs["np"][i] if "np" in Cs else C_np,
                                               (Cs["sub"][i] if Cs["sub"][i] > 0 else None) if "sub" in Cs and
                                               C_sub else None) for i in range(n)])
                ks = ks[np.isfinite(ks)]
                k_err_boot = float(np.std(ks, ddof=1)) if len(ks) > 10 else float("nan")
        k_exp_unc = honest_interval(k_exp, {"fit": k_err_fit}, ks)
        if not k_exp_unc["determined"]:
            exp_issues.append("the eq.-6 interval reaches zero or is wider than k")
    else:
        k_err_fit = float("nan")

    # ---- eq. 4 integrated: energy balance
    eb = eb_unc = Q = None
    if have_e_np:
        Q = interface_heat(tw, E_np)
        eb = energy_balance_k(tw, dT, Q, geo.area_nm2, n_boot=max(n_boot, 200) if n_boot else 0)
        eb_unc = honest_interval(eb.k, {"jackknife": eb.k_err_jackknife}, eb.k_boot if n_boot else None)

    if primary == "energy_balance":
        k, unc, issues = eb.k, eb_unc, ([] if eb_unc["determined"] else [UNDETERMINED])
    else:
        k, unc, issues = k_exp, k_exp_unc, exp_issues
        if unc is None:
            raise UserError(f"{paths[0]}: " + "; ".join(exp_issues))
    if eb_unc is not None and k_exp_unc is not None and eb_unc["determined"] and k_exp_unc["determined"]:
        gap = abs(eb.k - k_exp) / np.hypot(eb_unc["sigma"], k_exp_unc["sigma"])
        if gap > 2:
            notes.append(f"the eq.-6 fit (k = {k_exp:.3g}) and the energy balance (k = {eb.k:.3g}) disagree by "
                         f"{gap:.1f} sigma: the particle's temperature is not a function of its energy alone "
                         f"(structural changes) or the decay is not exponential; the energy balance needs neither")
    notes += [f"eq.-6 fit: {m}" for m in exp_issues] if primary == "energy_balance" else []
    lost = lost_contact(t[mask] - t0, column_values(th, columns.separation)[mask]) \
        if has_columns(th, columns.separation) else None
    if lost:
        issues = [*issues, lost]
    return TransientResult(
        **run_header(paths, geo), n_atoms_support=geo.n_atoms_support, block=int(blk), **seg, **stop_info,
        t_contact_ps=float(t0), t_end_ps=float(t[mask][-1]), n_points=int(mask.sum()),
        k_method=primary, k=KEstimate.from_interval(k, unc),
        tau_ps=fit["tau_ps"], tau_err_ps=fit["tau_err_ps"], dT0_K=fit["dT0_K"], dT0_err_K=fit["dT0_err_K"],
        cp_eV_per_K=C_np / geo.n_atoms_np, cp_err_eV_per_K=C_np_err / geo.n_atoms_np,
        cp_source="--cp" if cp_eV_per_K is not None else f"dE/dT of {columns.e_np} vs {columns.t_np}",
        C_support_eV_per_K=C_sub, C_support_err_eV_per_K=C_sub_err,
        support_model="finite (1/tau = kA(1/C_np + 1/C_support))" if C_sub else "infinite bath",
        k_exp_fit_eV_per_nm2_ps_K=float(k_exp) if np.isfinite(k_exp) else None,
        k_exp_fit_err_eV_per_nm2_ps_K=k_exp_unc["sigma"] if k_exp_unc else None,
        k_exp_fit_interval_eV_per_nm2_ps_K=k_exp_unc["interval_68"] if k_exp_unc else None,
        k_err_fit_eV_per_nm2_ps_K=k_err_fit, k_err_bootstrap_eV_per_nm2_ps_K=k_err_boot,
        k_energy_balance_eV_per_nm2_ps_K=eb.k if eb else None,
        k_energy_balance_err_eV_per_nm2_ps_K=eb_unc["sigma"] if eb else None,
        k_energy_balance_interval_eV_per_nm2_ps_K=eb_unc["interval_68"] if eb else None,
        heat_out_eV=eb.heat_eV if eb else None, integral_dT_K_ps=eb.integral_K_ps if eb else None,
        r2=fit["r2"], rms_residual_K=fit["rms_residual_K"],
        residual_lag1_autocorrelation=fit["residual_lag1_autocorrelation"],
        notes=notes, reliable=not issues, unreliable_reasons=issues,
        plot_data=(tw, dT, fit, (integral_dT(tw, dT), Q) if have_e_np else None))


def analyse_steady(paths: list[Path], geo: Geometry, *, columns: Columns = Columns(), start_ps: float | None = None,
                   block: int | None = None, power_eV_per_ps: float | None = None, n_boot: int = 200) -> SteadyResult:
    """k from a steady_state.in log (stage 'heat'): the energy balance P - dE_np/dt = k A dT over the window
    (exact whether or not the particle has reached steady state), beside the plain P / (A <dT>)."""
    want = [columns.time] + column_terms(columns.t_np) + column_terms(columns.t_support)
    if power_eV_per_ps is None:
        want += column_terms(columns.power)
    th = read_columns(paths, want, column_terms(columns.e_np))
    have_e_np = has_columns(th, columns.e_np)
    notes = list(th.notes)
    blk = pick_stage_block(th, paths[0], HEAT, block)
    t = th[columns.time]
    in_blk = th.block == blk
    if start_ps is None:
        t_equil = th.stage_fields(blk).get("t_equil_ps")
        t_begin = th.stage_fields(blk).get("t_start_ps")
        if t_equil is not None:
            start_ps = float(t_begin or t[in_blk][0]) + float(t_equil)
        else:
            start_ps = float(t[in_blk][0] + 0.5 * (t[in_blk][-1] - t[in_blk][0]))
    mask = in_blk & (t >= start_ps)
    if mask.sum() < 10:
        raise UserError(f"{paths[0]}: only {int(mask.sum())} thermo rows in the steady window (start {start_ps} ps)")
    check_finite(th, mask, columns, (columns.time, columns.t_np, columns.t_support, columns.e_np, columns.power),
                 paths[0])
    segment_info(th, blk, float(t[mask][-1]), paths[0], notes)
    tw = t[mask] - t[mask][0]
    dT = (column_values(th, columns.t_np) - column_values(th, columns.t_support))[mask]
    P = power_eV_per_ps if power_eV_per_ps is not None else float(np.mean(column_values(th, columns.power)[mask]))
    if not P > 0:
        raise UserError(f"{paths[0]}: heating power P = {P:g} eV/ps; it must be positive")
    dT_mean = float(dT.mean())
    if dT_mean <= 0:
        raise UserError(f"{paths[0]}: mean NP-support temperature difference is {dT_mean:.3g} K, not positive")
    blocks = np.array([b.mean() for b in np.array_split(dT, 10)])
    dT_err = float(blocks.std(ddof=1) / np.sqrt(len(blocks)))
    k_plain = P / (geo.area_nm2 * dT_mean)
    k_plain_err = k_plain * dT_err / dT_mean
    window_ps = float(tw[-1])
    if have_e_np:
        E_np = column_values(th, columns.e_np)[mask]
        Q = interface_heat(tw, E_np, power_eV_per_ps=P)
        eb = energy_balance_k(tw, dT, Q, geo.area_nm2, n_boot=max(n_boot, 200) if n_boot else 0)
        unc = honest_interval(eb.k, {"jackknife": eb.k_err_jackknife}, eb.k_boot if n_boot else None)
        stored = float((E_np[-1] - E_np[0]) / (P * window_ps))
        balance = dict(k_method="energy_balance", stored_fraction=stored, heat_out_eV=eb.heat_eV)
        if abs(stored) > 0.1:
            notes.append(f"not yet steady: the particle's energy changed by {E_np[-1] - E_np[0]:.3g} eV over the "
                         f"window against P t = {P * window_ps:.3g} eV heating; the energy-balance k accounts "
                         f"for it, P/(A<dT>) does not")
        k = eb.k
    else:
        unc = honest_interval(k_plain, {"block_average": k_plain_err})
        balance = dict(k_method="steady_plain", stored_fraction=None)
        notes.append(f"no particle energy column ({columns.e_np}): k = P/(A<dT>) assumes steady state")
        k = k_plain
    issues = [] if unc["determined"] else [UNDETERMINED]
    return SteadyResult(
        **run_header(paths, geo), block=int(blk), stage=th.stages.get(blk),
        t_start_ps=float(t[mask][0]), t_end_ps=float(t[mask][-1]), n_points=int(mask.sum()),
        power_eV_per_ps=P, dT_K=dT_mean, dT_err_K=dT_err,
        k_plain_eV_per_nm2_ps_K=k_plain, k_plain_err_eV_per_nm2_ps_K=k_plain_err, **balance,
        k=KEstimate.from_interval(k, unc), notes=notes, reliable=not issues, unreliable_reasons=issues)


# ------------------------------------------------------------------------------------------------ several runs
def _stats(rs: list[RunResult]) -> KStats:
    k = np.array([r.k.k_eV_per_nm2_ps_K for r in rs])
    mean = float(k.mean())
    cp = getattr(rs[0], "cp_eV_per_K", None)
    return KStats(n_runs=len(rs), k_mean_eV_per_nm2_ps_K=mean,
                  k_std_eV_per_nm2_ps_K=float(k.std(ddof=1)) if len(k) > 1 else None,
                  k_mean_MW_per_m2_K=mean * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
                  **({} if cp is None else {"cp_mean_eV_per_K": float(np.mean([r.cp_eV_per_K for r in rs]))}))


def usable(r: RunResult) -> bool:
    """A run that enters the mean over runs: reliable, or only too short to determine k alone."""
    return bool(r.reliable or list(r.unreliable_reasons) == [UNDETERMINED])


def summarize(results: list[RunResult]) -> RunSummary:
    """Mean +- std of k over the usable runs (as combine averages them), per system (label) and per support."""
    groups = {}
    for key in ("label", "support"):
        g = {}
        for r in results:
            if usable(r):
                g.setdefault(getattr(r, key) or "unlabelled", []).append(r)
        groups[key] = {name: _stats(rs) for name, rs in g.items()}
    return RunSummary(by_label=groups["label"], by_support=groups["support"])


# the geometry keys a combined result states when every reliable run has the same value
SHARED_KEYS = ("A_nm2", "V_nm3", "area_nm2", "n_atoms_np", "n_atoms_support", "volume_nm3", "label", "support",
               "geometry")


def _json_value(r: RunResult, key: str):
    """The value a run's JSON has for `key`, None where it has none."""
    x = getattr(r, key, None)
    return None if x is ABSENT else x


def combine(results: list[RunResult]) -> CombinedResult:
    """Several runs: k as the mean over the runs (with the larger of the run-to-run standard error and the
    propagated per-run errors). A run whose only flaw is that its own interval is too wide to stand alone
    (UNDETERMINED) is averaged in: leaving it out would select the runs whose k fluctuated high (a larger k has
    a smaller relative error), a bias seen here as 6.6e-5 from the 4 determined of 16 runs against 4.5e-5 from
    all 16. Runs unreliable for any other reason are listed, not averaged."""
    good = [r for r in results if usable(r)]
    bad = [r for r in results if r not in good]
    summary = summarize(results)
    head = dict(n_runs=len(results), n_runs_reliable=sum(r.reliable for r in results), n_runs_combined=len(good),
                excluded_runs=[{"log": r.logs[0], "reasons": r.unreliable_reasons} for r in bad],
                by_label=summary.by_label, by_support=summary.by_support, runs=results)
    if not good:
        return CombinedResult(**head, k=KEstimate(k_eV_per_nm2_ps_K=None, k_err_eV_per_nm2_ps_K=None),
                              reliable=False, unreliable_reasons=["no run gave a usable k"])
    weights = None
    if all(r.k_method == "energy_balance" and getattr(r, "integral_dT_K_ps", None) for r in good):
        weights = [r.integral_dT_K_ps for r in good]  # the pooled energy balance: sum Q / (A sum int dT dt)
    c = combine_runs([r.k.k_eV_per_nm2_ps_K for r in good], [r.k.k_err_eV_per_nm2_ps_K for r in good], weights)
    unc = honest_interval(c["mean"], {"run_spread": c["sigma_spread"], "propagated": c["sigma_propagated"]})
    labels = sorted({r.label or "unlabelled" for r in good})
    issues = [] if unc["determined"] else ["the combined interval reaches zero or is wider than k"]
    shared = {}
    for key in SHARED_KEYS:
        vals = [_json_value(r, key) for r in good]
        if len({json.dumps(x) for x in vals}) == 1:
            shared[key] = vals[0]
    if len(labels) > 1:
        shared["notes"] = [f"runs of {len(labels)} systems ({', '.join(labels)}) averaged together; see by_label"]
    k = KEstimate.from_interval(c["mean"], unc, per_run=False,
                                k_std_over_runs_eV_per_nm2_ps_K=c["std"] if np.isfinite(c["std"]) else None)
    return CombinedResult(**head, k=k, k_method=",".join(sorted({r.k_method for r in good})), labels=labels,
                          reliable=not issues, unreliable_reasons=issues, **shared)
