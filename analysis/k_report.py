"""fit_k's outputs for people: the Table-3-like table (CSV + markdown), the transient figure, the printed lines.

Each takes the typed results of analysis.k_analysis; nothing here computes k.
"""

from __future__ import annotations

import csv
from pathlib import Path

from analysis.cooling import exp_decay
from analysis.k_results import KEstimate, KStats, RunResult, SteadyResult, TransientResult
from beamheat.io import atomic_write

# the table's columns: header and how a run's result gives the cell
TABLE_COLUMNS = [
    ("run", lambda r: r.logs[0]), ("label", lambda r: r.label), ("support", lambda r: r.support),
    ("n_atoms_np", lambda r: r.n_atoms_np), ("V_nm3", lambda r: r.volume_nm3), ("A_nm2", lambda r: r.area_nm2),
    ("cp_eV_per_K", lambda r: getattr(r, "cp_eV_per_K", None)), ("tau_ps", lambda r: getattr(r, "tau_ps", None)),
    ("k_eV_per_nm2_ps_K", lambda r: r.k.k_eV_per_nm2_ps_K),
    ("k_err_eV_per_nm2_ps_K", lambda r: r.k.k_err_eV_per_nm2_ps_K),
    ("k_MW_per_m2_K", lambda r: r.k.k_MW_per_m2_K), ("k_method", lambda r: r.k_method),
    ("reliable", lambda r: r.reliable)]


def write_table(results: list[RunResult], by_support: dict[str, KStats], prefix: Path) -> list[Path]:
    """Paper Table 3 style: V, A, c_p, k per run (CSV + markdown), then per-support mean +- std of the averaged runs."""
    cols = TABLE_COLUMNS
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
    lines += ["", "| support | runs averaged | k mean (eV/(nm² ps K)) | k std | k mean (MW/(m² K)) |",
              "|---|---|---|---|---|"]
    for name, st in by_support.items():
        lines.append(f"| {name} | {st.n_runs} | {st.k_mean_eV_per_nm2_ps_K:.4g} | "
                     f"{fmt(st.k_std_eV_per_nm2_ps_K)} | {st.k_mean_MW_per_m2_K:.4g} |")
    atomic_write(csv_path, write_csv, newline="")
    atomic_write(md_path, "\n".join(lines) + "\n")
    return [csv_path, md_path]


def fmt_k(k: KEstimate) -> str:
    """k ± error with its 68 % interval and relative uncertainty, one line."""
    lo, hi = k.k_interval_eV_per_nm2_ps_K
    return (f"k = {k.k_eV_per_nm2_ps_K:.3g} ± {k.k_err_eV_per_nm2_ps_K:.2g} eV/(nm² ps K) "
            f"(68 % interval {lo:.3g} – {hi:.3g}; ±{100 * k.k_relative_uncertainty:.0f} %)")


