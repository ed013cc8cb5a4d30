"""Interfacial thermal conductance k from LAMMPS heat-transfer logs (paper eq. 4-6), with an honest interval.

    python -m analysis.fit_k LOG [LOG ...] [--geometry geometry.json | --area NM2 --natoms N] [--json OUT.json]

Transient (default), from `heat_transfer.in`: only the NVE segment after contact (stage marker nve_contact) is
analysed; a log without one (a run killed before contact) is refused. Two estimators:
  energy balance (eq. 4 integrated, the default): the heat that left the particle, Q(t) = -[E_np(t) - E_np(t0)],
      equals k A int dT dt. It needs no heat capacity and no exponential model;
  eq. 6 (the paper's fit, --method exp_fit): dT(t) = dT0 exp(-(t - t0)/tau), 1/tau = k A (1/C_np + 1/C_support),
      C = dE/dT of each group from the same log (or N c_p with --cp); without support energies the support is
      an infinite bath.
Both are reported; the JSON's k is the chosen one (k_method).
Steady state (--steady), from `steady_state.in` (stage marker heat): P - dE_np/dt = k A dT over the window (after
t_equil_ps), which is P/(A <dT>) once steady and stays right before; the plain P/(A <dT>) is reported beside it.

Uncertainty: the larger of the estimator's own error (fit covariance, or a jackknife over time blocks), a block
bootstrap and, with several runs of one system, the spread between runs; the interval (68 %, and 95 % in the
JSON) is a bootstrap percentile interval when that distribution is skewed or reaches zero. A k whose interval
reaches zero or is wider than k is flagged `reliable: false`, with a WARNING, and left out of multi-run means;
`analysis.heating` refuses it unless told otherwise.

Each LOG is one run; segments of a restarted run are joined with commas (log.lammps,log.restart.lammps).
geometry.json (from the structure builder) is looked up next to each run's log unless --geometry is given; the
keys read are n_atoms_np, n_atoms_support, A_nm2 and optionally V_nm3, support, label.
Columns default to heat_transfer.in's names: Time (ps), v_T_np, v_T_support (K), v_E_np, v_E_support (eV).
Sums are allowed, e.g. --e-np c_ke_np+c_pe_np.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.cooling import (block_bootstrap_decay, combine_runs, conductance, energy_balance_k, exp_decay,
                              fit_decay, heat_capacity, honest_interval, integral_dT, interface_heat)
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.geometry import Geometry, read_geometry
from beamheat.io import atomic_write, write_json
from beamheat.lammps_log import MissingColumnsError, read_stages, read_thermo
from beamheat.units import EV_PER_NM2_PS_K_TO_MW_PER_M2_K

# ------------------------------------------------------------------------------------------------ inputs


@dataclass
class Columns:
    """Thermo column names (heat_transfer.in's by default); '+' sums columns."""
    time: str = "Time"
    t_np: str = "v_T_np"
    t_support: str = "v_T_support"
    e_np: str = "v_E_np"
    e_support: str = "v_E_support"
    power: str = "v_P_np"


def load_geometry(log_path: Path, geometry: str | Path | None = None, *, area_nm2: float | None = None,
                  n_atoms_np: int | None = None, support: str | None = None, label: str | None = None) -> Geometry:
    """geometry.json (given, or next to the log) with options overriding its values (beamheat.geometry's record)."""
    path = Path(geometry) if geometry else Path(log_path).parent / "geometry.json"
    if geometry and not path.exists():
        raise UserError(f"{path}: geometry file not found")
    return read_geometry(path, A_nm2=area_nm2, n_atoms_np=n_atoms_np, support=support, label=label,
                         options={"A_nm2": "--area", "n_atoms_np": "--natoms"})


def _column_expr(expr: str) -> list[str]:
    return [c for c in expr.split("+") if c]


def _eval(th, expr: str) -> np.ndarray:
    return sum(th[c] for c in _column_expr(expr))


def _check_finite(th, mask: np.ndarray, columns: Columns, exprs, path) -> None:
    """Every value the analysis will use is a number: a `nan` or `inf` in a thermo column (a lost atom, a
    division by zero in a variable) is named, with its time, instead of failing inside a fit."""
    t = th[columns.time] if columns.time in th.columns and np.isfinite(th[columns.time][mask]).all() else None
    for expr in exprs:
        if not all(c in th.columns for c in _column_expr(expr)):
            continue
        vals = _eval(th, expr)[mask]
        bad = ~np.isfinite(vals)
        if bad.any():
            k = int(np.nonzero(bad)[0][0])
            when = f" at t = {t[mask][k]:g} ps" if t is not None else ""
            raise UserError(f"{path}: column {expr} holds {int(bad.sum())} non-finite value(s) (nan/inf) in the "
                            f"analysed window{when}; the run went wrong there")


# ------------------------------------------------------------------------------------------------ analysis
UNDETERMINED = "the interval reaches zero or is wider than k: k is undetermined"


def pick_stage_block(th, path: Path, stage: str, block: int | None) -> int:
    """The thermo block to analyse: the last block of stage marker `stage` (printed by beamheat's inputs), or
    block number `block` when given. Refuses a log whose stages never reach `stage` (e.g. a killed run)."""
    blocks = [int(b) for b in np.unique(th.block)]
    if block is not None:
        try:
            return blocks[block]
        except IndexError:
            raise UserError(f"{path}: --block {block}: the log has {len(blocks)} thermo block(s) with the needed "
                            f"columns") from None
    names = [th.stage_name(b) for b in blocks]
    if not any(names):
        raise UserError(f"{path}: no 'beamheat: stage' markers, so the segment to fit is unknown (not a log of "
                        f"beamheat's inputs?); give --block N for the thermo block to fit (0..{len(blocks) - 1}, "
                        f"-1 = last)")
    require_stage(names, path, stage)
    return [b for b, n in zip(blocks, names) if n == stage][-1]


def require_stage(names: list[str | None], path: Path, stage: str) -> None:
    """Refuse a log whose stage markers (one name per thermo block) never reach `stage`: the run stopped before."""
    if stage not in names:
        seen = ", ".join(dict.fromkeys(n or "unmarked" for n in names))
        raise UserError(f"{path}: no '{stage}' segment (stages in this log: {seen}): the run stopped before it "
                        f"(killed?); nothing to fit")


def _window(th, blk, columns: Columns, start_ps, stop_temp_K, path, notes) -> tuple[np.ndarray, dict]:
    t = th[columns.time]
    mask = th.block == blk
    if start_ps is not None:
        mask &= t >= start_ps
    if not mask.any():
        raise UserError(f"{path}: no thermo rows in the window (block {blk}, start {start_ps} ps)")
    _check_finite(th, mask, columns, (columns.time, columns.t_np, columns.t_support, columns.e_np,
                                      columns.e_support), path)
    t0 = t[mask][0]
    info = {"stop_temp_K": stop_temp_K, "stop_temp_reached": None}
    if stop_temp_K is not None:
        from scipy.ndimage import uniform_filter1d

        T_np = _eval(th, columns.t_np)
        idx = np.nonzero(mask)[0]
        smooth = uniform_filter1d(T_np[idx], size=11, mode="nearest")  # ignore single hot/cold rows
        below = idx[(smooth < stop_temp_K) & (t[idx] > t0)]
        info["stop_temp_reached"] = bool(below.size)
        if below.size:
            mask &= np.arange(len(t)) < below[0]
        else:
            notes.append(f"--stop-temp {stop_temp_K:g} K never reached: T_np (smoothed) stayed at or above "
                         f"{smooth.min():.0f} K, so the window runs to the end of the segment")
    if mask.sum() < 5:
        raise UserError(f"{path}: only {int(mask.sum())} thermo rows in the window "
                        f"(block {blk}, start {start_ps}, stop-temp {stop_temp_K})")
    return mask, info


def _segment_notes(th, blk, t_last, path, notes) -> dict:
    """Was the segment completed as planned? (a killed NVE run is still fitted, but says so)"""
    fields = th.stage_fields(blk)
    info = {"stage": th.stages.get(blk), "segment_finished": blk not in th.unfinished}
    planned, t_start = fields.get("t_planned_ps"), fields.get("t_start_ps")
    try:
        ran = t_last - float(t_start) if t_start is not None else None
        info.update(t_planned_ps=float(planned) if planned else None, t_ran_ps=ran)
    except ValueError:
        ran = None
    if blk in th.unfinished:
        extra = f"; ran {ran:.4g} of the planned {float(planned):.4g} ps" if ran is not None and planned else ""
        notes.append(f"{path}: the segment has no 'Loop time' line: the run was killed or is still running{extra}")
    return info


def k_fields(k: float, unc: dict) -> dict:
    """The JSON keys of a k with its honest interval (analysis.cooling.honest_interval)."""
    return {
        "k_eV_per_nm2_ps_K": float(k), "k_err_eV_per_nm2_ps_K": unc["sigma"],
        "k_interval_eV_per_nm2_ps_K": unc["interval_68"], "k_interval95_eV_per_nm2_ps_K": unc["interval_95"],
        "k_interval_kind": unc["interval_kind"], "k_relative_uncertainty": unc["relative"],
        "k_err_sources": unc["sigmas"], "k_err_source": unc["sigma_source"],
        "k_MW_per_m2_K": float(k) * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
        "k_err_MW_per_m2_K": unc["sigma"] * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
    }


def analyse_transient(paths: list[Path], geo: Geometry, *, columns: Columns = Columns(), start_ps: float | None = None,
                      stop_temp_K: float | None = None, block: int | None = None, cp_eV_per_K: float | None = None,
                      infinite_support: bool = False, n_boot: int = 200, method: str = "auto") -> dict:
    """k from the NVE segment after contact (stage nve_contact of heat_transfer.in).

    Two estimators: the energy balance (eq. 4 integrated, needs the particle's energy in the log) and the paper's
    eq.-6 fit of dT(t) with C = N c_p. method 'auto' takes the energy balance when it can."""
    if method not in ("auto", "energy_balance", "exp_fit"):
        raise UserError(f"--method {method}: choose auto, energy_balance or exp_fit")
    want = [columns.time] + _column_expr(columns.t_np) + _column_expr(columns.t_support)
    optional = _column_expr(columns.e_np)
    if not infinite_support:
        optional += _column_expr(columns.e_support)
    try:
        th = _read(paths, want, optional)
    except MissingColumnsError:
        # a log that stopped before contact may lack the NVE columns altogether: say that first
        stages = [st.split()[0] if st else None for st in read_stages(paths)]
        if block is None and any(stages):
            require_stage(stages, paths[0], "nve_contact")
        raise
    have_e_np = all(c in th.columns for c in _column_expr(columns.e_np))
    have_e_sub = not infinite_support and all(c in th.columns for c in _column_expr(columns.e_support))
    if method == "energy_balance" and not have_e_np:
        raise UserError(f"{paths[0]}: --method energy_balance needs the particle energy column {columns.e_np}")
    if cp_eV_per_K is None and not have_e_np:
        raise UserError(f"{paths[0]}: no particle energy column {columns.e_np}: give --cp or the column (--e-np)")
    primary = "energy_balance" if (method == "auto" and have_e_np) else ("exp_fit" if method == "auto" else method)
    notes = list(th.notes)
    blk = pick_stage_block(th, paths[0], "nve_contact", block)
    mask, stop_info = _window(th, blk, columns, start_ps, stop_temp_K, paths[0], notes)
    t = th[columns.time]
    t0 = t[mask][0]
    seg = _segment_notes(th, blk, float(t[mask][-1]), paths[0], notes)
    T_np, T_sub = _eval(th, columns.t_np), _eval(th, columns.t_support)
    tw, dT = t[mask] - t0, (T_np - T_sub)[mask]
    window_ps = float(tw[-1] - tw[0])

    # ---- eq. 6: exponential fit and heat capacities
    fit = fit_decay(tw, dT)
    E_np = _eval(th, columns.e_np)[mask] if have_e_np else None
    if cp_eV_per_K is not None:
        C_np, C_np_err = cp_eV_per_K * geo.n_atoms_np, 0.0
    else:
        C_np, C_np_err = heat_capacity(E_np, T_np[mask])
    E_sub = C_sub = C_sub_err = None
    if have_e_sub:
        E_sub = _eval(th, columns.e_support)[mask]
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
    result = {
        "mode": "transient",
        "logs": [str(p) for p in paths],
        "geometry": geo.source,
        "label": geo.label, "support": geo.support,
        "n_atoms_np": geo.n_atoms_np, "n_atoms_support": geo.n_atoms_support,
        "A_nm2": geo.A_nm2, "V_nm3": geo.V_nm3,
        "area_nm2": geo.A_nm2, "volume_nm3": geo.V_nm3,  # older names of A_nm2 and V_nm3, kept for readers
        "block": int(blk), **seg, **stop_info,
        "t_contact_ps": float(t0), "t_end_ps": float(t[mask][-1]), "n_points": int(mask.sum()),
        "k_method": primary,
        **k_fields(k, unc),
        "tau_ps": fit["tau_ps"], "tau_err_ps": fit["tau_err_ps"], "dT0_K": fit["dT0_K"], "dT0_err_K": fit["dT0_err_K"],
        "cp_eV_per_K": C_np / geo.n_atoms_np, "cp_err_eV_per_K": C_np_err / geo.n_atoms_np,
        "cp_source": "--cp" if cp_eV_per_K is not None else f"dE/dT of {columns.e_np} vs {columns.t_np}",
        "C_support_eV_per_K": C_sub, "C_support_err_eV_per_K": C_sub_err,
        "support_model": "finite (1/tau = kA(1/C_np + 1/C_support))" if C_sub else "infinite bath",
        "k_exp_fit_eV_per_nm2_ps_K": float(k_exp) if np.isfinite(k_exp) else None,
        "k_exp_fit_err_eV_per_nm2_ps_K": k_exp_unc["sigma"] if k_exp_unc else None,
        "k_exp_fit_interval_eV_per_nm2_ps_K": k_exp_unc["interval_68"] if k_exp_unc else None,
        "k_err_fit_eV_per_nm2_ps_K": k_err_fit, "k_err_bootstrap_eV_per_nm2_ps_K": k_err_boot,
        "k_energy_balance_eV_per_nm2_ps_K": eb.k if eb else None,
        "k_energy_balance_err_eV_per_nm2_ps_K": eb_unc["sigma"] if eb else None,
        "k_energy_balance_interval_eV_per_nm2_ps_K": eb_unc["interval_68"] if eb else None,
        "heat_out_eV": eb.heat_eV if eb else None, "integral_dT_K_ps": eb.integral_K_ps if eb else None,
        "r2": fit["r2"], "rms_residual_K": fit["rms_residual_K"],
        "residual_lag1_autocorrelation": fit["residual_lag1_autocorrelation"],
        "notes": notes,
        "reliable": not issues,
        "unreliable_reasons": issues,
    }
    result["_plot"] = (tw, dT, fit, (integral_dT(tw, dT), Q) if have_e_np else None)
    return result


def analyse_steady(paths: list[Path], geo: Geometry, *, columns: Columns = Columns(), start_ps: float | None = None,
                   block: int | None = None, power_eV_per_ps: float | None = None, n_boot: int = 200) -> dict:
    """k from a steady_state.in log (stage 'heat'): the energy balance P - dE_np/dt = k A dT over the window
    (exact whether or not the particle has reached steady state), beside the plain P / (A <dT>)."""
    want = [columns.time] + _column_expr(columns.t_np) + _column_expr(columns.t_support)
    if power_eV_per_ps is None:
        want += _column_expr(columns.power)
    th = _read(paths, want, _column_expr(columns.e_np))
    have_e_np = all(c in th.columns for c in _column_expr(columns.e_np))
    notes = list(th.notes)
    blk = pick_stage_block(th, paths[0], "heat", block)
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
    _check_finite(th, mask, columns, (columns.time, columns.t_np, columns.t_support, columns.e_np, columns.power),
                  paths[0])
    _segment_notes(th, blk, float(t[mask][-1]), paths[0], notes)
    tw = t[mask] - t[mask][0]
    dT = (_eval(th, columns.t_np) - _eval(th, columns.t_support))[mask]
    P = power_eV_per_ps if power_eV_per_ps is not None else float(np.mean(_eval(th, columns.power)[mask]))
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
    result = {"mode": "steady", "logs": [str(p) for p in paths], "geometry": geo.source, "label": geo.label,
              "support": geo.support, "n_atoms_np": geo.n_atoms_np, "A_nm2": geo.A_nm2, "V_nm3": geo.V_nm3,
              "area_nm2": geo.A_nm2, "volume_nm3": geo.V_nm3, "block": int(blk), "stage": th.stages.get(blk),
              "t_start_ps": float(t[mask][0]), "t_end_ps": float(t[mask][-1]), "n_points": int(mask.sum()),
              "power_eV_per_ps": P, "dT_K": dT_mean, "dT_err_K": dT_err,
              "k_plain_eV_per_nm2_ps_K": k_plain, "k_plain_err_eV_per_nm2_ps_K": k_plain_err}
    if have_e_np:
        E_np = _eval(th, columns.e_np)[mask]
        Q = interface_heat(tw, E_np, power_eV_per_ps=P)
        eb = energy_balance_k(tw, dT, Q, geo.area_nm2, n_boot=max(n_boot, 200) if n_boot else 0)
        unc = honest_interval(eb.k, {"jackknife": eb.k_err_jackknife}, eb.k_boot if n_boot else None)
        stored = float((E_np[-1] - E_np[0]) / (P * window_ps))
        result.update(k_method="energy_balance", stored_fraction=stored, heat_out_eV=eb.heat_eV)
        if abs(stored) > 0.1:
            notes.append(f"not yet steady: the particle's energy changed by {E_np[-1] - E_np[0]:.3g} eV over the "
                         f"window against P t = {P * window_ps:.3g} eV heating; the energy-balance k accounts "
                         f"for it, P/(A<dT>) does not")
        k = eb.k
    else:
        unc = honest_interval(k_plain, {"block_average": k_plain_err})
        result.update(k_method="steady_plain", stored_fraction=None)
        notes.append(f"no particle energy column ({columns.e_np}): k = P/(A<dT>) assumes steady state")
        k = k_plain
    issues = [] if unc["determined"] else [UNDETERMINED]
    result.update({
        **k_fields(k, unc),
        "notes": notes, "reliable": not issues, "unreliable_reasons": issues,
    })
    return result


def _read(paths, want, optional=()):
    """Thermo with the wanted columns, and the optional ones where the log has them."""
    optional = [c for c in optional if c not in want]
    while True:
        try:
            return read_thermo(paths, list(dict.fromkeys([*want, *optional])))
        except MissingColumnsError as e:
            if not optional or not set(e.missing) & set(optional) or not set(e.missing) <= set(optional):
                raise
            optional = [c for c in optional if c not in e.missing]


# ------------------------------------------------------------------------------------------------ output
def _stats(rs: list[dict]) -> dict:
    k = np.array([r["k_eV_per_nm2_ps_K"] for r in rs])
    out = {"n_runs": len(rs), "k_mean_eV_per_nm2_ps_K": float(k.mean()),
           "k_std_eV_per_nm2_ps_K": float(k.std(ddof=1)) if len(k) > 1 else None}
    out["k_mean_MW_per_m2_K"] = out["k_mean_eV_per_nm2_ps_K"] * EV_PER_NM2_PS_K_TO_MW_PER_M2_K
    if "cp_eV_per_K" in rs[0]:
        out["cp_mean_eV_per_K"] = float(np.mean([r["cp_eV_per_K"] for r in rs]))
    return out


def summarize(results: list[dict]) -> dict:
    """Mean +- std of k over the reliable runs, per system (label) and per support."""
    groups = {}
    for key in ("label", "support"):
        g = {}
        for r in results:
            if r.get("reliable", True):
                g.setdefault(r.get(key) or "unlabelled", []).append(r)
        groups[key] = {name: _stats(rs) for name, rs in g.items()}
    return groups


def combine(results: list[dict]) -> dict:
    """Several runs: k from the reliable ones (mean, with the larger of the run-to-run standard error and the
    propagated per-run errors); unreliable runs are listed, not averaged."""
    good = [r for r in results if r.get("reliable", True)]
    bad = [r for r in results if not r.get("reliable", True)]
    summary = summarize(results)
    out = {"n_runs": len(results), "n_runs_reliable": len(good),
           "excluded_runs": [{"log": r["logs"][0], "reasons": r.get("unreliable_reasons", [])} for r in bad],
           "by_label": summary["label"], "by_support": summary["support"], "runs": results}
    if not good:
        out.update({"k_eV_per_nm2_ps_K": None, "k_err_eV_per_nm2_ps_K": None, "reliable": False,
                    "unreliable_reasons": ["no run gave a reliable k"]})
        return out
    c = combine_runs([r["k_eV_per_nm2_ps_K"] for r in good], [r["k_err_eV_per_nm2_ps_K"] for r in good])
    sig = {"run_spread": c["sigma_spread"], "propagated": c["sigma_propagated"]}
    unc = honest_interval(c["mean"], sig)
    labels = sorted({r.get("label") or "unlabelled" for r in good})
    issues = [] if unc["determined"] else ["the combined interval reaches zero or is wider than k"]
    out.update({
        "k_eV_per_nm2_ps_K": c["mean"], "k_err_eV_per_nm2_ps_K": unc["sigma"],
        "k_interval_eV_per_nm2_ps_K": unc["interval_68"], "k_interval95_eV_per_nm2_ps_K": unc["interval_95"],
        "k_relative_uncertainty": unc["relative"], "k_err_sources": unc["sigmas"], "k_err_source": unc["sigma_source"],
        "k_std_over_runs_eV_per_nm2_ps_K": c["std"] if np.isfinite(c["std"]) else None,
        "k_MW_per_m2_K": c["mean"] * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
        "k_err_MW_per_m2_K": unc["sigma"] * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
        "k_method": ",".join(sorted({r.get("k_method", "") for r in good})),
        "labels": labels, "reliable": not issues, "unreliable_reasons": issues,
    })
    for key in ("A_nm2", "V_nm3", "area_nm2", "n_atoms_np", "n_atoms_support", "volume_nm3", "label", "support",
                "geometry"):
        vals = {json.dumps(r.get(key)) for r in good}
        if len(vals) == 1:
            out[key] = good[0].get(key)
    if len(labels) > 1:
        out["notes"] = [f"runs of {len(labels)} systems ({', '.join(labels)}) averaged together; see by_label"]
    return out


def write_table(results: list[dict], by_support: dict, prefix: Path) -> list[Path]:
    """Paper Table 3 style: V, A, c_p, k per run (CSV + markdown), then per-support mean +- std of reliable runs."""
    cols = [("run", lambda r: r["logs"][0]), ("label", lambda r: r["label"]), ("support", lambda r: r["support"]),
            ("n_atoms_np", lambda r: r["n_atoms_np"]), ("V_nm3", lambda r: r.get("volume_nm3")),
            ("A_nm2", lambda r: r["area_nm2"]), ("cp_eV_per_K", lambda r: r.get("cp_eV_per_K")),
            ("tau_ps", lambda r: r.get("tau_ps")), ("k_eV_per_nm2_ps_K", lambda r: r["k_eV_per_nm2_ps_K"]),
            ("k_err_eV_per_nm2_ps_K", lambda r: r["k_err_eV_per_nm2_ps_K"]),
            ("k_MW_per_m2_K", lambda r: r["k_MW_per_m2_K"]), ("k_method", lambda r: r.get("k_method")),
            ("reliable", lambda r: r.get("reliable", True))]
    csv_path, md_path = prefix.with_suffix(".csv"), prefix.with_suffix(".md")
    rows = [[fn(r) for _, fn in cols] for r in results]

    def write_csv(f):
        w = csv.writer(f)
        w.writerow([c for c, _ in cols])
        w.writerows(rows)

    def fmt(v):
        return "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    lines += ["", "| support | reliable runs | k mean (eV/(nm² ps K)) | k std | k mean (MW/(m² K)) |",
              "|---|---|---|---|---|"]
    for name, st in by_support.items():
        lines.append(f"| {name} | {st['n_runs']} | {st['k_mean_eV_per_nm2_ps_K']:.4g} | "
                     f"{fmt(st['k_std_eV_per_nm2_ps_K'])} | {st['k_mean_MW_per_m2_K']:.4g} |")
    atomic_write(csv_path, write_csv, newline="")
    atomic_write(md_path, "\n".join(lines) + "\n")
    return [csv_path, md_path]


