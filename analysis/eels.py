"""EELS low-loss line scans: t/lambda, the particle's inelastic mean free path lambda and mean energy loss <E>.

    python -m analysis.eels LINESCAN.(dm3|dm4|msa|hspy|emd) --R-est-nm 5 [--particle 12:30] [--json eels.json]
    python -m analysis.eels lambda --density 19.3 --beam-kev 300 [--collection-mrad 20]

Per pixel (exspy): the zero-loss peak is aligned, the elastic threshold found, and
    t/lambda = ln(I_total / I_ZLP)                          (log-ratio)
    t<dE/dx> = sum_E E I(E) / I_total                        (mean energy lost per incident electron, to --upper-eV)
    <E>      = t<dE/dx> / (t/lambda)                         (mean loss per inelastic event)
The last line is exact for Poisson plural scattering (the mean number of events is t/lambda), so <E> is the
single-scattering mean without a deconvolution, as long as the multiple losses stay below --upper-ev (paper:
110 eV); in thick regions raise it (or expect <E> low by about the fraction of plural losses beyond it).
The raw mean of J(E) above the threshold is reported too.
Particle (paper eq. 8 and 10), for a hemispherical particle of radius R on a support:
    lambda_NP = R / (H_center - H_background),     H = t/lambda
    <dE/dx>_NP = (t<dE/dx>_center - t<dE/dx>_background) / R,   <E>_NP = <dE/dx>_NP * lambda_NP
with R given (--R-est-nm) or fitted as the hemisphere profile H(x) = H_bg + (R/lambda) sqrt(1 - (x - x0)^2/R^2)
(--fit-hemisphere, needs a calibrated position axis). The particle is located automatically from the t/lambda
profile (half maximum above the background) or given as a pixel range (--particle START:END).
Iakoubovskii's lambda(E_beam, collection angle, density) gives lambda at other beam energies (exspy).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beamheat.cli import UserError, run

# hyperspy logs "Numba is not installed" to stdout while it imports (before any level set here applies); a filter
# on that logger, installed before hyperspy is imported, drops just that message
logging.getLogger("hyperspy.decorators").addFilter(lambda record: "Numba is not installed" not in record.getMessage())
warnings.filterwarnings("ignore", message="Importing .* is deprecated", module="hyperspy")


def _quiet_hyperspy():
    logging.getLogger("hyperspy").setLevel(logging.ERROR)
    logging.getLogger("exspy").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="hyperspy")
    warnings.filterwarnings("ignore", module="exspy")


# ------------------------------------------------------------------------------------------------ lambda(E)
def lambda_iakoubovskii_nm(density_g_cm3: float, beam_keV: float, collection_mrad: float = 20.0,
                           convergence_mrad: float = 0.0) -> float:
    """Inelastic mean free path (nm) from Iakoubovskii et al. (2008), with exspy's angular correction."""
    from exspy.utils.eels import iMFP_angular_correction, iMFP_Iakoubovskii

    lam = iMFP_Iakoubovskii(density_g_cm3, beam_keV)
    if collection_mrad != 20.0 or convergence_mrad:
        lam = lam / iMFP_angular_correction(density_g_cm3, beam_keV, convergence_mrad, collection_mrad) * \
            iMFP_angular_correction(density_g_cm3, beam_keV, 0.0, 20.0)
    return float(lam)


# ------------------------------------------------------------------------------------------------ spectra
def load_lowloss(path: str | Path):
    _quiet_hyperspy()
    import hyperspy.api as hs

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    try:
        s = hs.load(str(path), signal_type="EELS")
    except Exception as e:  # rosettasciio raises many kinds for unreadable files
        raise UserError(f"{path}: cannot read as a spectrum ({e.__class__.__name__}: {str(e).splitlines()[0][:120]})") \
            from None
    if isinstance(s, list):
        raise UserError(f"{path}: holds {len(s)} signals; export the low-loss line scan alone")
    if s.axes_manager.signal_dimension != 1 or s.axes_manager.navigation_dimension > 1:
        raise UserError(f"{path}: expected a spectrum or a line scan of spectra, got dimensions {s.axes_manager.shape}")
    ax = s.axes_manager.signal_axes[0]
    if ax.offset > 0 or ax.offset + ax.scale * ax.size < 5:
        raise UserError(f"{path}: energy axis {ax.offset:.3g} to {ax.offset + ax.scale * ax.size:.3g} "
                        f"{ax.units} does not contain the zero-loss peak; is this a low-loss spectrum?")
    return s


