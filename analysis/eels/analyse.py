"""One file analysed: per-pixel values, the particle's, Iakoubovskii's lambda and the figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.eels.lambda_np import lambda_iakoubovskii_nm
from analysis.eels.linescan import analyse_pixels, locate_particle
from analysis.eels.particle import particle_results
from analysis.eels.plot import plot_figure
from analysis.eels.results import EelsResult
from analysis.eels.spectra import beam_conditions, load_lowloss, quiet_hyperspy
from beamheat.cli import UserError
from beamheat.io import json_safe as _json_safe


def analyse_file(file: str | Path, *, particle: tuple[int, int] | None = None, no_particle: bool = False,
                 R_est_nm: float | None = None, fit_hemisphere: bool = False, threshold_ev: float | None = None,
                 zlp_range: tuple[float, float] = (-5.0, 5.0), upper_ev: float = 110.0,
                 energy_scale_err: float = 0.005, density: float | None = None, beam_kev: float | None = None,
                 collection_mrad: float | None = None, plot: str | Path | None = None,
                 no_plot: bool = False) -> EelsResult:
    """Per-pixel t/lambda, t<dE/dx>, <E> of a low-loss spectrum or line scan, and lambda_NP, <E>_NP of the
    particle with their uncertainties (package docstring)."""
    s = load_lowloss(file)
    zr = tuple(float(x) for x in zlp_range)
    px = analyse_pixels(s, upper_ev, threshold_ev, zr, energy_scale_err)
    sH, s_tde, s_E = px.sys_err()
    res = EelsResult(file=str(file), upper_eV=upper_ev, n_pixels=int(len(px.t_over_lambda)),
                     position=px.position.tolist(), position_units=px.position_units,
                     t_over_lambda=px.t_over_lambda.tolist(), t_dEdx_eV=px.t_dEdx_eV.tolist(),
                     mean_energy_loss_eV=px.mean_loss_eV.tolist(), raw_J_mean_eV=px.raw_J_mean_eV.tolist(),
                     threshold_eV=px.threshold_eV.tolist(),
                     t_over_lambda_sys_err=sH.tolist(), t_dEdx_sys_err_eV=s_tde.tolist(),
                     mean_energy_loss_sys_err_eV=s_E.tolist(), systematics=px.settings)
    inside = None
    if len(px.t_over_lambda) > 1 and not no_particle:
        inside, background = locate_particle(px.t_over_lambda, particle)
        nm_per_unit = {"nm": 1.0, "µm": 1e3, "um": 1e3, "Å": 0.1, "A": 0.1}.get(px.position_units)
        if fit_hemisphere and nm_per_unit is None:
            raise UserError(f"{file}: position axis in '{px.position_units}', not a length: --fit-hemisphere needs "
                            f"a calibrated line scan; give --R-est-nm")
        res.position_nm_per_unit = nm_per_unit
        if R_est_nm is not None or fit_hemisphere:
            res.particle = particle_results(px, inside, background, R_est_nm, fit_hemisphere, nm_per_unit)
        else:
            res.particle_pixels = [int(np.nonzero(inside)[0][0]), int(np.nonzero(inside)[0][-1]) + 1]
    if density is not None:
        e, b = beam_conditions(s, file, beam_kev, collection_mrad)
        res.beam_keV, res.collection_mrad = e, b
        res.lambda_iakoubovskii_nm = lambda_iakoubovskii_nm(density, e, b)
        res.lambda_iakoubovskii_vs_beam_keV = {str(k): lambda_iakoubovskii_nm(density, k, b)
                                               for k in (60, 80, 120, 200, 300)}
    if not no_plot:
        with quiet_hyperspy():
            res.figures = plot_figure(px, s, res, inside, figure_prefix(file, plot), upper_ev)
    return res


json_safe = _json_safe  # the results with numpy scalars as Python numbers and NaN/inf as None (beamheat.io)


def figure_prefix(file, plot=None) -> Path:
    return Path(plot) if plot else Path(file).with_suffix("").with_name(Path(file).stem + "_eels")