def _fmt_k(r: dict) -> str:
    lo, hi = r["k_interval_eV_per_nm2_ps_K"]
    return (f"k = {r['k_eV_per_nm2_ps_K']:.3g} ± {r['k_err_eV_per_nm2_ps_K']:.2g} eV/(nm² ps K) "
            f"(68 % interval {lo:.3g} – {hi:.3g}; ±{100 * r['k_relative_uncertainty']:.0f} %)")


def plot_transient(result: dict, out_prefix: Path) -> list[str]:
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()
    t, dT, fit, balance = result["_plot"]
    model = exp_decay(t, fit["dT0_K"], fit["tau_ps"])
    n_panels = 4 if balance is not None else 3
    ratios = [3, 3, 1.5, 3][:n_panels]
    fig, ax = plt.subplots(n_panels, 1, figsize=(6.5, 2.6 * n_panels), sharex=True,
                           gridspec_kw={"height_ratios": ratios})
    k_exp = result.get("k_exp_fit_eV_per_nm2_ps_K")
    label = f"eq. 6 fit: ΔT0 = {fit['dT0_K']:.0f} K, τ = {fit['tau_ps']:.3g} ps"
    if k_exp is not None and result.get("k_exp_fit_err_eV_per_nm2_ps_K") is not None:
        label += f"\n  k = {k_exp:.3g} ± {result['k_exp_fit_err_eV_per_nm2_ps_K']:.2g} eV/(nm² ps K)"
    for a_, log in ((ax[0], False), (ax[1], True)):
        a_.plot(t, dT, ".", ms=2, color="0.5", label="MD: T_np − T_support")
        a_.plot(t, model, "-", color="C3", label=label if not log else None)
        a_.set_ylabel("ΔT (K)")
        if log:
            a_.set_yscale("log")
            a_.set_ylim(max(dT[dT > 0].min() if (dT > 0).any() else 1e-1, 1e-1), None)
    ax[0].legend(fontsize=7)
    status = "" if result.get("reliable", True) else "  [UNRELIABLE]"
    ax[0].set_title(f"{result['label'] or Path(result['logs'][0]).parent.name}: A = {result['area_nm2']:.3g} nm², "
                    f"N_np = {result['n_atoms_np']}\n{result['k_method']}: {_fmt_k(result)}{status}", fontsize=8)
    ax[2].plot(t, dT - model, ".", ms=2, color="0.3")
    ax[2].axhline(0, color="C3", lw=0.8)
    ax[2].set_ylabel("residual (K)")
    if balance is not None:
        I, Q = balance
        kA = result["k_energy_balance_eV_per_nm2_ps_K"] * result["area_nm2"]
        ax[3].plot(t, Q, "-", color="0.3", lw=1, label="heat out of the particle Q = −ΔE_np")
        ax[3].plot(t, kA * I, "--", color="C0", lw=1,
                   label=f"k A ∫ΔT dt, k = {result['k_energy_balance_eV_per_nm2_ps_K']:.3g} ± "
                         f"{result['k_energy_balance_err_eV_per_nm2_ps_K']:.2g}")
        ax[3].set_ylabel("heat (eV)")
        ax[3].legend(fontsize=7)
    ax[-1].set_xlabel("time since contact (ps)")
    fig.tight_layout()
    return save_figure(fig, out_prefix)