def beam_conditions(s, path, beam_keV=None, collection_mrad=None) -> tuple[float, float]:
    md = s.metadata
    e = beam_keV if beam_keV is not None else md.get_item("Acquisition_instrument.TEM.beam_energy")
    b = collection_mrad if collection_mrad is not None else \
        md.get_item("Acquisition_instrument.TEM.Detector.EELS.collection_angle")
    missing = [n for n, v in (("beam energy (--beam-kev)", e), ("collection angle (--collection-mrad)", b)) if v is None]
    if missing:
        raise UserError(f"{path}: metadata lacks {' and '.join(missing)}; give them on the command line")
    return float(e), float(b)


@dataclass
class PixelResults:
    t_over_lambda: np.ndarray
    t_dEdx_eV: np.ndarray         # mean energy lost per incident electron (= t <dE/dx>)
    mean_loss_eV: np.ndarray      # <E> per inelastic event
    raw_J_mean_eV: np.ndarray     # mean of J(E) above threshold (includes plural scattering)
    threshold_eV: np.ndarray
    position: np.ndarray          # calibrated navigation axis
    position_units: str


def analyse_pixels(s, upper_eV: float = 110.0, threshold_eV: float | None = None,
                   zlp_range_eV: tuple[float, float] = (-5.0, 5.0)) -> PixelResults:
    """Align the ZLP, find the elastic threshold and compute per-pixel t/lambda, t<dE/dx>, <E>.

    The threshold is set by the zero-loss peak's width, an instrument property: one value (the median of exspy's
    per-pixel estimates, or threshold_eV) serves the whole scan. Per-pixel estimates fail in thick pixels, where
    the minimum between the ZLP and the plasmon is shallow. The ZLP is sought within zlp_range_eV only: in thick
    pixels the plasmon is taller than the ZLP, and aligning on the maximum would put the plasmon at zero."""
    s = s.deepcopy()
    if s.data.min() < 0:
        s.data = np.clip(s.data, 0, None)
    try:
        s.align_zero_loss_peak(calibrate=True, print_stats=False, subpixel=True, show_progressbar=False, crop=False,
                               signal_range=tuple(zlp_range_eV))
    except Exception as e:  # hyperspy raises plain ValueErrors for ranges outside the axis
        raise UserError(f"cannot align the zero-loss peak within {zlp_range_eV} eV ({e}); set --zlp-range") from None
    if threshold_eV is None:
        per_pixel = np.atleast_1d(np.asarray(s.estimate_elastic_scattering_threshold(window=10.0).data, float))
        per_pixel = per_pixel[np.isfinite(per_pixel)]
        if per_pixel.size == 0:
            raise UserError("no elastic threshold found (no minimum after the zero-loss peak); give --threshold-ev")
        threshold_eV = float(np.median(per_pixel))
    threshold = float(threshold_eV)
    # t/lambda = ln(I_total / I_ZLP), integrated by exspy (the same convention for both integrals)
    tl = s.estimate_thickness(threshold=threshold)
    t_over_lambda = np.atleast_1d(np.asarray(tl.data, float)).ravel()
    if not np.all(np.isfinite(t_over_lambda)) or np.any(t_over_lambda <= 0):
        raise UserError("no inelastic signal beyond the zero-loss peak in some pixels (vacuum, or saturated ZLP)")
    E = s.axes_manager.signal_axes[0].axis
    data = s.data.reshape(-1, len(E)).astype(float)
    thr = np.full(len(data), threshold)
    t_dEdx, raw_mean = np.empty(len(data)), np.empty(len(data))
    for k, (spec, th) in enumerate(zip(data, thr)):
        win = (E >= th) & (E <= upper_eV)
        t_dEdx[k] = np.sum(E[win] * spec[win]) / np.sum(spec[E <= upper_eV])  # energy lost per incident electron
        raw_mean[k] = np.sum(E[win] * spec[win]) / np.sum(spec[win])
    if s.axes_manager.navigation_dimension:
        nav = s.axes_manager.navigation_axes[0]
        pos, units = nav.axis, str(nav.units) if nav.units and str(nav.units) != "<undefined>" else "px"
    else:
        pos, units = np.zeros(1), "px"
    return PixelResults(t_over_lambda, t_dEdx, t_dEdx / t_over_lambda, raw_mean, thr, np.asarray(pos, float), units)


