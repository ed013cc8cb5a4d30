"""The particle's lambda_NP, <dE/dx>_NP and <E>_NP (eq. 8 and 10) with statistical and systematic errors, and when
they are not to be used."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from analysis.eels.errors import INTERVAL95_K, combine_errors, standard_errors
from analysis.eels.lambda_np import (ThicknessContrast, centre_sampling_factor, hemisphere_fit_bootstrap,
                                     thickness_contrast)
from analysis.eels.linescan import PixelResults
from analysis.eels.mean_energy import LossContrast, loss_contrast
from analysis.eels.results import ParticleResult
from analysis.eels.systematics import SYSTEMATIC_GROUPS
from beamheat.cli import UserError


class NpValues(NamedTuple):
    """What eq. 8 and 10 give for the particle, or a shift or an error of each."""
    lambda_nm: float
    dEdx_eV_per_nm: float
    mean_E_eV: float


class Chain(NamedTuple):
    """particle_chain's result: eq. 8's thickness contrast and eq. 10's loss contrast."""
    thickness: ThicknessContrast
    loss: LossContrast

    @property
    def values(self) -> NpValues:
        return NpValues(self.thickness.lambda_np_nm, self.loss.dEdx_eV_per_nm, self.loss.mean_E_eV)


def particle_chain(H: np.ndarray, tde: np.ndarray, centre: np.ndarray, background: np.ndarray, R_est_nm=None,
                   fit_x_nm: np.ndarray | None = None, fit_sel: np.ndarray | None = None, p0=None,
                   centre_factor: float = 1.0) -> Chain:
    """Eq. 8 and 10 on one set of per-pixel values, H = t/lambda and tde = t<dE/dx>:
        dH = H_c - H_bg          (or, with fit_x_nm, the amplitude R/lambda of hemisphere_profile fitted to H)
        lambda_NP  = R / dH,     <dE/dx>_NP = (tde_c - tde_bg) / (f R),    <E>_NP = <dE/dx>_NP lambda_NP
    where _c is the mean over the centre pixels and _bg over the background (lambda_np.thickness_contrast,
    mean_energy.loss_contrast). The centre pixels see a mean particle thickness f R (centre_sampling_factor): with
    a fit f comes from the fitted x0 and R; otherwise centre_factor (1 for eq. 8 as published) divides both
    contrasts. The same chain serves the nominal values and every systematic variation, so what is common to
    centre and background cancels as it does in the measurement."""
    thickness = thickness_contrast(H, centre, background, R_est_nm=R_est_nm, fit_x_nm=fit_x_nm, fit_sel=fit_sel,
                                   p0=p0, centre_factor=centre_factor)
    return Chain(thickness, loss_contrast(tde, centre, background, thickness))