def human(result: dict) -> str:
    r = result
    if r["mode"] == "steady":
        text = (f"{r['logs'][0]}: steady state, P = {r['power_eV_per_ps']:.4g} eV/ps, ΔT = {r['dT_K']:.2f} ± "
                f"{r['dT_err_K']:.2f} K over {r['n_points']} rows from {r['t_start_ps']:.4g} ps, "
                f"A = {r['area_nm2']:.4g} nm²\n")
        if r.get("stored_fraction") is not None:
            text += (f"  P/(A<ΔT>) = {r['k_plain_eV_per_nm2_ps_K']:.4g} ± {r['k_plain_err_eV_per_nm2_ps_K']:.2g}; "
                     f"power stored in the particle over the window: {100 * r['stored_fraction']:.1f} %\n")
        return text + f"  {r['k_method']}: {_fmt_k(r)} = {r['k_MW_per_m2_K']:.1f} ± {r['k_err_MW_per_m2_K']:.1f} MW/(m² K)"
    text = (f"{r['logs'][0]}: block {r['block']} ({r.get('stage') or 'chosen by --block'}), contact at "
            f"{r['t_contact_ps']:.4g} ps, {r['n_points']} rows to {r['t_end_ps']:.4g} ps\n"
            f"  eq. 6: ΔT0 = {r['dT0_K']:.2f} ± {r['dT0_err_K']:.2f} K, τ = {r['tau_ps']:.4g} ± {r['tau_err_ps']:.3g} ps, "
            f"R² = {r['r2']:.4f}, c_p = {r['cp_eV_per_K']:.4g} ± {r['cp_err_eV_per_K']:.2g} eV/K/atom "
            f"({r['cp_source']}), support: {r['support_model']}")
    if r["k_exp_fit_eV_per_nm2_ps_K"] is not None and r["k_exp_fit_err_eV_per_nm2_ps_K"] is not None:
        text += (f"\n         k = {r['k_exp_fit_eV_per_nm2_ps_K']:.4g} ± {r['k_exp_fit_err_eV_per_nm2_ps_K']:.2g} "
                 f"eV/(nm² ps K)")
    if r["k_energy_balance_eV_per_nm2_ps_K"] is not None:
        text += (f"\n  energy balance: heat out {r['heat_out_eV']:.4g} eV, ∫ΔT dt = {r['integral_dT_K_ps']:.4g} K ps, "
                 f"k = {r['k_energy_balance_eV_per_nm2_ps_K']:.4g} ± {r['k_energy_balance_err_eV_per_nm2_ps_K']:.2g}")
    text += (f"\n  {r['k_method']}: {_fmt_k(r)} = {r['k_MW_per_m2_K']:.1f} ± {r['k_err_MW_per_m2_K']:.1f} MW/(m² K)"
             f" [largest error: {r['k_err_source']}]")
    return text


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m analysis.fit_k", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("logs", nargs="+", metavar="LOG[,LOG...]", help="log.lammps files (plain or .gz); commas join "
                   "restart segments of one run")
    g = p.add_argument_group("geometry")
    g.add_argument("--geometry", help="geometry.json for all runs (default: geometry.json next to each log)")
    g.add_argument("--A-nm2", "--area", dest="area", type=float,
                   help="NP/support contact area A, nm² (> 0; overrides geometry.json's A_nm2; --area is its older "
                        "name)")
    g.add_argument("--natoms", type=int, help="number of NP atoms N (overrides geometry.json)")
    g.add_argument("--label", help="system label for tables (default: geometry.json 'label')")
    g.add_argument("--support", help="support name for tables (default: geometry.json 'support')")
    c = p.add_argument_group("columns (thermo names; '+' sums columns)")
    c.add_argument("--time", default="Time", help="time column, ps (default Time)")
    c.add_argument("--t-np", default="v_T_np", help="NP temperature, K (default v_T_np)")
    c.add_argument("--t-support", default="v_T_support", help="support temperature, K (default v_T_support)")
    c.add_argument("--e-np", default="v_E_np", help="NP energy (kinetic + potential), eV (default v_E_np)")
    c.add_argument("--e-support", default="v_E_support", help="support energy, eV (default v_E_support)")
    w = p.add_argument_group("segment, window and model")
    w.add_argument("--block", type=int, help="thermo block to analyse, 0-based (-1 = last); default: the block "
                   "after the input's stage marker (nve_contact, or heat with --steady); needed for logs without "
                   "markers")
    w.add_argument("--start", type=float, help="start of the window, ps in the log's time (default: contact; "
                   "steady: t_equil_ps after the start of heating, else the second half)")
    w.add_argument("--stop-temp", type=float, help="end the window when T_np falls below this, K (paper: 420); "
                   "reported when never reached")
    w.add_argument("--method", default="auto", choices=["auto", "energy_balance", "exp_fit"],
                   help="transient estimator of k (default auto: energy balance when the log has the particle "
                        "energy, else the eq.-6 fit)")
    w.add_argument("--cp", type=float, help="NP heat capacity per atom for eq. 6, eV/K (default: from the log)")
    w.add_argument("--infinite-support", action="store_true",
                   help="eq. 6: ignore support energies and treat the support as an infinite bath")
    w.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples (0 = off; default 200)")
    s = p.add_argument_group("steady state")
    s.add_argument("--steady", action="store_true", help="steady_state.in log: P - dE_np/dt = k A ΔT")
    s.add_argument("--power", type=float, help="heating power P, eV/ps (default: mean of --power-col)")
    s.add_argument("--power-col", default="v_P_np", help="thermo column with P, eV/ps (default v_P_np)")
    o = p.add_argument_group("output")
    o.add_argument("--json", help="write results here (several runs: the combined k at top level, each run in "
                   "'runs')")
    o.add_argument("--plot-dir", help="where figures go (default: next to each log); fit_k.png and .pdf")
    o.add_argument("--no-plot", action="store_true", help="no figures")
    o.add_argument("--force", action="store_true", help="overwrite existing outputs (--json, --table, figures)")
    o.add_argument("--table", help="prefix for the Table-3-like CSV and markdown (default fit_k_table with >1 run)")
    return p.parse_args(argv)


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


