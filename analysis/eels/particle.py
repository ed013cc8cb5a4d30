"""The particle's lambda_NP, <dE/dx>_NP and <E>_NP (eq. 8 and 10) with statistical and systematic errors, and when
they are not to be used."""

from __future__ import annotations

import warnings

import numpy as np

from analysis.eels.errors import INTERVAL95_K, combine_errors, standard_errors
from analysis.eels.lambda_np import centre_sampling_factor, hemisphere_fit_bootstrap, hemisphere_profile
from analysis.eels.linescan import PixelResults
from analysis.eels.results import ParticleResult
from analysis.eels.systematics import SYSTEMATIC_GROUPS
from beamheat.cli import UserError


def particle_chain(H: np.ndarray, tde: np.ndarray, centre: np.ndarray, background: np.ndarray, R_est_nm=None,
                   fit_x_nm: np.ndarray | None = None, fit_sel: np.ndarray | None = None, p0=None,
                   centre_factor: float = 1.0) -> dict:
    """Eq. 8 and 10 on one set of per-pixel values, H = t/lambda and tde = t<dE/dx>:
        dH = H_c - H_bg          (or, with fit_x_nm, the amplitude R/lambda of hemisphere_profile fitted to H)
        lambda_NP  = R / dH,     <dE/dx>_NP = (tde_c - tde_bg) / (f R),    <E>_NP = <dE/dx>_NP lambda_NP
    where _c is the mean over the centre pixels and _bg over the background. The centre pixels see a mean particle
    thickness f R (centre_sampling_factor): with a fit f comes from the fitted x0 and R; otherwise centre_factor
    (1 for eq. 8 as published) divides both contrasts. The same chain serves the nominal values and every
    systematic variation, so what is common to centre and background cancels as it does in the measurement."""
    out = {"H_c": float(H[centre].mean()), "H_bg": float(H[background].mean())}
    dH = (out["H_c"] - out["H_bg"]) / centre_factor
    R, f = R_est_nm, centre_factor
    if fit_x_nm is not None:
        from scipy.optimize import curve_fit

        try:
            with warnings.catch_warnings():  # "covariance could not be estimated": not used
                warnings.simplefilter("ignore")
                p, _ = curve_fit(hemisphere_profile, fit_x_nm[fit_sel], H[fit_sel], p0=p0, maxfev=20000)
        except RuntimeError as e:
            raise UserError(f"hemisphere fit did not converge ({e}); give --R-est-nm instead") from None
        R, dH = abs(p[1]), p[2]
        f = centre_sampling_factor(fit_x_nm[centre], p[0], R)
        out["p"] = p
    d_tde = (tde[centre].mean() - tde[background].mean()) / f
    out.update(R=float(R), dH=float(dH), d_tde=float(d_tde), f=float(f), lam=float(R / dH),
               dEdx=float(d_tde / R), mean_E=float(d_tde / dH))
    return out


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
    R, dH, d_tde, lam, dEdx, mean_E = (nom[k] for k in ("R", "dH", "d_tde", "lam", "dEdx", "mean_E"))
    s_tde = float(np.hypot(*standard_errors(tde, centre, background))) / nom["f"]
    if fit_hemisphere:
        p = nom["p"]
        boot = hemisphere_fit_bootstrap(kw["fit_x_nm"], H, kw["fit_sel"], p)
        sR, sdH = float(np.std(boot[:, 1], ddof=1)), float(np.std(boot[:, 2], ddof=1))
        s_lam = float(np.std(boot[:, 1] / boot[:, 2], ddof=1))
        source = "hemisphere fit"
        out.update({"fit_x0_nm": float(p[0]), "fit_amplitude": float(p[2]), "fit_t_over_lambda_background": float(p[3]),
                    "centre_sampling_factor": nom["f"]})
        kw["p0"] = p
    else:
        sR, sdH, source = 0.0, float(np.hypot(sH_c, sH_bg)), "--R-est-nm"
        s_lam = lam * sdH / dH
    s_dEdx = abs(dEdx) * np.hypot(s_tde / d_tde if d_tde else 0.0, sR / R)
    s_mean_E = abs(mean_E) * np.hypot(s_tde / d_tde if d_tde else 0.0, sdH / dH)  # R cancels: <E> = d_tde/dH

    # systematic: the whole chain at each variation
    shifts, failed = {}, []
    for name, (H_v, tde_v) in px.variations.items():
        try:
            v = particle_chain(H_v, tde_v, centre, background, **kw)
        except UserError:  # a fit that does not converge on the varied profile
            v = {}
        shift = {q: v.get(q, np.nan) - nom[q] for q in ("lam", "dEdx", "mean_E")}
        if all(np.isfinite(list(shift.values()))):
            shifts[name] = shift
        else:
            failed.append(name)
    terms = {q: {} for q in ("lam", "dEdx", "mean_E")}
    for group, members in SYSTEMATIC_GROUPS.items():
        present = [shifts[m] for m in members if m in shifts]
        for q in terms:
            if present:
                terms[q][group] = float(max(abs(s[q]) for s in present))
    if not fit_hemisphere and nm_per_unit is not None:
        x = px.position * nm_per_unit
        step = abs(x[1] - x[0]) if len(x) > 1 else 0.0
        f = min(centre_sampling_factor(x[centre], x[peak] + o, R) for o in (-step / 2, 0.0, step / 2))
        v = particle_chain(H, tde, centre, background, R_est_nm=R, centre_factor=f)
        for q in terms:
            terms[q]["centre sampling"] = float(abs(v[q] - nom[q]))
    elif not fit_hemisphere:
        out["systematic_not_assessed"] = ["centre sampling: the position axis is not calibrated in length"]
    stat = {"lam": s_lam, "dEdx": s_dEdx, "mean_E": s_mean_E}
    err = {}
    for q in terms:
        err[q] = (float(stat[q]), *combine_errors(nom[q], float(stat[q]), terms[q]))
    out.update({"R_nm": float(R), "R_err_nm": float(sR), "R_source": source,
                "lambda_np_nm": lam, "lambda_np_err_nm": err["lam"][2],
                "lambda_np_stat_err_nm": err["lam"][0], "lambda_np_sys_err_nm": err["lam"][1],
                "lambda_np_interval_nm": err["lam"][3], "lambda_np_interval95_nm": err["lam"][4],
                "lambda_np_sys_terms_nm": terms["lam"],
                "dEdx_np_eV_per_nm": dEdx, "dEdx_np_err_eV_per_nm": err["dEdx"][2],
                "dEdx_np_stat_err_eV_per_nm": err["dEdx"][0], "dEdx_np_sys_err_eV_per_nm": err["dEdx"][1],
                "mean_energy_loss_np_eV": mean_E, "mean_energy_loss_np_err_eV": err["mean_E"][2],
                "mean_energy_loss_np_stat_err_eV": err["mean_E"][0],
                "mean_energy_loss_np_sys_err_eV": err["mean_E"][1],
                "mean_energy_loss_np_interval_eV": err["mean_E"][3],
                "mean_energy_loss_np_interval95_eV": err["mean_E"][4],
                "mean_energy_loss_np_sys_terms_eV": terms["mean_E"],
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
    for key, name, unit in (("lambda_np", "lambda_NP", "nm"), ("mean_energy_loss_np", "<E>_NP", "eV")):
        val = getattr(res, f"{key}_{unit}")
        lo, hi = getattr(res, f"{key}_interval95_{unit}")
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