def particle_results(px: PixelResults, inside, background, R_est_nm=None, fit_hemisphere=False,
                     nm_per_unit=1.0) -> ParticleResult:
    """lambda_NP, <dE/dx>_NP and <E>_NP (particle_chain) with statistical, systematic and total errors.

    Statistical: the pixel scatter of the centre and background means (eq. 8), or for a fit the spread of R,
    R/lambda and lambda over a residual bootstrap (hemisphere_fit_bootstrap); <E>_NP = (tde_c - tde_bg)/dH does
    not involve R, so its error holds only those of the two contrasts.
    Systematic: particle_chain re-evaluated on each of px.variations with the same pixel masks (a shift common to
    centre and background cancels in H_c - H_bg, as it does in the measurement); within a SYSTEMATIC_GROUPS source
    the largest |shift| counts, sources add in quadrature; eq. 8 adds "centre sampling", lambda (1 - f) with f the
    centre pixels' mean thickness over R for x0 anywhere within half a pixel of the peak (needs a calibrated
    position axis).
    Total = sqrt(stat^2 + sys^2); interval = value -+ total ("68 %", as fit_k states k), interval95 =
    value -+ INTERVAL95_K total: about 95 % if the errors were Gaussian; the systematic terms estimate the size of
    a bias, so interval95 holds biases up to twice their estimate. interval95 is the one this tool stands behind,
    and `reliable` judges it (unreliable_reasons)."""
    H, tde = px.t_over_lambda, px.t_dEdx_eV
    peak = int(np.argmax(np.where(inside, H, -np.inf)))
    centre = np.zeros(len(H), bool)
    centre[max(peak - 1, 0):peak + 2] = True
    centre &= inside
    H_c, H_bg = H[centre].mean(), H[background].mean()
    sH_c, sH_bg = standard_errors(H, centre, background)
    out = {"particle_pixels": [int(np.nonzero(inside)[0][0]), int(np.nonzero(inside)[0][-1]) + 1],
           "t_over_lambda_center": float(H_c), "t_over_lambda_background": float(H_bg),
           "t_over_lambda_center_err": float(sH_c), "t_over_lambda_background_err": float(sH_bg)}
    if H_c - H_bg <= 0:
        raise UserError("the particle is not thicker than the background in t/lambda; check --particle")
    if not fit_hemisphere and R_est_nm is None:
        raise UserError("give the particle radius --R-est-nm (or --fit-hemisphere with a calibrated axis in nm)")
    kw = {"R_est_nm": R_est_nm}
    if fit_hemisphere:
        x = px.position * nm_per_unit
        half_width = 0.5 * (x[inside].max() - x[inside].min()) + 0.5 * abs(x[1] - x[0])
        kw.update(fit_x_nm=x, fit_sel=inside | background, p0=[x[peak], max(half_width, 1e-3), H_c - H_bg, H_bg])
    nom = particle_chain(H, tde, centre, background, **kw)
    R, dH, d_tde = nom.thickness.R_nm, nom.thickness.dH, nom.loss.d_tde
    lam, dEdx, mean_E = nom.values
    s_tde = float(np.hypot(*standard_errors(tde, centre, background))) / nom.thickness.f
    if fit_hemisphere:
        p = nom.thickness.fit
        boot = hemisphere_fit_bootstrap(kw["fit_x_nm"], H, kw["fit_sel"], p)
        sR, sdH = float(np.std(boot[:, 1], ddof=1)), float(np.std(boot[:, 2], ddof=1))
        s_lam = float(np.std(boot[:, 1] / boot[:, 2], ddof=1))
        source = "hemisphere fit"
        out.update({"fit_x0_nm": float(p[0]), "fit_amplitude": float(p[2]), "fit_t_over_lambda_background": float(p[3]),
                    "centre_sampling_factor": nom.thickness.f})
        kw["p0"] = p
    else:
        sR, sdH, source = 0.0, float(np.hypot(sH_c, sH_bg)), "--R-est-nm"
        s_lam = lam * sdH / dH
    s_dEdx = abs(dEdx) * np.hypot(s_tde / d_tde if d_tde else 0.0, sR / R)
    s_mean_E = abs(mean_E) * np.hypot(s_tde / d_tde if d_tde else 0.0, sdH / dH)  # R cancels: <E> = d_tde/dH
    stat = NpValues(float(s_lam), float(s_dEdx), float(s_mean_E))

    # systematic: the whole chain at each variation
    shifts, failed = {}, []
    for name, (H_v, tde_v) in px.variations.items():
        try:
            varied = particle_chain(H_v, tde_v, centre, background, **kw).values
        except UserError:  # a fit that does not converge on the varied profile
            failed.append(name)
            continue
        shift = NpValues(*(v - n for v, n in zip(varied, nom.values)))
        if all(np.isfinite(shift)):
            shifts[name] = shift
        else:
            failed.append(name)
    terms = NpValues({}, {}, {})  # per quantity: source -> systematic error
    for group, members in SYSTEMATIC_GROUPS.items():
        present = [shifts[m] for m in members if m in shifts]
        if present:
            for quantity_terms, quantity_shifts in zip(terms, zip(*present)):
                quantity_terms[group] = float(max(abs(x) for x in quantity_shifts))
    if not fit_hemisphere and nm_per_unit is not None:
        x = px.position * nm_per_unit
        step = abs(x[1] - x[0]) if len(x) > 1 else 0.0
        f = min(centre_sampling_factor(x[centre], x[peak] + o, R) for o in (-step / 2, 0.0, step / 2))
        sampled = particle_chain(H, tde, centre, background, R_est_nm=R, centre_factor=f).values
        for quantity_terms, v, n in zip(terms, sampled, nom.values):
            quantity_terms["centre sampling"] = float(abs(v - n))
    elif not fit_hemisphere:
        out["systematic_not_assessed"] = ["centre sampling: the position axis is not calibrated in length"]
    lam_e = combine_errors(lam, stat.lambda_nm, terms.lambda_nm)
    dEdx_e = combine_errors(dEdx, stat.dEdx_eV_per_nm, terms.dEdx_eV_per_nm)
    mean_E_e = combine_errors(mean_E, stat.mean_E_eV, terms.mean_E_eV)
    out.update({"R_nm": float(R), "R_err_nm": float(sR), "R_source": source,
                "lambda_np_nm": lam_e.value, "lambda_np_err_nm": lam_e.err,
                "lambda_np_stat_err_nm": lam_e.stat_err, "lambda_np_sys_err_nm": lam_e.sys_err,
                "lambda_np_interval_nm": lam_e.interval, "lambda_np_interval95_nm": lam_e.interval95,
                "lambda_np_sys_terms_nm": lam_e.sys_terms,
                "dEdx_np_eV_per_nm": dEdx_e.value, "dEdx_np_err_eV_per_nm": dEdx_e.err,
                "dEdx_np_stat_err_eV_per_nm": dEdx_e.stat_err, "dEdx_np_sys_err_eV_per_nm": dEdx_e.sys_err,
                "mean_energy_loss_np_eV": mean_E_e.value, "mean_energy_loss_np_err_eV": mean_E_e.err,
                "mean_energy_loss_np_stat_err_eV": mean_E_e.stat_err,
                "mean_energy_loss_np_sys_err_eV": mean_E_e.sys_err,
                "mean_energy_loss_np_interval_eV": mean_E_e.interval,
                "mean_energy_loss_np_interval95_eV": mean_E_e.interval95,
                "mean_energy_loss_np_sys_terms_eV": mean_E_e.sys_terms,
                "interval_kind": f"interval: value -+ total error (68 %); interval95: value -+ {INTERVAL95_K:g} x "
                                 f"total error, total = sqrt(stat^2 + sys^2)",
                "t_dEdx_background_eV": float(tde[background].mean())})
    res = ParticleResult(**out)
    reasons = unreliable_reasons(px, inside, background, res, nm_per_unit)
    if failed:
        res.systematic_variations_failed = failed
        reasons.append(f"systematic variation(s) {', '.join(failed)} could not be evaluated: the stated uncertainty "
                       f"lacks them")
    res.reliable, res.unreliable_reasons = not reasons, reasons
    return res


