"""Interfacial thermal conductance k from LAMMPS heat-transfer logs (paper eq. 4-6).

    python -m analysis.fit_k LOG [LOG ...] [--geometry geometry.json | --area NM2 --natoms N] [--json OUT.json]

Transient (default), from `heat_transfer.in`: after contact the NP/support temperature difference decays as
    dT(t) = dT0 exp(-(t - t0)/tau),      1/tau = k A (1/C_np + 1/C_support)
with C = N c_p. Without support energies in the log the support is an infinite bath (1/C_support = 0), so
k = N_np c_p / (A tau). c_p per atom comes from the NP's energy against its temperature in the same log, unless
given with --cp.
Steady state (--steady), from `steady_state.in`: k = P / (A <dT>) over the steady window.

Each LOG is one run; segments of a restarted run are joined with commas (log.lammps,log.restart.lammps).
geometry.json (from the structure builder) is looked up next to each run's log unless --geometry is given; the
keys read are n_atoms_np, n_atoms_support, A_nm2 and optionally V_nm3, support, label.
Columns default to heat_transfer.in's names: Time (ps), v_T_np, v_T_support (K), v_E_np, v_E_support (eV).
Sums are allowed, e.g. --e-np c_ke_np+c_pe_np.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit

from beamheat.cli import UserError, run
from beamheat.lammps_log import MissingColumnsError, read_thermo
from beamheat.units import EV_PER_NM2_PS_K_TO_MW_PER_M2_K

# ------------------------------------------------------------------------------------------------ equations


def exp_decay(t_ps, dT0_K, tau_ps):
    """Eq. 6: dT(t) = dT0 exp(-t/tau), t measured from contact."""
    return dT0_K * np.exp(-t_ps / tau_ps)


def conductance(tau_ps: float, area_nm2: float, C_np_eV_per_K: float, C_support_eV_per_K: float | None = None):
    """k in eV/(nm^2 ps K) from 1/tau = k A (1/C_np + 1/C_support); C_support None = infinite bath."""
    inv_C = 1.0 / C_np_eV_per_K + (1.0 / C_support_eV_per_K if C_support_eV_per_K else 0.0)
    return 1.0 / (tau_ps * area_nm2 * inv_C)


def fit_decay(t_ps: np.ndarray, dT_K: np.ndarray) -> dict:
    """Least-squares fit of eq. 6; t is time since contact. Returns dT0, tau, their std errors and fit quality."""
    if len(t_ps) < 5:
        raise UserError(f"only {len(t_ps)} points in the fit window; widen it (--start, --stop-temp)")
    pos = dT_K > 0.1 * np.abs(dT_K).max()
    slope = np.polyfit(t_ps[pos], np.log(dT_K[pos]), 1)[0] if pos.sum() > 2 else -1.0 / np.ptp(t_ps)
    tau0 = -1.0 / slope if slope < 0 else np.ptp(t_ps)
    try:
        p, cov = curve_fit(exp_decay, t_ps, dT_K, p0=[dT_K[0], tau0], maxfev=10000)
    except RuntimeError as e:
        raise UserError(f"exponential fit did not converge ({e})") from None
    resid = dT_K - exp_decay(t_ps, *p)
    ss_tot = np.sum((dT_K - dT_K.mean()) ** 2)
    lag1 = np.corrcoef(resid[:-1], resid[1:])[0, 1] if len(resid) > 3 else float("nan")
    return {
        "dT0_K": float(p[0]), "tau_ps": float(p[1]),
        "dT0_err_K": float(np.sqrt(cov[0, 0])), "tau_err_ps": float(np.sqrt(cov[1, 1])),
        "r2": float(1.0 - np.sum(resid**2) / ss_tot), "rms_residual_K": float(np.sqrt(np.mean(resid**2))),
        "residual_lag1_autocorrelation": float(lag1), "residuals_K": resid,
    }


def heat_capacity(E_eV: np.ndarray, T_K: np.ndarray, n_bins: int = 20) -> tuple[float, float]:
    """C = dE/dT (eV/K) from time-binned means of a group's energy and temperature, with its std error.

    Binning first removes the instantaneous kinetic/potential exchange that would bias a raw E-vs-T regression
    towards the kinetic part alone (errors in the regressor)."""
    n_bins = max(3, min(n_bins, len(E_eV) // 3))
    E_b = np.array([b.mean() for b in np.array_split(E_eV, n_bins)])
    T_b = np.array([b.mean() for b in np.array_split(T_K, n_bins)])
    if np.ptp(T_b) < 1e-6:
        raise UserError("temperature does not change in the window: cannot get c_p from the log; give --cp")
    (slope, _), cov = np.polyfit(T_b, E_b, 1, cov=True)
    return float(slope), float(np.sqrt(cov[0, 0]))


def block_bootstrap(t_ps, dT_K, fit, E_np, T_np, E_sub, T_sub, n_boot=200, seed=0):
    """Moving-block bootstrap of the fit residuals (and the energies' residuals): std of tau and C_np, C_sub."""
    with warnings.catch_warnings():
        return _block_bootstrap(t_ps, dT_K, fit, E_np, T_np, E_sub, T_sub, n_boot, seed)


def _block_bootstrap(t_ps, dT_K, fit, E_np, T_np, E_sub, T_sub, n_boot, seed):
    rng = np.random.default_rng(seed)
    n = len(t_ps)
    block = max(2, n // 20)
    model = exp_decay(t_ps, fit["dT0_K"], fit["tau_ps"])
    resid = fit["residuals_K"]
    lines = {}
    for name, E, T in (("np", E_np, T_np), ("sub", E_sub, T_sub)):
        if E is not None:
            c = np.polyfit(T, E, 1)
            lines[name] = (np.polyval(c, T), E - np.polyval(c, T))
    taus, Cs = [], {k: [] for k in lines}
    starts = np.arange(n - block + 1)
    warnings.simplefilter("ignore")  # a resample's degenerate covariance is expected and not worth a line each
    for _ in range(n_boot):
        idx = np.concatenate([np.arange(s, s + block) for s in rng.choice(starts, n // block + 1)])[:n]
        try:
            p, _ = curve_fit(exp_decay, t_ps, model + resid[idx], p0=[fit["dT0_K"], fit["tau_ps"]], maxfev=2000)
        except RuntimeError:
            continue
        taus.append(p[1])
        for name, (smooth, r) in lines.items():
            T = T_np if name == "np" else T_sub
            Cs[name].append(heat_capacity(smooth + r[idx], T)[0])
    return np.array(taus), {k: np.array(v) for k, v in Cs.items()}


# ------------------------------------------------------------------------------------------------ inputs


@dataclass
class Geometry:
    n_atoms_np: int
    area_nm2: float
    n_atoms_support: int | None = None
    volume_nm3: float | None = None
    support: str = "unknown"
    label: str = ""
    source: str = ""


def load_geometry(log_path: Path, args) -> Geometry:
    path = Path(args.geometry) if args.geometry else log_path.parent / "geometry.json"
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    elif args.geometry:
        raise UserError(f"{path}: geometry file not found")
    n_np = args.natoms if args.natoms is not None else data.get("n_atoms_np")
    area = args.area if args.area is not None else data.get("A_nm2")
    if n_np is None or area is None:
        missing = [k for k, v in (("n_atoms_np (--natoms)", n_np), ("A_nm2 (--area)", area)) if v is None]
        where = path if path.exists() else f"{path} (absent)"
        raise UserError(f"{where}: missing {', '.join(missing)}; give geometry.json from the builder or the options")
    if float(area) <= 0 or int(n_np) <= 0:
        raise UserError(f"{where if not path.exists() else path}: contact area and atom count must be positive")
    return Geometry(int(n_np), float(area), data.get("n_atoms_support"), data.get("V_nm3"),
                    args.support or data.get("support", "unknown"), args.label or data.get("label", ""),
                    str(path) if path.exists() else "")


def _column_expr(expr: str) -> list[str]:
    return [c for c in expr.split("+") if c]


def _eval(th, expr: str) -> np.ndarray:
    return sum(th[c] for c in _column_expr(expr))


# ------------------------------------------------------------------------------------------------ analysis


def analyse_transient(paths: list[Path], geo: Geometry, a) -> dict:
    want = ["Time"] if a.time == "Time" else [a.time]
    for expr in (a.t_np, a.t_support):
        want += _column_expr(expr)
    use_energy_np = a.cp is None
    optional = []
    if use_energy_np:
        want += _column_expr(a.e_np)
    if not a.infinite_support:
        optional = _column_expr(a.e_support)
    th = _read(paths, want, optional)
    have_sub_energy = bool(optional) and all(c in th.columns for c in optional)
    blk = _pick_block(th, a.block)
    t = th[a.time]
    mask = th.block == blk
    if a.start is not None:
        mask &= t >= a.start
    t0 = t[mask][0] if mask.any() else 0.0
    T_np, T_sub = _eval(th, a.t_np), _eval(th, a.t_support)
    if a.stop_temp is not None:
        from scipy.ndimage import uniform_filter1d

        idx = np.nonzero(mask)[0]
        smooth = uniform_filter1d(T_np[idx], size=11, mode="nearest")  # ignore single hot/cold rows
        below = idx[(smooth < a.stop_temp) & (t[idx] > t0)]
        if below.size:
            mask &= np.arange(len(t)) < below[0]
    if mask.sum() < 5:
        raise UserError(f"{paths[0]}: only {int(mask.sum())} thermo rows in the fit window "
                        f"(block {blk}, start {a.start}, stop-temp {a.stop_temp})")
    tw, dT = t[mask] - t0, (T_np - T_sub)[mask]
    fit = fit_decay(tw, dT)

    if a.cp is not None:
        C_np, C_np_err = a.cp * geo.n_atoms_np, 0.0
        E_np = None
    else:
        E_np = _eval(th, a.e_np)[mask]
        C_np, C_np_err = heat_capacity(E_np, T_np[mask])
    E_sub = C_sub = C_sub_err = None
    if have_sub_energy:
        E_sub = _eval(th, a.e_support)[mask]
        C_sub, C_sub_err = heat_capacity(E_sub, T_sub[mask])
    window_ps = float(tw[-1] - tw[0])
    if not C_np > 0:
        raise UserError(f"{paths[0]}: the particle's energy does not rise with its temperature in the window "
                        f"(C = {C_np:.3g} eV/K over {window_ps:.3g} ps, T_np {T_np[mask].min():.0f}-"
                        f"{T_np[mask].max():.0f} K): the run is too short to cool; run longer or give --cp")
    if C_sub is not None and not C_sub > 0:
        C_sub = None  # support barely warms: treat it as a bath
    k = conductance(fit["tau_ps"], geo.area_nm2, C_np, C_sub)
    quality = []
    if not fit["tau_ps"] > 0 or fit["tau_err_ps"] > 0.5 * abs(fit["tau_ps"]) or fit["tau_ps"] > 20 * window_ps:
        quality.append(f"tau poorly determined: window {window_ps:.3g} ps against tau = {fit['tau_ps']:.3g} "
                       f"+- {fit['tau_err_ps']:.2g} ps; run NVE for a few tau")
    if C_np_err > 0.2 * C_np:
        binned = [b.mean() for b in np.array_split(T_np[mask], 20)]
        quality.append(f"c_p poorly determined (+-{100 * C_np_err / C_np:.0f} %): the particle cools by only "
                       f"{np.ptp(binned):.0f} K (time-binned) in the window; run longer or give --cp")

    # uncertainty 1: fit covariance and c_p regression, propagated
    rel = np.sqrt((fit["tau_err_ps"] / fit["tau_ps"]) ** 2 + (C_np_err / C_np) ** 2)
    k_err_fit = k * rel
    # uncertainty 2: moving-block bootstrap of the time series
    k_err_boot = float("nan")
    if a.bootstrap > 0:
        taus, Cs = block_bootstrap(tw, dT, fit, E_np, T_np[mask], E_sub, T_sub[mask] if E_sub is not None else None,
                                   n_boot=a.bootstrap)
        n = min(len(taus), *(len(v) for v in Cs.values())) if Cs else len(taus)
        if n > 10:
            ks = [conductance(taus[i], geo.area_nm2, Cs["np"][i] if "np" in Cs else C_np,
                              Cs["sub"][i] if "sub" in Cs else C_sub) for i in range(n)]
            k_err_boot = float(np.std(ks, ddof=1))
    k_err = max(k_err_fit, k_err_boot) if np.isfinite(k_err_boot) else k_err_fit
    result = {
        "mode": "transient",
        "logs": [str(p) for p in paths],
        "geometry": geo.source,
        "label": geo.label, "support": geo.support,
        "n_atoms_np": geo.n_atoms_np, "n_atoms_support": geo.n_atoms_support,
        "area_nm2": geo.area_nm2, "volume_nm3": geo.volume_nm3,
        "block": int(blk), "t_contact_ps": float(t0), "t_end_ps": float(t[mask][-1]), "n_points": int(mask.sum()),
        "tau_ps": fit["tau_ps"], "tau_err_ps": fit["tau_err_ps"], "dT0_K": fit["dT0_K"], "dT0_err_K": fit["dT0_err_K"],
        "cp_eV_per_K": C_np / geo.n_atoms_np, "cp_err_eV_per_K": C_np_err / geo.n_atoms_np,
        "cp_source": "--cp" if a.cp is not None else f"dE/dT of {a.e_np} vs {a.t_np}",
        "C_support_eV_per_K": C_sub, "C_support_err_eV_per_K": C_sub_err,
        "support_model": "finite (1/tau = kA(1/C_np + 1/C_support))" if C_sub else "infinite bath",
        "k_eV_per_nm2_ps_K": k, "k_err_eV_per_nm2_ps_K": k_err,
        "k_err_fit_eV_per_nm2_ps_K": k_err_fit, "k_err_bootstrap_eV_per_nm2_ps_K": k_err_boot,
        "k_MW_per_m2_K": k * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
        "k_err_MW_per_m2_K": k_err * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
        "r2": fit["r2"], "rms_residual_K": fit["rms_residual_K"],
        "residual_lag1_autocorrelation": fit["residual_lag1_autocorrelation"],
        "notes": th.notes + quality,
        "reliable": not quality,
    }
    result["_plot"] = (tw, dT, fit)
    return result


def analyse_steady(paths: list[Path], geo: Geometry, a) -> dict:
    want = [a.time] + _column_expr(a.t_np) + _column_expr(a.t_support)
    if a.power is None:
        want += _column_expr(a.power_col)
    th = _read(paths, want)
    blk = _pick_block(th, a.block)
    t = th[a.time]
    mask = th.block == blk
    start = a.start if a.start is not None else t[mask][0] + 0.5 * (t[mask][-1] - t[mask][0])
    mask &= t >= start
    if mask.sum() < 10:
        raise UserError(f"{paths[0]}: only {int(mask.sum())} thermo rows in the steady window (start {start} ps)")
    dT = (_eval(th, a.t_np) - _eval(th, a.t_support))[mask]
    P = a.power if a.power is not None else float(np.mean(_eval(th, a.power_col)[mask]))
    blocks = np.array([b.mean() for b in np.array_split(dT, 10)])
    dT_mean, dT_err = float(dT.mean()), float(blocks.std(ddof=1) / np.sqrt(len(blocks)))
    if dT_mean <= 0:
        raise UserError(f"{paths[0]}: mean NP-support temperature difference is {dT_mean:.3g} K, not positive")
    k = P / (geo.area_nm2 * dT_mean)
    k_err = k * dT_err / dT_mean
    return {
        "mode": "steady", "logs": [str(p) for p in paths], "geometry": geo.source, "label": geo.label,
        "support": geo.support, "n_atoms_np": geo.n_atoms_np, "area_nm2": geo.area_nm2,
        "volume_nm3": geo.volume_nm3, "block": int(blk), "t_start_ps": float(start), "n_points": int(mask.sum()),
        "power_eV_per_ps": P, "dT_K": dT_mean, "dT_err_K": dT_err,
        "k_eV_per_nm2_ps_K": k, "k_err_eV_per_nm2_ps_K": k_err,
        "k_MW_per_m2_K": k * EV_PER_NM2_PS_K_TO_MW_PER_M2_K, "k_err_MW_per_m2_K": k_err * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
        "notes": th.notes,
    }


def _read(paths, want, optional=()):
    """Thermo with the wanted columns, and the optional ones where the log has them."""
    try:
        return read_thermo(paths, list(dict.fromkeys([*want, *optional])))
    except MissingColumnsError as e:
        if not optional or not set(e.missing) <= set(optional):
            raise
    return read_thermo(paths, list(dict.fromkeys(want)))


def _pick_block(th, block: int) -> int:
    blocks = np.unique(th.block)
    try:
        return int(blocks[block])
    except IndexError:
        raise UserError(f"--block {block}: the log has {len(blocks)} thermo block(s) with the needed columns") from None


# ------------------------------------------------------------------------------------------------ output


def summarize(results: list[dict]) -> dict:
    """Mean +- std of k over runs, per system (label) and per support."""
    def stats(rs):
        k = np.array([r["k_eV_per_nm2_ps_K"] for r in rs])
        out = {"n_runs": len(rs), "k_mean_eV_per_nm2_ps_K": float(k.mean()),
               "k_std_eV_per_nm2_ps_K": float(k.std(ddof=1)) if len(k) > 1 else float("nan")}
        out["k_mean_MW_per_m2_K"] = out["k_mean_eV_per_nm2_ps_K"] * EV_PER_NM2_PS_K_TO_MW_PER_M2_K
        if "cp_eV_per_K" in rs[0]:
            out["cp_mean_eV_per_K"] = float(np.mean([r["cp_eV_per_K"] for r in rs]))
        return out
    groups = {}
    for key in ("label", "support"):
        g = {}
        for r in results:
            g.setdefault(r.get(key) or "unlabelled", []).append(r)
        groups[key] = {name: stats(rs) for name, rs in g.items()}
    return groups


def write_table(results: list[dict], summary: dict, prefix: Path) -> list[Path]:
    """Paper Table 3 style: V, A, c_p, k per run (CSV + markdown), then per-support mean +- std."""
    cols = [("run", lambda r: r["logs"][0]), ("label", lambda r: r["label"]), ("support", lambda r: r["support"]),
            ("n_atoms_np", lambda r: r["n_atoms_np"]), ("V_nm3", lambda r: r.get("volume_nm3")),
            ("A_nm2", lambda r: r["area_nm2"]), ("cp_eV_per_K", lambda r: r.get("cp_eV_per_K")),
            ("tau_ps", lambda r: r.get("tau_ps")), ("k_eV_per_nm2_ps_K", lambda r: r["k_eV_per_nm2_ps_K"]),
            ("k_err_eV_per_nm2_ps_K", lambda r: r["k_err_eV_per_nm2_ps_K"]),
            ("k_MW_per_m2_K", lambda r: r["k_MW_per_m2_K"])]
    csv_path, md_path = prefix.with_suffix(".csv"), prefix.with_suffix(".md")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([c for c, _ in cols])
        for r in results:
            w.writerow([fn(r) for _, fn in cols])

    def fmt(v):
        return "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(fn(r)) for _, fn in cols) + " |" for r in results]
    lines += ["", "| support | runs | k mean (eV/(nm² ps K)) | k std | k mean (MW/(m² K)) |", "|---|---|---|---|---|"]
    for name, s in summary["support"].items():
        lines.append(f"| {name} | {s['n_runs']} | {s['k_mean_eV_per_nm2_ps_K']:.4g} | "
                     f"{s['k_std_eV_per_nm2_ps_K']:.2g} | {s['k_mean_MW_per_m2_K']:.4g} |")
    md_path.write_text("\n".join(lines) + "\n")
    return [csv_path, md_path]


def plot_transient(result: dict, out_prefix: Path) -> list[str]:
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()

    t, dT, fit = result["_plot"]
    model = exp_decay(t, fit["dT0_K"], fit["tau_ps"])
    fig, ax = plt.subplots(3, 1, figsize=(6, 8), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.5]})
    label = (f"fit: ΔT0 = {fit['dT0_K']:.1f} K, τ = {fit['tau_ps']:.1f} ps\n"
             f"k = {result['k_eV_per_nm2_ps_K']:.3e} ± {result['k_err_eV_per_nm2_ps_K']:.2g} eV/(nm² ps K)"
             f" = {result['k_MW_per_m2_K']:.0f} MW/(m² K)")
    for a_, log in ((ax[0], False), (ax[1], True)):
        a_.plot(t, dT, ".", ms=2, color="0.5", label="MD: T_np − T_support")
        a_.plot(t, model, "-", color="C3", label=label if not log else None)
        a_.set_ylabel("ΔT (K)")
        if log:
            a_.set_yscale("log")
            a_.set_ylim(max(dT[dT > 0].min() if (dT > 0).any() else 1e-1, 1e-1), None)
    ax[0].legend(fontsize=8)
    ax[0].set_title(f"{result['label'] or Path(result['logs'][0]).parent.name}: A = {result['area_nm2']:.3g} nm², "
                    f"N_np = {result['n_atoms_np']}", fontsize=10)
    ax[2].plot(t, dT - model, ".", ms=2, color="0.3")
    ax[2].axhline(0, color="C3", lw=0.8)
    ax[2].set_ylabel("residual (K)")
    ax[2].set_xlabel("time since contact (ps)")
    return save_figure(fig, out_prefix)


def human(result: dict) -> str:
    r = result
    if r["mode"] == "steady":
        return (f"{r['logs'][0]}: steady state, P = {r['power_eV_per_ps']:.4g} eV/ps, ΔT = {r['dT_K']:.2f} ± "
                f"{r['dT_err_K']:.2f} K over {r['n_points']} rows, A = {r['area_nm2']:.4g} nm²\n"
                f"  k = {r['k_eV_per_nm2_ps_K']:.4g} ± {r['k_err_eV_per_nm2_ps_K']:.2g} eV/(nm² ps K)"
                f" = {r['k_MW_per_m2_K']:.1f} ± {r['k_err_MW_per_m2_K']:.1f} MW/(m² K)")
    return (f"{r['logs'][0]}: block {r['block']}, contact at {r['t_contact_ps']:.4g} ps, {r['n_points']} rows to "
            f"{r['t_end_ps']:.4g} ps\n"
            f"  ΔT0 = {r['dT0_K']:.2f} ± {r['dT0_err_K']:.2f} K, τ = {r['tau_ps']:.3f} ± {r['tau_err_ps']:.3f} ps, "
            f"R² = {r['r2']:.4f}, rms residual {r['rms_residual_K']:.2f} K\n"
            f"  c_p = {r['cp_eV_per_K']:.4g} ± {r['cp_err_eV_per_K']:.2g} eV/K/atom ({r['cp_source']}), "
            f"N_np = {r['n_atoms_np']}, A = {r['area_nm2']:.4g} nm², support: {r['support_model']}\n"
            f"  k = {r['k_eV_per_nm2_ps_K']:.4g} ± {r['k_err_eV_per_nm2_ps_K']:.2g} eV/(nm² ps K) "
            f"= {r['k_MW_per_m2_K']:.1f} ± {r['k_err_MW_per_m2_K']:.1f} MW/(m² K)"
            f" [fit {r['k_err_fit_eV_per_nm2_ps_K']:.2g}, bootstrap {r['k_err_bootstrap_eV_per_nm2_ps_K']:.2g}]")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m analysis.fit_k", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="+", metavar="LOG[,LOG...]", help="log.lammps files (plain or .gz); commas join "
                   "restart segments of one run")
    g = p.add_argument_group("geometry")
    g.add_argument("--geometry", help="geometry.json for all runs (default: geometry.json next to each log)")
    g.add_argument("--area", type=float, help="NP/support contact area A, nm² (overrides geometry.json)")
    g.add_argument("--natoms", type=int, help="number of NP atoms N (overrides geometry.json)")
    g.add_argument("--label", help="system label for tables (default: geometry.json 'label')")
    g.add_argument("--support", help="support name for tables (default: geometry.json 'support')")
    c = p.add_argument_group("columns (thermo names; '+' sums columns)")
    c.add_argument("--time", default="Time", help="time column, ps (default Time)")
    c.add_argument("--t-np", default="v_T_np", help="NP temperature, K (default v_T_np)")
    c.add_argument("--t-support", default="v_T_support", help="support temperature, K (default v_T_support)")
    c.add_argument("--e-np", default="v_E_np", help="NP energy (kinetic + potential), eV (default v_E_np)")
    c.add_argument("--e-support", default="v_E_support", help="support energy, eV (default v_E_support)")
    w = p.add_argument_group("fit window and model")
    w.add_argument("--block", type=int, default=-1, help="thermo block (run section) to fit; default -1 = last")
    w.add_argument("--start", type=float, help="start of the window (contact), ps in the log's time (default: "
                   "block start; steady: second half of the block)")
    w.add_argument("--stop-temp", type=float, help="end the window when T_np falls below this, K (paper: 420)")
    w.add_argument("--cp", type=float, help="NP heat capacity per atom, eV/K (default: from the log)")
    w.add_argument("--infinite-support", action="store_true", help="ignore support energies: infinite bath")
    w.add_argument("--bootstrap", type=int, default=200, help="block-bootstrap resamples (0 = off; default 200)")
    s = p.add_argument_group("steady state")
    s.add_argument("--steady", action="store_true", help="steady_state.in log: k = P/(A ΔT)")
    s.add_argument("--power", type=float, help="heating power P, eV/ps (default: mean of --power-col)")
    s.add_argument("--power-col", default="v_P_np", help="thermo column with P, eV/ps (default v_P_np)")
    o = p.add_argument_group("output")
    o.add_argument("--json", help="write results here (several runs: means at top level, each run in 'runs')")
    o.add_argument("--plot-dir", help="where figures go (default: next to each log); fit_k.png and .pdf")
    o.add_argument("--no-plot", action="store_true", help="no figures")
    o.add_argument("--table", help="prefix for the Table-3-like CSV and markdown (default fit_k_table with >1 run)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    runs = [[Path(p) for p in arg.split(",") if p] for arg in a.logs]
    results = []
    for i, paths in enumerate(runs):
        geo = load_geometry(paths[0], a)
        r = analyse_steady(paths, geo, a) if a.steady else analyse_transient(paths, geo, a)
        print(human(r))
        for note in r["notes"]:
            print(f"  note: {note}")
        if not a.steady and not a.no_plot:
            out_dir = Path(a.plot_dir) if a.plot_dir else paths[0].parent
            out_dir.mkdir(parents=True, exist_ok=True)
            name = "fit_k" if len(runs) == 1 or not a.plot_dir else f"fit_k_{i:03d}"
            figs = plot_transient(r, out_dir / name)
            r["figures"] = figs
            print(f"  figures: {', '.join(r['figures'])}")
        r.pop("_plot", None)
        results.append(r)
    out = dict(results[0]) if len(results) == 1 else {}
    if len(results) > 1:
        summary = summarize(results)
        k = np.array([r["k_eV_per_nm2_ps_K"] for r in results])
        out = {"k_eV_per_nm2_ps_K": float(k.mean()), "k_err_eV_per_nm2_ps_K": float(k.std(ddof=1)),
               "k_MW_per_m2_K": float(k.mean()) * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
               "n_runs": len(results), "by_label": summary["label"], "by_support": summary["support"],
               "runs": results}
        print(f"{len(results)} runs: k = {k.mean():.4g} ± {k.std(ddof=1):.2g} eV/(nm² ps K) (mean ± std over runs)")
        for name, s in summary["support"].items():
            print(f"  support {name}: {s['n_runs']} runs, k = {s['k_mean_eV_per_nm2_ps_K']:.4g} ± "
                  f"{s['k_std_eV_per_nm2_ps_K']:.2g} eV/(nm² ps K)")
        table = Path(a.table) if a.table else Path("fit_k_table")
        print(f"  table: {', '.join(str(p) for p in write_table(results, summary, table))}")
    elif a.table:
        write_table(results, summarize(results), Path(a.table))
    if a.json:
        tmp = Path(a.json + ".part")
        tmp.write_text(json.dumps(out, indent=2, default=float))
        tmp.replace(a.json)
        print(f"  json: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