def plot_transient(result: TransientResult, out_prefix: Path) -> list[str]:
    """ΔT(t) with the eq.-6 fit (linear and log), its residual and, with the particle energy, the energy balance."""
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()
    r = result
    t, dT, fit, balance = r.plot_data
    model = exp_decay(t, fit["dT0_K"], fit["tau_ps"])
    n_panels = 4 if balance is not None else 3
    ratios = [3, 3, 1.5, 3][:n_panels]
    fig, ax = plt.subplots(n_panels, 1, figsize=(6.5, 2.6 * n_panels), sharex=True,
                           gridspec_kw={"height_ratios": ratios})
    k_exp = r.k_exp_fit_eV_per_nm2_ps_K
    label = f"eq. 6 fit: ΔT0 = {fit['dT0_K']:.0f} K, τ = {fit['tau_ps']:.3g} ps"
    if k_exp is not None and r.k_exp_fit_err_eV_per_nm2_ps_K is not None:
        label += f"\n  k = {k_exp:.3g} ± {r.k_exp_fit_err_eV_per_nm2_ps_K:.2g} eV/(nm² ps K)"
    for a_, log in ((ax[0], False), (ax[1], True)):
        a_.plot(t, dT, ".", ms=2, color="0.5", label="MD: T_np − T_support")
        a_.plot(t, model, "-", color="C3", label=label if not log else None)
        a_.set_ylabel("ΔT (K)")
        if log:
            a_.set_yscale("log")
            a_.set_ylim(max(dT[dT > 0].min() if (dT > 0).any() else 1e-1, 1e-1), None)
    ax[0].legend(fontsize=7)
    status = "" if r.reliable else "  [UNRELIABLE]"
    ax[0].set_title(f"{r.label or Path(r.logs[0]).parent.name}: A = {r.area_nm2:.3g} nm², "
                    f"N_np = {r.n_atoms_np}\n{r.k_method}: {fmt_k(r.k)}{status}", fontsize=8)
    ax[2].plot(t, dT - model, ".", ms=2, color="0.3")
    ax[2].axhline(0, color="C3", lw=0.8)
    ax[2].set_ylabel("residual (K)")
    if balance is not None:
        I, Q = balance
        kA = r.k_energy_balance_eV_per_nm2_ps_K * r.area_nm2
        ax[3].plot(t, Q, "-", color="0.3", lw=1, label="heat out of the particle Q = −ΔE_np")
        ax[3].plot(t, kA * I, "--", color="C0", lw=1,
                   label=f"k A ∫ΔT dt, k = {r.k_energy_balance_eV_per_nm2_ps_K:.3g} ± "
                         f"{r.k_energy_balance_err_eV_per_nm2_ps_K:.2g}")
        ax[3].set_ylabel("heat (eV)")
        ax[3].legend(fontsize=7)
    ax[-1].set_xlabel("time since contact (ps)")
    fig.tight_layout()
    return save_figure(fig, out_prefix)


def human(result: RunResult) -> str:
    """The lines fit_k prints for one run."""
    r = result
    k = r.k
    if isinstance(r, SteadyResult):
        text = (f"{r.logs[0]}: steady state, P = {r.power_eV_per_ps:.4g} eV/ps, ΔT = {r.dT_K:.2f} ± "
                f"{r.dT_err_K:.2f} K over {r.n_points} rows from {r.t_start_ps:.4g} ps, "
                f"A = {r.area_nm2:.4g} nm²\n")
        if r.stored_fraction is not None:
            text += (f"  P/(A<ΔT>) = {r.k_plain_eV_per_nm2_ps_K:.4g} ± {r.k_plain_err_eV_per_nm2_ps_K:.2g}; "
                     f"power stored in the particle over the window: {100 * r.stored_fraction:.1f} %\n")
        return text + f"  {r.k_method}: {fmt_k(k)} = {k.k_MW_per_m2_K:.1f} ± {k.k_err_MW_per_m2_K:.1f} MW/(m² K)"
    text = (f"{r.logs[0]}: block {r.block} ({r.stage or 'chosen by --block'}), contact at "
            f"{r.t_contact_ps:.4g} ps, {r.n_points} rows to {r.t_end_ps:.4g} ps\n"
            f"  eq. 6: ΔT0 = {r.dT0_K:.2f} ± {r.dT0_err_K:.2f} K, τ = {r.tau_ps:.4g} ± {r.tau_err_ps:.3g} ps, "
            f"R² = {r.r2:.4f}, c_p = {r.cp_eV_per_K:.4g} ± {r.cp_err_eV_per_K:.2g} eV/K/atom "
            f"({r.cp_source}), support: {r.support_model}")
    if r.k_exp_fit_eV_per_nm2_ps_K is not None and r.k_exp_fit_err_eV_per_nm2_ps_K is not None:
        text += (f"\n         k = {r.k_exp_fit_eV_per_nm2_ps_K:.4g} ± {r.k_exp_fit_err_eV_per_nm2_ps_K:.2g} "
                 f"eV/(nm² ps K)")
    if r.k_energy_balance_eV_per_nm2_ps_K is not None:
        text += (f"\n  energy balance: heat out {r.heat_out_eV:.4g} eV, ∫ΔT dt = {r.integral_dT_K_ps:.4g} K ps, "
                 f"k = {r.k_energy_balance_eV_per_nm2_ps_K:.4g} ± {r.k_energy_balance_err_eV_per_nm2_ps_K:.2g}")
    text += (f"\n  {r.k_method}: {fmt_k(k)} = {k.k_MW_per_m2_K:.1f} ± {k.k_err_MW_per_m2_K:.1f} MW/(m² K)"
             f" [largest error: {k.k_err_source}]")
    return text