def unreliable_reasons(px: PixelResults, inside, background, res: ParticleResult, nm_per_unit) -> list[str]:
    """Why lambda_NP / <E>_NP should not be used: a 95 % interval wider than its value (half-width >= value, or
    lower bound <= 0); a particle that does not stand out of the background (contrast H_c - H_bg below 5 times
    the background's pixel-to-pixel scatter); a particle region touching the scan's end; fewer than 4 background
    pixels; a located particle whose width is not within a factor 2 of 2R (calibrated axis)."""
    reasons = []
    for name, estimate, unit in (("lambda_NP", res.lambda_np(), "nm"), ("<E>_NP", res.mean_energy_loss_np(), "eV")):
        val, (lo, hi) = estimate.value, estimate.interval95
        if not np.isfinite(val) or not np.isfinite(lo) or lo <= 0 or (hi - lo) / 2 >= abs(val):
            reasons.append(f"{name} = {val:.3g} {unit} with 95 % interval [{lo:.3g}, {hi:.3g}] {unit}: the interval is "
                           f"wider than the value")
    H = px.t_over_lambda
    contrast = res.t_over_lambda_center - res.t_over_lambda_background
    scatter = float(np.std(H[background], ddof=1)) if background.sum() > 1 else 0.0
    if contrast < 5 * scatter:
        reasons.append(f"particle barely above the background: t/lambda contrast {contrast:.3g} < 5 x the "
                       f"background's pixel scatter {scatter:.2g}")
    idx = np.nonzero(inside)[0]
    if idx[0] == 0 or idx[-1] == len(H) - 1:
        reasons.append("the particle region touches the end of the scan: its edge and background are not seen")
    if background.sum() < 4:
        reasons.append(f"only {int(background.sum())} background pixels")
    if nm_per_unit is not None and len(H) > 1:
        x = px.position * nm_per_unit
        width = (idx[-1] - idx[0] + 1) * abs(x[1] - x[0])
        if not 0.5 <= width / (2 * res.R_nm) <= 2.0:
            reasons.append(f"the particle region is {width:.3g} nm wide, not about 2R = {2 * res.R_nm:.3g} nm")
    return reasons