def main(argv=None) -> int:
    a = parse_args(argv)
    v.integer("--bootstrap", a.bootstrap, 0, 100000)
    v.positive("--A-nm2", a.area, "nm²")
    v.positive("--cp", a.cp, "eV/K per atom", hi=1.0)
    v.positive("--power", a.power, "eV/ps")
    v.integer("--natoms", a.natoms, 1)
    v.in_range("--stop-temp", a.stop_temp, 0.0, 1e5, "K", lo_open=True)
    v.finite("--start", a.start, "ps")
    if a.steady and a.method != "auto":
        raise UserError(f"--method {a.method}: applies to transient logs, not --steady")
    columns = Columns(a.time, a.t_np, a.t_support, a.e_np, a.e_support, a.power_col)
    runs = [[Path(p) for p in arg.split(",") if p] for arg in a.logs]
    results = []
    names = {}
    for paths in runs:
        if not paths:
            raise UserError("an empty log argument")
        for path in paths:
            v.input_file(path, "LOG", "file", allow_empty=True)  # lammps_log says what an empty one lacks
        out_dir = Path(a.plot_dir) if a.plot_dir else paths[0].parent
        names.setdefault(out_dir, []).append(paths[0])
    if a.geometry:
        v.input_file(a.geometry, "--geometry", "geometry file")
    inputs = [p for paths in runs for p in paths] + ([a.geometry] if a.geometry else [])
    figure_names = {}
    for i, paths in enumerate(runs):
        out_dir = Path(a.plot_dir) if a.plot_dir else paths[0].parent
        same_dir = names[out_dir]
        figure_names[i] = out_dir / ("fit_k" if len(same_dir) == 1 else f"fit_k_{paths[0].stem}" if
                                     len({p.stem for p in same_dir}) == len(same_dir) else f"fit_k_{i:03d}")
    outputs = [Path(a.json)] if a.json else []
    table = Path(a.table) if a.table else (Path("fit_k_table") if len(runs) > 1 else None)
    if table is not None:
        outputs += [table.with_suffix(".csv"), table.with_suffix(".md")]
    if not a.steady and not a.no_plot:
        outputs += [f.with_suffix(ext) for f in figure_names.values() for ext in (".png", ".pdf")]
    if len(set(map(str, outputs))) < len(outputs):
        raise UserError(f"two outputs share a name ({', '.join(map(str, outputs))})")
    names_given = {Path(a.json): "--json"} if a.json else {}
    for out in outputs:
        opt = names_given.get(out, "--table" if out.suffix in (".csv", ".md") else "--plot-dir")
        v.output_file(out, opt, force=a.force, inputs=inputs, mkdir=opt == "--plot-dir")
    geos = [load_geometry(paths[0], a.geometry, area_nm2=a.area, n_atoms_np=a.natoms, support=a.support,
                          label=a.label) for paths in runs]
    for i, (paths, geo) in enumerate(zip(runs, geos)):
        if a.steady:
            r = analyse_steady(paths, geo, columns=columns, start_ps=a.start, block=a.block, power_eV_per_ps=a.power,
                               n_boot=a.bootstrap)
        else:
            r = analyse_transient(paths, geo, columns=columns, start_ps=a.start, stop_temp_K=a.stop_temp,
                                  block=a.block, cp_eV_per_K=a.cp, infinite_support=a.infinite_support,
                                  n_boot=a.bootstrap, method=a.method)
        print(human(r))
        for note in r["notes"]:
            print(f"  note: {note}")
        if not r["reliable"]:
            warn(f"{paths[0]}: k is NOT reliable: {'; '.join(r['unreliable_reasons'])}")
        results.append(r)
    for i, r in enumerate(results):  # every run analysed before anything is written: a failure leaves no files
        if not a.steady and not a.no_plot:
            figure_names[i].parent.mkdir(parents=True, exist_ok=True)
            r["figures"] = plot_transient(r, figure_names[i])
            print(f"  figures ({r['logs'][0]}): {', '.join(r['figures'])}")
        r.pop("_plot", None)
    if len(results) > 1:
        out = combine(results)
        if out["k_eV_per_nm2_ps_K"] is None:
            print(f"{len(results)} runs: none reliable, no combined k")
        else:
            print(f"{len(results)} runs, {out['n_runs_reliable']} reliable: combined {_fmt_k(out)} "
                  f"[largest error: {out['k_err_source']}]")
        for ex in out["excluded_runs"]:
            print(f"  left out (unreliable): {ex['log']}: {'; '.join(ex['reasons'])}")
        for name, st in out["by_support"].items():
            std = st["k_std_eV_per_nm2_ps_K"]
            print(f"  support {name}: {st['n_runs']} reliable runs, k = {st['k_mean_eV_per_nm2_ps_K']:.4g}"
                  + (f" ± {std:.2g} (std)" if std is not None else "") + " eV/(nm² ps K)")
        print(f"  table: {', '.join(str(p) for p in write_table(results, out['by_support'], table))}")
        if not out["reliable"]:
            warn(f"the combined k is NOT reliable: {'; '.join(out['unreliable_reasons'])}")
    else:
        out = dict(results[0])
        if a.table:
            write_table(results, summarize(results)["support"], Path(a.table))
    if a.json:
        write_json(a.json, out)
        print(f"  json: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
