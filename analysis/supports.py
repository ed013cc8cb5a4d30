"""The same particle on several supports: dT against dose rate (the paper's Fig. 3) and against beam energy (Fig. 4)
from each support's measured k, with the intervals analysis.heating.predict carries.

    from analysis.supports import compare_supports
    r = compare_supports({"hbn": "runs/demo/k.json", "anatase101": "runs/tio2/k.json"}, geometry="geometry.json",
                         lambda_300_nm=104.0, mean_loss_eV=43.6)

Eq. 5 with one particle (S, A, t from one geometry.json) and one k per support: at a given dose rate and beam energy
dT is proportional to 1/k, so the supports' dT ratio is the inverse of their k ratio, and its uncertainty is that
of the two k. lambda(E) is scaled from its 300 keV value by Iakoubovskii's formula (analysis.eels), as
`analysis.heating curves` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.heating import AU_DENSITY, REFERENCE_K, predict
from beamheat.io import write_csv
from beamheat.results import Record


@dataclass(kw_only=True)
class SupportCurve(Record):
    """One support: its k and dT with 68 % intervals against dose rate (at 300 keV) and against beam energy (at the
    reference dose rate)."""
    support: str
    k_json: str
    k_eV_per_nm2_ps_K: float
    k_interval_eV_per_nm2_ps_K: list[float] | None
    paper_k_eV_per_nm2_ps_K: float | None
    dose_rate_e_per_A2_s: list[float]
    dT_K: list[float]
    dT_interval_K: list[list[float]]
    beam_keV: list[float]
    dT_at_dose_rate_K: list[float]
    dT_at_dose_rate_interval_K: list[list[float]]
    reliable: bool
    warnings: list[str]


@dataclass(kw_only=True)
class SupportComparison(Record):
    """compare_supports(): the curves, and each support's dT over the first one's at the reference dose rate and
    300 keV (= k_first / k_support), beside the same ratio from the paper's k where the paper gives both."""
    geometry: str
    S_nm2: float
    A_nm2: float
    t_nm: float
    lambda_300_nm: float
    mean_loss_eV: float
    reference_dose_rate_e_per_A2_s: float
    supports: list[SupportCurve]
    dT_ratio_to_first: dict[str, float]
    dT_ratio_to_first_paper: dict[str, float | None]


def _lambda_scale(beam_keV, collection_mrad: float) -> np.ndarray:
    from analysis.eels import lambda_iakoubovskii_nm

    ref = lambda_iakoubovskii_nm(AU_DENSITY, 300.0, collection_mrad)
    return np.array([lambda_iakoubovskii_nm(AU_DENSITY, float(e), collection_mrad) / ref for e in beam_keV])


def compare_supports(k_jsons: dict[str, str | Path], *, geometry: str | Path, lambda_300_nm: float,
                     mean_loss_eV: float, dose_rates=None, reference_dose_rate: float = 1e3,
                     beam_keV=(80.0, 120.0, 200.0, 300.0), collection_mrad: float = 20.0,
                     allow_unreliable: bool = False) -> SupportComparison:
    """dT of one particle (GEOMETRY) on each support of K_JSONS ({name: fit_k JSON}); a k its tool flagged
    unreliable is refused (analysis.heating.gather_inputs) unless ALLOW_UNRELIABLE."""
    dose = np.logspace(1, 7, 61) if dose_rates is None else np.asarray(dose_rates, float)
    scale = _lambda_scale(beam_keV, collection_mrad)
    curves, first = [], None
    for name, path in k_jsons.items():
        common = dict(geometry=geometry, k_json=path, mean_loss_eV=mean_loss_eV, allow_unreliable=allow_unreliable)
        by_dose = predict(dose, lambda_nm=lambda_300_nm, **common)
        by_energy = [predict([reference_dose_rate], lambda_nm=lambda_300_nm * s, **common) for s in scale]
        x = by_dose.inputs
        first = first or x
        curves.append(SupportCurve(
            support=name, k_json=str(path), k_eV_per_nm2_ps_K=x.k,
            k_interval_eV_per_nm2_ps_K=x.k_interval if isinstance(x.k_interval, list) else None,
            paper_k_eV_per_nm2_ps_K=REFERENCE_K.get(name), dose_rate_e_per_A2_s=by_dose.dose_rate_e_per_A2_s,
            dT_K=by_dose.dT_K, dT_interval_K=by_dose.dT_interval_K, beam_keV=[float(e) for e in beam_keV],
            dT_at_dose_rate_K=[p.dT_K[0] for p in by_energy],
            dT_at_dose_rate_interval_K=[p.dT_interval_K[0] for p in by_energy],
            reliable=by_dose.reliable, warnings=by_dose.warnings))
    k0 = curves[0].k_eV_per_nm2_ps_K
    paper0 = curves[0].paper_k_eV_per_nm2_ps_K
    return SupportComparison(
        geometry=str(geometry), S_nm2=first.S_nm2, A_nm2=first.A_nm2, t_nm=first.t_nm, lambda_300_nm=lambda_300_nm,
        mean_loss_eV=mean_loss_eV, reference_dose_rate_e_per_A2_s=reference_dose_rate, supports=curves,
        dT_ratio_to_first={c.support: k0 / c.k_eV_per_nm2_ps_K for c in curves},
        dT_ratio_to_first_paper={c.support: (paper0 / c.paper_k_eV_per_nm2_ps_K
                                             if paper0 and c.paper_k_eV_per_nm2_ps_K else None) for c in curves})


