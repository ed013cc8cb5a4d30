"""<E>: the mean energy lost per inelastic event (eq. 10). Per pixel, <E> = t<dE/dx> / (t/lambda), exact for Poisson
plural scattering (the mean number of events is t/lambda); for the particle, from its contrasts over the background,
    <dE/dx>_NP = (tde_c - tde_bg) / (f R),     <E>_NP = <dE/dx>_NP lambda_NP = (tde_c - tde_bg) / (f dH)
with tde = t<dE/dx> and R, dH, f from eq. 8 (lambda_np.ThicknessContrast)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from analysis.eels.lambda_np import ThicknessContrast


def mean_loss_per_event_eV(t_over_lambda: np.ndarray, t_dEdx_eV: np.ndarray) -> np.ndarray:
    """<E> per pixel: the energy lost per incident electron over the mean number of inelastic events."""
    return t_dEdx_eV / t_over_lambda


class LossContrast(NamedTuple):
    """Eq. 10 on one set of per-pixel t<dE/dx>: d_tde = (tde_c - tde_bg) / f (eV), <dE/dx>_NP (eV/nm), <E>_NP (eV)."""
    d_tde: float
    dEdx_eV_per_nm: float
    mean_E_eV: float


def loss_contrast(tde: np.ndarray, centre: np.ndarray, background: np.ndarray,
                  thickness: ThicknessContrast) -> LossContrast:
    """<dE/dx>_NP and <E>_NP from the centre and background means of tde and eq. 8's R, dH and f."""
    d_tde = float((tde[centre].mean() - tde[background].mean()) / thickness.f)
    return LossContrast(d_tde=d_tde, dEdx_eV_per_nm=float(d_tde / thickness.R_nm),
                        mean_E_eV=float(d_tde / thickness.dH))
