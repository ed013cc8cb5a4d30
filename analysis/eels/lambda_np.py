"""lambda: the particle's inelastic mean free path from its t/lambda contrast (eq. 8, R given or from a hemisphere
fit), and Iakoubovskii's lambda(E_beam, collection angle, density)."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from analysis.eels.spectra import quiet_hyperspy
from beamheat.cli import UserError


def lambda_iakoubovskii_nm(density_g_cm3: float, beam_keV: float, collection_mrad: float = 20.0,
                           convergence_mrad: float = 0.0) -> float:
    """Inelastic mean free path (nm) from Iakoubovskii et al. (2008), with exspy's angular correction."""
    with quiet_hyperspy():
        from exspy.utils.eels import iMFP_angular_correction, iMFP_Iakoubovskii

        lam = iMFP_Iakoubovskii(density_g_cm3, beam_keV)
        if collection_mrad != 20.0 or convergence_mrad:
            lam = lam / iMFP_angular_correction(density_g_cm3, beam_keV, convergence_mrad, collection_mrad) * \
                iMFP_angular_correction(density_g_cm3, beam_keV, 0.0, 20.0)
    return float(lam)


def hemisphere_profile(x, x0, R, amplitude, H_bg):
    """t/lambda across a hemisphere of radius R on a uniform support: H_bg + (R/lambda) sqrt(1 - (x-x0)^2/R^2)."""
    u = np.clip(1.0 - ((x - x0) / R) ** 2, 0.0, None)
    return H_bg + amplitude * np.sqrt(u)


def centre_sampling_factor(x_nm: np.ndarray, x0_nm: float, R_nm: float) -> float:
    """f = mean over the centre pixels of sqrt(1 - (x - x0)^2/R^2): their mean hemisphere thickness is f R, f <= 1."""
    return float(np.mean(np.sqrt(np.clip(1.0 - ((np.asarray(x_nm) - x0_nm) / R_nm) ** 2, 0.0, None))))


def hemisphere_fit_bootstrap(x_nm, H, sel, p, n: int = 100, seed: int = 0) -> np.ndarray:
    """Parameters (x0, |R|, amplitude, H_bg) of n refits of hemisphere_profile to the fitted model plus residuals
    drawn with replacement (residual bootstrap). The fit's covariance matrix is no use here: the profile's slope is
    infinite at its edge, |x - x0| = R, where pixels often sit, and curve_fit then reports an infinite covariance."""
    from scipy.optimize import curve_fit

    model = hemisphere_profile(x_nm[sel], *p)
    resid = H[sel] - model
    rng = np.random.default_rng(seed)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            try:
                q, _ = curve_fit(hemisphere_profile, x_nm[sel], model + rng.choice(resid, resid.size), p0=p,
                                 maxfev=5000)
            except RuntimeError:
                continue
            out.append([q[0], abs(q[1]), q[2], q[3]])
    if len(out) < n // 2:
        raise UserError("the hemisphere fit is unstable under its own noise; give --R-est-nm instead")
    return np.array(out)


class ThicknessContrast(NamedTuple):
    """Eq. 8 on one set of per-pixel t/lambda: the means over the centre pixels and the background, the radius,
    the contrast dH = R / lambda_NP, and f, the centre pixels' mean particle thickness over R; fit: the fitted
    hemisphere_profile parameters (x0, R, amplitude, H_bg), None when R was given."""
    H_c: float
    H_bg: float
    R_nm: float
    dH: float
    f: float
    fit: np.ndarray | None

    @property
    def lambda_np_nm(self) -> float:
        return float(self.R_nm / self.dH)


def thickness_contrast(H: np.ndarray, centre: np.ndarray, background: np.ndarray, *, R_est_nm: float | None = None,
                       fit_x_nm: np.ndarray | None = None, fit_sel: np.ndarray | None = None, p0=None,
                       centre_factor: float = 1.0) -> ThicknessContrast:
    """Eq. 8, lambda_NP = R / dH, with dH = (H_c - H_bg) / centre_factor and R = R_est_nm (centre_factor is f, 1 for
    eq. 8 as published), or, with fit_x_nm, R and dH = R/lambda from hemisphere_profile fitted to H over fit_sel
    and f from the fitted x0 and R (centre_sampling_factor)."""
    H_c, H_bg = float(H[centre].mean()), float(H[background].mean())
    dH = (H_c - H_bg) / centre_factor
    R, f, p = R_est_nm, centre_factor, None
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
    return ThicknessContrast(H_c=H_c, H_bg=H_bg, R_nm=float(R), dH=float(dH), f=float(f), fit=p)