def write_comparison(r: SupportComparison, prefix: str | Path) -> list[str]:
    """PREFIX.png/.pdf (two panels: dT against dose rate at 300 keV; dT against beam energy at the reference dose
    rate; 68 % bands) and PREFIX.csv (one row per support and point)."""
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.5))
    rows = []
    for j, c in enumerate(r.supports):
        color = f"C{j}"
        lo, hi = np.array(c.dT_interval_K, float).T
        label = f"{c.support}: k = {c.k_eV_per_nm2_ps_K:.3g}" + ("" if c.reliable else " (NOT reliable)")
        ax[0].loglog(c.dose_rate_e_per_A2_s, c.dT_K, color=color, label=label)
        ax[0].fill_between(c.dose_rate_e_per_A2_s, lo, np.where(np.isfinite(hi), hi, np.nan), color=color, alpha=0.2)
        elo, ehi = np.array(c.dT_at_dose_rate_interval_K, float).T
        ax[1].errorbar(c.beam_keV, c.dT_at_dose_rate_K, yerr=[np.array(c.dT_at_dose_rate_K) - elo,
                                                              np.where(np.isfinite(ehi), ehi, np.nan)
                                                              - np.array(c.dT_at_dose_rate_K)],
                       fmt="o-", color=color, capsize=3, label=c.support)
        rows += [{"support": c.support, "beam_keV": 300.0, "dose_e_per_A2_s": d, "dT_K": t, "dT_lo_K": a, "dT_hi_K": b}
                 for d, t, (a, b) in zip(c.dose_rate_e_per_A2_s, c.dT_K, c.dT_interval_K)]
        rows += [{"support": c.support, "beam_keV": e, "dose_e_per_A2_s": r.reference_dose_rate_e_per_A2_s,
                  "dT_K": t, "dT_lo_K": a, "dT_hi_K": b}
                 for e, t, (a, b) in zip(c.beam_keV, c.dT_at_dose_rate_K, c.dT_at_dose_rate_interval_K)]
    s_over_a = r.S_nm2 / r.A_nm2
    ax[0].set(xlabel="dose rate (e⁻/(Å² s))", ylabel="ΔT (K)",
              title=f"the same particle (S/A = {s_over_a:.2f}), 300 keV (Fig. 3)")
    ax[1].set(xscale="linear", yscale="log", xlabel="beam energy (keV)", ylabel="ΔT (K)",
              title=f"{r.reference_dose_rate_e_per_A2_s:g} e⁻/(Å² s), λ(E) from Iakoubovskii (Fig. 4)")
    for x in ax:
        x.grid(True, which="both", alpha=0.3)
        x.legend(fontsize=8)
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)

    csv_path = write_csv(prefix.with_name(prefix.name + ".csv"), rows)
    return save_figure(fig, prefix) + [str(csv_path)]


def outputs(prefix: str | Path) -> list[Path]:
    prefix = Path(prefix)
    return [prefix.with_name(prefix.name + ext) for ext in (".png", ".pdf", ".csv", ".json")]
