"""The analysis' figure: t/lambda and t<dE/dx> across the scan, the particle, and the thickest pixel's spectrum."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.eels.lambda_np import hemisphere_profile
from analysis.eels.linescan import PixelResults
from analysis.eels.results import EelsResult
from beamheat.results import ABSENT


def _short_warning(reasons: list[str], width: int = 58) -> str:
    first = reasons[0] if len(reasons[0]) <= width else reasons[0][:width - 1] + "…"
    return f"UNRELIABLE: {first}" + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else "")


def plot_figure(px: PixelResults, s, res: EelsResult, inside, out_prefix: Path, upper_eV: float) -> list[str]:
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(3, 1, figsize=(6, 9))
    x = px.position
    ax[0].plot(x, px.t_over_lambda, "o-", ms=3, label="t/λ = ln(I_total / I_ZLP)")
    if px.variations:
        sH = px.sys_err()[0]
        ax[0].fill_between(x, px.t_over_lambda - sH, px.t_over_lambda + sH, color="C0", alpha=0.25, lw=0,
                           label="± systematic (method)")
    p = res.particle
    if inside is not None:
        ax[0].axvspan(x[inside].min(), x[inside].max(), color="C1", alpha=0.15, label="particle")
        if p is not None and p.fit_x0_nm is not ABSENT:
            xx = np.linspace(x.min(), x.max(), 400)
            ax[0].plot(xx, hemisphere_profile(xx * res.position_nm_per_unit, p.fit_x0_nm, p.R_nm,
                                              p.fit_amplitude, p.fit_t_over_lambda_background),
                       "-", color="C3", label=f"hemisphere, R = {p.R_nm:.2f} nm")
        if p is not None:
            (llo, lhi), (elo, ehi) = p.lambda_np_interval95_nm, p.mean_energy_loss_np_interval95_eV
            ax[0].set_title(f"λ_NP = {p.lambda_np_nm:.1f} nm (95 %: {llo:.1f}–{lhi:.1f}), "
                            f"⟨E⟩_NP = {p.mean_energy_loss_np_eV:.1f} eV (95 %: {elo:.1f}–{ehi:.1f})"
                            + ("" if p.reliable else "\n" + _short_warning(p.unreliable_reasons)),
                            fontsize=9, color="k" if p.reliable else "C3")
    ax[0].set_ylabel("t/λ")
    ax[0].legend(fontsize=8)
    ax[1].plot(x, px.t_dEdx_eV, "o-", ms=3, color="C2")
    ax[1].set_ylabel("t⟨dE/dx⟩ (eV)")
    ax[1].set_xlabel(f"position ({px.position_units})")
    k = int(np.argmax(px.t_over_lambda))
    spec = s.inav[k] if s.axes_manager.navigation_dimension else s
    E = spec.axes_manager.signal_axes[0].axis
    ax[2].semilogy(E, np.clip(spec.data, 1e-3, None), lw=0.8, color="0.2")
    ax[2].axvspan(E.min(), px.threshold_eV[k], color="C0", alpha=0.15, label="zero-loss window")
    ax[2].axvline(px.mean_loss_eV[k], color="C3", label=f"⟨E⟩ = {px.mean_loss_eV[k]:.1f} eV")
    ax[2].axvline(upper_eV, color="0.5", ls="--", label=f"upper limit {upper_eV:g} eV")
    ax[2].set_xlabel("energy loss (eV)")
    ax[2].set_ylabel("counts")
    ax[2].set_title(f"spectrum at pixel {k} (thickest)", fontsize=10)
    ax[2].legend(fontsize=8)
    return save_figure(fig, out_prefix)