# ------------------------------------------------------------------------------------------------ particle
def locate_particle(H: np.ndarray, particle: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (particle, background). Automatic: the pixels above half maximum over the background,
    contiguous around the maximum; background: pixels outside that region by a margin of 2 pixels."""
    n = len(H)
    idx = np.arange(n)
    if particle is not None:
        lo, hi = particle
        if not 0 <= lo < hi <= n:
            raise UserError(f"--particle {lo}:{hi} is outside the line scan's {n} pixels")
        inside = (idx >= lo) & (idx < hi)
    else:
        if n < 7:
            raise UserError(f"{n} pixels are too few to locate a particle; give --particle START:END")
        edge = max(2, n // 10)
        bg_level = np.median(np.r_[H[:edge], H[-edge:]])
        peak = int(np.argmax(H))
        half = bg_level + 0.5 * (H[peak] - bg_level)
        lo = peak
        while lo > 0 and H[lo - 1] > half:
            lo -= 1
        hi = peak
        while hi < n - 1 and H[hi + 1] > half:
            hi += 1
        # the hemisphere's foot reaches beyond half maximum: widen to where the profile meets the background
        noise = np.std(np.r_[H[:edge], H[-edge:]])
        while lo > 0 and H[lo - 1] > bg_level + 2 * noise:
            lo -= 1
        while hi < n - 1 and H[hi + 1] > bg_level + 2 * noise:
            hi += 1
        inside = (idx >= lo) & (idx <= hi)
    margin = 2
    lo_i, hi_i = idx[inside].min(), idx[inside].max()
    background = (idx < lo_i - margin) | (idx > hi_i + margin)
    if background.sum() < 2:
        raise UserError("no background pixels left on either side of the particle; scan further past it")
    return inside, background


def hemisphere_profile(x, x0, R, amplitude, H_bg):
    """t/lambda across a hemisphere of radius R on a uniform support: H_bg + (R/lambda) sqrt(1 - (x-x0)^2/R^2)."""
    u = np.clip(1.0 - ((x - x0) / R) ** 2, 0.0, None)
    return H_bg + amplitude * np.sqrt(u)


def particle_results(px: PixelResults, inside, background, R_est_nm=None, fit_hemisphere=False,
                     nm_per_unit=1.0) -> dict:
    H, tde = px.t_over_lambda, px.t_dEdx_eV
    peak = int(np.argmax(np.where(inside, H, -np.inf)))
    centre = np.zeros(len(H), bool)
    centre[max(peak - 1, 0):peak + 2] = True
    centre &= inside
    H_c, H_bg = H[centre].mean(), H[background].mean()
    sH_c = H[centre].std(ddof=1) / np.sqrt(centre.sum()) if centre.sum() > 1 else 0.0
    sH_bg = H[background].std(ddof=1) / np.sqrt(background.sum())
    out = {"particle_pixels": [int(np.nonzero(inside)[0][0]), int(np.nonzero(inside)[0][-1]) + 1],
           "t_over_lambda_center": float(H_c), "t_over_lambda_background": float(H_bg),
           "t_over_lambda_center_err": float(sH_c), "t_over_lambda_background_err": float(sH_bg)}
    dH = H_c - H_bg
    if dH <= 0:
        raise UserError("the particle is not thicker than the background in t/lambda; check --particle")
    R, sR, source = R_est_nm, 0.0, "--R-est-nm"
    if fit_hemisphere:
        from scipy.optimize import curve_fit

        x = px.position * nm_per_unit
        sel = inside | background
        half_width = 0.5 * (x[inside].max() - x[inside].min()) + 0.5 * abs(x[1] - x[0])
        p0 = [x[peak], max(half_width, 1e-3), dH, H_bg]
        try:
            p, cov = curve_fit(hemisphere_profile, x[sel], H[sel], p0=p0, maxfev=20000)
        except RuntimeError as e:
            raise UserError(f"hemisphere fit did not converge ({e}); give --R-est-nm instead") from None
        R, sR, source = abs(p[1]), float(np.sqrt(cov[1, 1])), "hemisphere fit"
        out.update({"fit_x0_nm": float(p[0]), "fit_amplitude": float(p[2]), "fit_t_over_lambda_background": float(p[3])})
        dH, sdH = p[2], float(np.sqrt(cov[2, 2]))
    else:
        sdH = float(np.hypot(sH_c, sH_bg))
    if R is None:
        raise UserError("give the particle radius --R-est-nm (or --fit-hemisphere with a calibrated axis in nm)")
    lam = R / dH
    s_lam = lam * np.hypot(sdH / dH, sR / R if R else 0.0)
    d_tde = tde[centre].mean() - tde[background].mean()
    s_tde = np.hypot(tde[centre].std(ddof=1) / np.sqrt(max(centre.sum(), 1)) if centre.sum() > 1 else 0.0,
                     tde[background].std(ddof=1) / np.sqrt(background.sum()))
    dEdx = d_tde / R
    s_dEdx = abs(dEdx) * np.hypot(s_tde / d_tde if d_tde else 0.0, sR / R if R else 0.0)
    mean_E = dEdx * lam
    s_mean_E = abs(mean_E) * np.hypot(s_dEdx / dEdx if dEdx else 0.0, s_lam / lam)
    out.update({"R_nm": float(R), "R_err_nm": float(sR), "R_source": source,
                "lambda_np_nm": float(lam), "lambda_np_err_nm": float(s_lam),
                "dEdx_np_eV_per_nm": float(dEdx), "dEdx_np_err_eV_per_nm": float(s_dEdx),
                "mean_energy_loss_np_eV": float(mean_E), "mean_energy_loss_np_err_eV": float(s_mean_E),
                "t_dEdx_background_eV": float(tde[background].mean())})
    return out


# ------------------------------------------------------------------------------------------------ output
def plot(px: PixelResults, s, res: dict, inside, out_prefix: Path, upper_eV: float) -> list[str]:
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(3, 1, figsize=(6, 9))
    x = px.position
    ax[0].plot(x, px.t_over_lambda, "o-", ms=3, label="t/λ = ln(I_total / I_ZLP)")
    if inside is not None:
        ax[0].axvspan(x[inside].min(), x[inside].max(), color="C1", alpha=0.15, label="particle")
        if "fit_x0_nm" in res:
            xx = np.linspace(x.min(), x.max(), 400)
            ax[0].plot(xx, hemisphere_profile(xx * res["position_nm_per_unit"], res["fit_x0_nm"], res["R_nm"],
                                              res["fit_amplitude"], res["fit_t_over_lambda_background"]),
                       "-", color="C3", label=f"hemisphere, R = {res['R_nm']:.2f} nm")
        if "lambda_np_nm" in res:
            ax[0].set_title(f"λ_NP = {res['lambda_np_nm']:.1f} ± {res['lambda_np_err_nm']:.2g} nm, "
                            f"⟨E⟩_NP = {res['mean_energy_loss_np_eV']:.1f} ± {res['mean_energy_loss_np_err_eV']:.1f} eV",
                            fontsize=10)
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


def analyse_file(a) -> dict:
    s = load_lowloss(a.file)
    zr = tuple(float(v) for v in a.zlp_range.split(":"))
    px = analyse_pixels(s, a.upper_ev, a.threshold_ev, zr)
    res = {"file": str(a.file), "upper_eV": a.upper_ev, "n_pixels": int(len(px.t_over_lambda)),
           "position": px.position.tolist(), "position_units": px.position_units,
           "t_over_lambda": px.t_over_lambda.tolist(), "t_dEdx_eV": px.t_dEdx_eV.tolist(),
           "mean_energy_loss_eV": px.mean_loss_eV.tolist(), "raw_J_mean_eV": px.raw_J_mean_eV.tolist(),
           "threshold_eV": px.threshold_eV.tolist()}
    inside = None
    if len(px.t_over_lambda) > 1 and not a.no_particle:
        particle = tuple(int(v) for v in a.particle.split(":")) if a.particle else None
        inside, background = locate_particle(px.t_over_lambda, particle)
        nm_per_unit = {"nm": 1.0, "µm": 1e3, "um": 1e3, "Å": 0.1, "A": 0.1}.get(px.position_units)
        if a.fit_hemisphere and nm_per_unit is None:
            raise UserError(f"{a.file}: position axis in '{px.position_units}', not a length: --fit-hemisphere needs "
                            f"a calibrated line scan; give --R-est-nm")
        res["position_nm_per_unit"] = nm_per_unit
        if a.R_est_nm is not None or a.fit_hemisphere:
            res.update(particle_results(px, inside, background, a.R_est_nm, a.fit_hemisphere, nm_per_unit or 1.0))
        else:
            res["particle_pixels"] = [int(np.nonzero(inside)[0][0]), int(np.nonzero(inside)[0][-1]) + 1]
    if a.density is not None:
        e, b = beam_conditions(s, a.file, a.beam_kev, a.collection_mrad)
        res["beam_keV"], res["collection_mrad"] = e, b
        res["lambda_iakoubovskii_nm"] = lambda_iakoubovskii_nm(a.density, e, b)
        res["lambda_iakoubovskii_vs_beam_keV"] = {str(k): lambda_iakoubovskii_nm(a.density, k, b)
                                                  for k in (60, 80, 120, 200, 300)}
    if not a.no_plot:
        out = Path(a.plot) if a.plot else Path(a.file).with_suffix("").with_name(Path(a.file).stem + "_eels")
        res["figures"] = plot(px, s, res, inside, out, a.upper_ev)
    return res


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lambda"]:
        p = argparse.ArgumentParser(prog="python -m analysis.eels lambda",
                                    description="Inelastic mean free path from Iakoubovskii et al. (2008), nm.")
        p.add_argument("--density", type=float, required=True, help="g/cm³ (Au 19.3)")
        p.add_argument("--beam-kev", type=float, required=True, help="beam energy, keV")
        p.add_argument("--collection-mrad", type=float, default=20.0, help="collection semi-angle, mrad (default 20)")
        a = p.parse_args(argv[1:])
        print(f"lambda = {lambda_iakoubovskii_nm(a.density, a.beam_kev, a.collection_mrad):.1f} nm "
              f"(density {a.density} g/cm³, {a.beam_kev:g} keV, collection {a.collection_mrad:g} mrad)")
        return 0
    p = argparse.ArgumentParser(prog="python -m analysis.eels", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="low-loss spectrum or line scan (dm3, dm4, msa, hspy, emd, ...)")
    p.add_argument("--particle", help="particle pixel range START:END (default: automatic from t/lambda)")
    p.add_argument("--no-particle", action="store_true", help="per-pixel results only")
    p.add_argument("--R-est-nm", type=float, help="particle radius for eq. 8, nm")
    p.add_argument("--fit-hemisphere", action="store_true", help="fit R and lambda to a hemisphere profile")
    p.add_argument("--threshold-ev", type=float, help="elastic threshold, eV (default: exspy's estimate, median "
                   "over the scan)")
    p.add_argument("--zlp-range", default="-5:5", help="energy window holding the zero-loss peak, eV (default -5:5)")
    p.add_argument("--upper-ev", type=float, default=110.0, help="upper limit of the loss integrals, eV (default 110)")
    p.add_argument("--density", type=float, help="particle density, g/cm³: adds Iakoubovskii's lambda (Au 19.3)")
    p.add_argument("--beam-kev", type=float, help="beam energy, keV (default: from the file's metadata)")
    p.add_argument("--collection-mrad", type=float, help="collection semi-angle, mrad (default: from metadata)")
    p.add_argument("--json", help="write results here")
    p.add_argument("--plot", help="figure prefix (default: next to the file, <name>_eels.png/.pdf)")
    p.add_argument("--no-plot", action="store_true", help="no figures")
    a = p.parse_args(argv)
    res = analyse_file(a)
    H = np.array(res["t_over_lambda"])
    print(f"{a.file}: {res['n_pixels']} pixel(s), t/λ {H.min():.3f} to {H.max():.3f}, "
          f"<E> per inelastic event {np.median(res['mean_energy_loss_eV']):.1f} eV (median)")
    if "lambda_np_nm" in res:
        print(f"  particle pixels {res['particle_pixels'][0]}:{res['particle_pixels'][1]}, R = {res['R_nm']:.2f} nm "
              f"({res['R_source']}): λ_NP = {res['lambda_np_nm']:.1f} ± {res['lambda_np_err_nm']:.1f} nm, "
              f"<dE/dx>_NP = {res['dEdx_np_eV_per_nm']:.3f} eV/nm, <E>_NP = {res['mean_energy_loss_np_eV']:.1f} ± "
              f"{res['mean_energy_loss_np_err_eV']:.1f} eV")
    if "lambda_iakoubovskii_nm" in res:
        print(f"  Iakoubovskii λ at {res['beam_keV']:g} keV, {res['collection_mrad']:g} mrad: "
              f"{res['lambda_iakoubovskii_nm']:.1f} nm")
    if a.json:
        Path(a.json + ".part").write_text(json.dumps(res, indent=2))
        Path(a.json + ".part").replace(a.json)
        print(f"  json: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
