"""EELS low-loss line scans: t/lambda, the particle's inelastic mean free path lambda and mean energy loss <E>.

    python -m analysis.eels [analyse] LINESCAN.(dm3|dm4|msa|hspy|emd) --R-est-nm 5 [--particle 12:30] [--json eels.json]
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

Uncertainties. The statistical error comes from the pixel scatter (or a residual bootstrap of the fit). The
log-ratio method also has a bias of its own, which the pixel scatter does not see; each of its sources is varied
and the whole chain (per pixel, then eq. 8/10 with the same pixels) re-evaluated, so a shift common to particle
and background cancels in H_center - H_background as it does in the measurement:
  - elastic/inelastic split: a threshold leaves the ZLP's tail beyond it among the losses (thin pixels read high)
    and the losses below it in I_ZLP (thick pixels read low). Varied: threshold -+ the ZLP's FWHM, and a split
    with no threshold (the ZLP's loss-side tail = the mirror of its gain side, the losses under the ZLP
    extrapolated linearly to zero at E = 0). The largest shift counts.
  - plural losses beyond --upper-eV: t<dE/dx> misses them; estimated from Poisson statistics with the measured
    t/lambda and the single-scattering distribution from a Fourier-log deconvolution.
  - energy axis: its zero off by half a channel, its dispersion by --energy-scale-err (default 0.5 %).
  - eq. 8 only: the centre pixels' mean thickness is f R < R (f from R and the pixel spacing).
Sources add in quadrature to the systematic error; total = sqrt(stat^2 + sys^2) (the *_err keys), and the stated
intervals are value -+ total (*_interval_*, "68 %", the convention of fit_k and heating) and value -+ 2 total
(*_interval95_*: the one this tool stands behind; on synthetic scans with known truth the truth lies inside it).
The result is marked unreliable (JSON "reliable": false, a WARNING on stderr) when a 95 % interval's half-width
reaches its value (it then reaches zero), or when the particle does not stand out of the background robustly.
"""

from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import json_safe as _json_safe, write_json
from beamheat.results import ABSENT, Absent, Record, flattened

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
    # the method's systematic variations: name -> (t/lambda, t<dE/dx>) per pixel re-evaluated under that variation
    variations: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)  # what the variations used (ZLP FWHM, thresholds, ...)

    def sys_err(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-pixel systematic errors of t/lambda, t<dE/dx> and <E>: within a group of variations (alternatives
        for one choice) the largest shift, groups added in quadrature."""
        out = [np.zeros_like(self.t_over_lambda) for _ in range(3)]
        for members in SYSTEMATIC_GROUPS.values():
            alts = [self.variations[m] for m in members if m in self.variations]
            if not alts:
                continue
            shifts = [(np.abs(h - self.t_over_lambda), np.abs(d - self.t_dEdx_eV), np.abs(d / h - self.mean_loss_eV))
                      for h, d in alts]
            for k in range(3):
                out[k] = np.hypot(out[k], np.max([s[k] for s in shifts], axis=0))
        return tuple(out)


# Each systematic source and the variations (keys of PixelResults.variations) that probe it. Within a source the
# largest shift counts (they are alternatives for the same choice); sources are independent (quadrature).
SYSTEMATIC_GROUPS = {
    "elastic/inelastic split": ("threshold_low", "threshold_high", "mirrored_zlp", "zlp_tail"),
    "plural losses beyond upper-eV": ("plural_truncation",),
    "energy zero": ("energy_offset",),
    "energy scale": ("energy_scale",),
}


def _index_of(E: np.ndarray, energy_eV: float) -> int:
    """The channel index exspy's isig[:energy] stops before (hyperspy's value2index rounds to the nearest)."""
    return int(np.clip(np.round((energy_eV - E[0]) / (E[1] - E[0])), 0, len(E)))


def log_ratio(E: np.ndarray, D: np.ndarray, threshold_eV: float) -> np.ndarray:
    """t/lambda = ln(I_total / I_ZLP) with I_ZLP = sum of the channels below the threshold (exspy's convention)."""
    return np.log(np.nansum(D, axis=1) / np.nansum(D[:, :_index_of(E, threshold_eV)], axis=1))


def first_moment_eV(E: np.ndarray, D: np.ndarray, threshold_eV: float, upper_eV: float) -> np.ndarray:
    """t<dE/dx> = sum_{thr <= E <= upper} E I(E) / sum_{E <= upper} I(E): energy lost per incident electron."""
    win = (E >= threshold_eV) & (E <= upper_eV)
    return np.nansum(E[win] * D[:, win], axis=1) / np.nansum(D[:, E <= upper_eV], axis=1)


def zlp_fwhm_eV(E: np.ndarray, D: np.ndarray) -> float:
    """Full width at half maximum of the (aligned) zero-loss peak, median over pixels, from linearly interpolated
    half-maximum crossings on either side of the maximum within +-5 eV."""
    widths = []
    core = np.nonzero(np.abs(E) <= 5.0)[0]
    for spec in D:
        y = np.nan_to_num(spec[core])
        k = int(np.argmax(y))
        half = 0.5 * y[k]
        lo = k
        while lo > 0 and y[lo - 1] > half:
            lo -= 1
        hi = k
        while hi < len(y) - 1 and y[hi + 1] > half:
            hi += 1
        if lo == 0 or hi == len(y) - 1:
            continue
        e = E[core]
        left = e[lo - 1] + (half - y[lo - 1]) / (y[lo] - y[lo - 1]) * (e[lo] - e[lo - 1])
        right = e[hi] + (y[hi] - half) / (y[hi] - y[hi + 1]) * (e[hi + 1] - e[hi])
        widths.append(right - left)
    return float(np.median(widths)) if widths else float(5 * (E[1] - E[0]))


def zlp_end_eV(E: np.ndarray, D: np.ndarray, level: float = 1e-3) -> float:
    """Where the zero-loss peak has decayed to `level` of its maximum, read on its energy-gain side (E < 0), which
    holds no losses: the smallest e such that the median normalised spectrum, smoothed over 1 eV (counting noise
    on a faint tail would otherwise cross the level), stays below `level` for all E <= -e. If it never does within
    the axis, the axis' negative end."""
    dE = E[1] - E[0]
    m = np.nanmedian(np.nan_to_num(D) / np.nanmax(D, axis=1, keepdims=True), axis=0)
    w = max(int(round(1.0 / dE)), 1)
    m = np.convolve(m, np.ones(w) / w, mode="same")
    gain = np.nonzero(E < 0)[0][::-1]  # from 0 towards the axis start
    gain = gain[gain >= w // 2]        # the smoothing window stays inside the axis
    if gain.size == 0:
        return float(dE)
    above = np.nonzero(m[gain] >= level)[0]
    last = above.max() if above.size else 0
    return float(-E[gain[min(last + 1, gain.size - 1)]])


def zlp_tail_model(E: np.ndarray, D: np.ndarray, end_eV: float) -> np.ndarray:
    """The zero-loss peak's tail on the loss side, E >= end_eV, per pixel, as the mirror image of its energy-gain
    side, Z(E) = I(-E): the scan's median gain-side shape per unit of the intensity below end_eV (the ZLP's shape is
    the instrument's; the median suppresses noise), times each pixel's intensity below end_eV. Beyond the axis'
    negative end the tail is continued as E^-2, Z(E) = Z(e_edge) (e_edge/E)^2 (a Lorentzian, as a field-emission
    gun's tail falls; steeper tails make this an overestimate). The loss-side tail is often taller than the gain
    side's (an asymmetric source energy distribution): Z is an estimate of its size, not an exact subtraction."""
    D = np.nan_to_num(D)
    i0 = int(np.argmin(np.abs(E)))
    partner = 2 * i0 - np.arange(len(E))
    has = (E >= end_eV) & (partner >= 0) & (partner < len(E))
    I_core = D[:, E < end_eV].sum(axis=1, keepdims=True)
    shape = np.median(D / I_core, axis=0)
    Z = np.zeros_like(D)
    Z[:, has] = I_core * shape[partner[has]]
    e_edge = -float(np.mean(E[3:13]))  # the axis' first channels, less the outermost (alignment shifts fill them)
    beyond = (partner < 0) & (E >= end_eV)
    if e_edge > end_eV and beyond.any():
        Z[:, beyond] = I_core * np.mean(shape[3:13]) * (e_edge / E[beyond]) ** 2
    return Z


def mirrored_zlp_split(E: np.ndarray, D: np.ndarray, Z: np.ndarray, end_eV: float,
                       upper_eV: float) -> tuple[np.ndarray, np.ndarray]:
    """An alternative split of the spectrum into elastic and inelastic parts, free of a hard threshold: the
    zero-loss peak is the spectrum below end_eV (where it has decayed to ~1e-3 of its maximum) plus its loss-side
    tail Z above end_eV (zlp_tail_model); the losses hidden under it (0 < E < end_eV) are the loss density
    J = I - Z at end_eV (mean of 3 channels) extrapolated linearly to zero at E = 0 (a loss function rises linearly
    from zero, Im(-1/eps) ~ E well below the plasmon):
        I_ZLP' = sum_{E<end} I + sum_{E>=end} Z - J end/2,        t/lambda' = ln(I_total / I_ZLP')
        t<dE/dx>' = [sum_{end<=E<=upper} E (I - Z) + J end^2/3] / sum_{E<=upper} I
    A symmetric ZLP makes this exact up to the extrapolation; the difference from the threshold split measures the
    threshold's error (ZLP tail counted as losses, losses counted as ZLP). Returns (t/lambda', t<dE/dx>')."""
    dE = E[1] - E[0]
    D = np.nan_to_num(D)
    near = (E >= end_eV) & (E < end_eV + 3 * dE)
    J = np.clip(np.mean((D - Z)[:, near], axis=1), 0, None)  # counts per channel just above end_eV
    hidden = J * end_eV / dE / 2                               # sum over the channels 0..end of J E/end
    hidden_moment = J / dE * end_eV**2 / 3
    I0 = D[:, E < end_eV].sum(axis=1) + Z[:, E >= end_eV].sum(axis=1) - hidden
    H = np.log(D.sum(axis=1) / I0)
    win = (E >= end_eV) & (E <= upper_eV)
    tde = (np.sum(E[win] * (D - Z)[:, win], axis=1) + hidden_moment) / D[:, E <= upper_eV].sum(axis=1)
    return H, tde


def zlp_tail_removed(E: np.ndarray, D: np.ndarray, Z: np.ndarray, threshold_eV: float,
                     upper_eV: float) -> tuple[np.ndarray, np.ndarray]:
    """The threshold split with the ZLP's tail beyond the threshold (zlp_tail_model) moved back into I_ZLP:
        t/lambda' = ln(I_total / (I_ZLP + sum_{E>=thr} Z)),
        t<dE/dx>' = t<dE/dx> - sum_{thr<=E<=upper} E Z / sum_{E<=upper} I
    The shift is the size of the tail counted as losses. It is nearly the same in every pixel and cancels in
    H_center - H_background, but it is the main systematic of t/lambda in a thin pixel."""
    D = np.nan_to_num(D)
    k = _index_of(E, threshold_eV)
    I0 = D[:, :k].sum(axis=1) + Z[:, k:].sum(axis=1)
    win = (E >= threshold_eV) & (E <= upper_eV)
    return (np.log(D.sum(axis=1) / I0),
            first_moment_eV(E, D, threshold_eV, upper_eV) - np.sum(E[win] * Z[:, win], axis=1)
            / D[:, E <= upper_eV].sum(axis=1))


def single_scattering(E: np.ndarray, spectrum: np.ndarray, threshold_eV: float, n: int) -> np.ndarray:
    """tau S(E) of one spectrum on the grid E = k dE, k = 0..n-1, by Fourier-log deconvolution with the zero-loss
    peak taken as a delta of weight I_ZLP at E = 0 (its shape only blurs the result by the ZLP width):
        Y = I_ZLP delta + I(E >= threshold),   Y / I_ZLP = exp(tau S) (Poisson),   tau S = IFFT(ln(FFT(Y) / I_ZLP))
    with the phase unwrapped along the frequency axis (tau above pi)."""
    i0 = int(np.argmin(np.abs(E)))
    losses = np.nonzero(E >= threshold_eV)[0]
    rel = losses - i0
    keep = (rel > 0) & (rel < n // 2)  # half the grid stays empty: no wrap-around of plural losses
    spectrum = np.clip(np.nan_to_num(spectrum), 0, None)
    I0 = spectrum[:_index_of(E, threshold_eV)].sum()
    Y = np.zeros(n)
    Y[rel[keep]] = spectrum[losses[keep]] / I0
    Y[0] = 1.0
    F = np.fft.fft(Y)
    return np.real(np.fft.ifft(np.log(np.abs(F)) + 1j * np.unwrap(np.angle(F))))


def plural_truncation_deficit_eV(E: np.ndarray, D: np.ndarray, threshold_eV: float, upper_eV: float) -> np.ndarray:
    """t<dE/dx> that the window E <= upper_eV misses because plural losses fall beyond it (per pixel, >= 0).

    With tau S_U the single-scattering distribution within the window [threshold, upper] (single_scattering),
    Poisson plural scattering gives the spectrum P = IFFT(exp(FFT(tau S_U) - tau_U)), tau_U = sum tau S_U, whose
    full first moment is sum E tau S_U (what t<dE/dx> should be); the window holds only
        deficit = sum E tau S_U - sum_{thr<=E<=upper} E P(E) / sum_{E<=upper} P(E)"""
    dE = E[1] - E[0]
    out = np.zeros(len(D))
    for k, (spectrum, tau) in enumerate(zip(D, log_ratio(E, D, threshold_eV))):
        n_orders = 4 + 3 * max(float(tau), 0.0)  # Poisson orders that matter, with a margin
        n = int(2 ** np.ceil(np.log2(max(2 * max(n_orders * upper_eV, E[-1]) / dE, 64))))
        e = np.arange(n) * dE
        win = (e >= threshold_eV) & (e <= upper_eV)
        tauS = np.where(win, single_scattering(E, spectrum, threshold_eV, n), 0.0)
        P = np.real(np.fft.ifft(np.exp(np.fft.fft(tauS) - tauS.sum())))
        trunc = np.sum((e * P)[win]) / np.sum(P[e <= upper_eV])
        out[k] = max(np.sum(e * tauS) - trunc, 0.0)
    return out


def analyse_pixels(s, upper_eV: float = 110.0, threshold_eV: float | None = None,
                   zlp_range_eV: tuple[float, float] = (-5.0, 5.0), energy_scale_err: float = 0.005) -> PixelResults:
    """Align the ZLP, find the elastic threshold and compute per-pixel t/lambda, t<dE/dx>, <E>, and the same
    under the method's systematic variations (PixelResults.variations, see SYSTEMATIC_GROUPS):
      threshold_low/high   the threshold moved by -+ the ZLP's FWHM (not below where the ZLP has decayed to 1e-3)
      mirrored_zlp         the ZLP's loss-side tail taken as the mirror of its gain side, no threshold
                           (mirrored_zlp_split)
      zlp_tail             the threshold split with that tail moved back into I_ZLP (zlp_tail_removed)
      plural_truncation    t<dE/dx> + the plural losses beyond upper_eV (plural_truncation_deficit_eV)
      energy_offset        the energy zero off by half a channel: t<dE/dx> + (dE/2) sum_{window} I / sum I
      energy_scale         the dispersion off by energy_scale_err (relative): t<dE/dx> (1 + energy_scale_err)

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
    t_dEdx = first_moment_eV(E, data, threshold, upper_eV)
    win = (E >= threshold) & (E <= upper_eV)
    raw_mean = np.nansum(E[win] * data[:, win], axis=1) / np.nansum(data[:, win], axis=1)
    if s.axes_manager.navigation_dimension:
        nav = s.axes_manager.navigation_axes[0]
        pos, units = nav.axis, str(nav.units) if nav.units and str(nav.units) != "<undefined>" else "px"
    else:
        pos, units = np.zeros(1), "px"
    px = PixelResults(t_over_lambda, t_dEdx, t_dEdx / t_over_lambda, raw_mean, thr, np.asarray(pos, float), units)
    px.variations, px.settings = systematic_variations(E, data, t_over_lambda, t_dEdx, threshold, upper_eV,
                                                       energy_scale_err)
    return px


def systematic_variations(E, D, t_over_lambda, t_dEdx, threshold_eV, upper_eV, energy_scale_err):
    """(t/lambda, t<dE/dx>) per pixel under each variation of analyse_pixels, and the settings used. The shifts are
    computed with log_ratio / first_moment_eV at the nominal and the varied setting and added to exspy's values."""
    dE = float(E[1] - E[0])
    fwhm = zlp_fwhm_eV(E, D)
    end = max(zlp_end_eV(E, D), fwhm)
    H0 = log_ratio(E, D, threshold_eV)
    var = {}
    thr_lo, thr_hi = max(threshold_eV - fwhm, end), threshold_eV + fwhm
    if thr_lo > threshold_eV - dE:  # the threshold already sits where the ZLP has not decayed: no lower one
        thr_lo = threshold_eV
    for name, thr in (("threshold_low", thr_lo), ("threshold_high", thr_hi)):
        if abs(thr - threshold_eV) >= dE:
            var[name] = (t_over_lambda + log_ratio(E, D, thr) - H0, first_moment_eV(E, D, thr, upper_eV))
    split = min(end, threshold_eV)  # a ZLP still above 1e-3 at the threshold: split there
    Z = zlp_tail_model(E, D, split)
    Hm, tdem = mirrored_zlp_split(E, D, Z, split, upper_eV)
    var["mirrored_zlp"] = (t_over_lambda + Hm - H0, tdem)
    Ht, tdet = zlp_tail_removed(E, D, Z, threshold_eV, upper_eV)
    var["zlp_tail"] = (t_over_lambda + Ht - H0, tdet)
    var["plural_truncation"] = (t_over_lambda, t_dEdx + plural_truncation_deficit_eV(E, D, threshold_eV, upper_eV))
    win = (E >= threshold_eV) & (E <= upper_eV)
    frac = np.nansum(D[:, win], axis=1) / np.nansum(D[:, E <= upper_eV], axis=1)
    var["energy_offset"] = (t_over_lambda, t_dEdx + 0.5 * dE * frac)
    if energy_scale_err:
        var["energy_scale"] = (t_over_lambda, t_dEdx * (1 + energy_scale_err))
    settings = {"zlp_fwhm_eV": fwhm, "zlp_end_eV": end, "mirrored_split_eV": split,
                "threshold_variation_eV": [thr_lo, thr_hi],
                "energy_zero_err_eV": 0.5 * dE, "energy_scale_rel_err": energy_scale_err}
    return var, settings


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


INTERVAL95_K = 2.0  # the interval this tool stands behind: value +- INTERVAL95_K x total error


def combine_errors(value: float, stat: float, sys_terms: dict) -> tuple[float, float, list[float], list[float]]:
    """(sys, total, interval, interval95): sys = quadrature sum of the independent terms,
    total = sqrt(stat^2 + sys^2), interval = value -+ total, interval95 = value -+ INTERVAL95_K total."""
    sys_ = float(np.sqrt(np.sum(np.square(list(sys_terms.values()))))) if sys_terms else 0.0
    total = float(np.hypot(stat, sys_))
    return sys_, total, [value - total, value + total], [value - INTERVAL95_K * total, value + INTERVAL95_K * total]


def standard_errors(v: np.ndarray, centre: np.ndarray, background: np.ndarray) -> tuple[float, float]:
    """Standard errors of the centre and background means of v. The per-pixel noise of the centre is the larger of
    its own scatter and the background's: three centre pixels alone give a scatter that is often far too small
    (two degrees of freedom), while the background has many pixels and at least the centre's counting noise."""
    s_bg = float(np.std(v[background], ddof=1)) if background.sum() > 1 else 0.0
    s_c = float(np.std(v[centre], ddof=1)) if centre.sum() > 1 else 0.0
    return max(s_c, s_bg) / np.sqrt(max(centre.sum(), 1)), s_bg / np.sqrt(max(background.sum(), 1))


@dataclass(kw_only=True)
class ParticleResult(Record):
    """lambda_NP, <dE/dx>_NP and <E>_NP of the particle (eq. 8 and 10) with their errors (particle_results).
    Each *_err_* is the total sqrt(stat^2 + sys^2); *_interval_* is value -+ total ("68 %"), *_interval95_*
    value -+ INTERVAL95_K total; *_sys_terms_* the systematic error of each source."""
    particle_pixels: list[int]                      # [start, end), 0-based
    t_over_lambda_center: float
    t_over_lambda_background: float
    t_over_lambda_center_err: float
    t_over_lambda_background_err: float
    fit_x0_nm: float | Absent = ABSENT              # the hemisphere fit (--fit-hemisphere)
    fit_amplitude: float | Absent = ABSENT
    fit_t_over_lambda_background: float | Absent = ABSENT
    centre_sampling_factor: float | Absent = ABSENT
    systematic_not_assessed: list[str] | Absent = ABSENT
    R_nm: float
    R_err_nm: float
    R_source: str
    lambda_np_nm: float
    lambda_np_err_nm: float
    lambda_np_stat_err_nm: float
    lambda_np_sys_err_nm: float
    lambda_np_interval_nm: list[float]
    lambda_np_interval95_nm: list[float]
    lambda_np_sys_terms_nm: dict[str, float]
    dEdx_np_eV_per_nm: float
    dEdx_np_err_eV_per_nm: float
    dEdx_np_stat_err_eV_per_nm: float
    dEdx_np_sys_err_eV_per_nm: float
    mean_energy_loss_np_eV: float
    mean_energy_loss_np_err_eV: float
    mean_energy_loss_np_stat_err_eV: float
    mean_energy_loss_np_sys_err_eV: float
    mean_energy_loss_np_interval_eV: list[float]
    mean_energy_loss_np_interval95_eV: list[float]
    mean_energy_loss_np_sys_terms_eV: dict[str, float]
    interval_kind: str
    t_dEdx_background_eV: float
    systematic_variations_failed: list[str] | Absent = ABSENT
    reliable: bool = True
    unreliable_reasons: list[str] = field(default_factory=list)


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


@dataclass(kw_only=True)
class EelsResult(Record):
    """analyse_file's result: per-pixel values (lists over the scan), the particle's (ParticleResult, its keys at
    the top level of the JSON) and Iakoubovskii's lambda when a density was given."""
    file: str
    upper_eV: float
    n_pixels: int
    position: list[float]
    position_units: str
    t_over_lambda: list[float]
    t_dEdx_eV: list[float]
    mean_energy_loss_eV: list[float]
    raw_J_mean_eV: list[float]
    threshold_eV: list[float]
    t_over_lambda_sys_err: list[float]
    t_dEdx_sys_err_eV: list[float]
    mean_energy_loss_sys_err_eV: list[float]
    systematics: dict
    position_nm_per_unit: float | None | Absent = ABSENT   # None: the position axis is not a length
    particle_pixels: list[int] | Absent = ABSENT            # a located particle without R (else in `particle`)
    particle: ParticleResult | None = flattened(None)
    beam_keV: float | Absent = ABSENT
    collection_mrad: float | Absent = ABSENT
    lambda_iakoubovskii_nm: float | Absent = ABSENT
    lambda_iakoubovskii_vs_beam_keV: dict[str, float] | Absent = ABSENT
    figures: list[str] | Absent = ABSENT


# ------------------------------------------------------------------------------------------------ output
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


def analyse_file(file: str | Path, *, particle: tuple[int, int] | None = None, no_particle: bool = False,
                 R_est_nm: float | None = None, fit_hemisphere: bool = False, threshold_ev: float | None = None,
                 zlp_range: tuple[float, float] = (-5.0, 5.0), upper_ev: float = 110.0,
                 energy_scale_err: float = 0.005, density: float | None = None, beam_kev: float | None = None,
                 collection_mrad: float | None = None, plot: str | Path | None = None,
                 no_plot: bool = False) -> EelsResult:
    """Per-pixel t/lambda, t<dE/dx>, <E> of a low-loss spectrum or line scan, and lambda_NP, <E>_NP of the
    particle with their uncertainties (module docstring)."""
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
        res.figures = plot_figure(px, s, res, inside, figure_prefix(file, plot), upper_ev)
    return res


json_safe = _json_safe  # the results with numpy scalars as Python numbers and NaN/inf as None (beamheat.io)


def figure_prefix(file, plot=None) -> Path:
    return Path(plot) if plot else Path(file).with_suffix("").with_name(Path(file).stem + "_eels")


def _range(name: str, text: str | None, kind):
    if text is None:
        return None
    vals = v.csv_numbers(name, text, kind, count=2, sep=":")
    if not vals[0] < vals[1]:
        raise UserError(f"{name} {text}: START must be below END")
    return tuple(vals)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in ("analyse", "lambda", "-h", "--help"):
        argv = ["analyse", *argv]  # `python -m analysis.eels FILE ...`, the form the README and users know
    p = ArgumentParser(prog="python -m analysis.eels", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="{analyse,lambda}")
    la = sub.add_parser("lambda", help="inelastic mean free path from Iakoubovskii et al. (2008), nm",
                        formatter_class=HelpFormatter,
                        description="Inelastic mean free path from Iakoubovskii et al. (2008), nm.")
    la.add_argument("--density", type=float, required=True, help="density, g/cm³ (> 0; Au 19.3)")
    la.add_argument("--beam-kev", type=float, required=True, help="beam energy, keV (> 0)")
    la.add_argument("--collection-mrad", type=float, default=20.0,
                    help="collection semi-angle, mrad (> 0; default 20)")
    an = sub.add_parser("analyse", help="analyse a low-loss spectrum or line scan (the default: "
                        "`python -m analysis.eels FILE` means `analyse FILE`)", formatter_class=HelpFormatter,
                        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1])
    an.add_argument("file", help="low-loss spectrum or line scan (dm3, dm4, msa, hspy, emd, ...)")
    an.add_argument("--particle", help="particle pixel range START:END, 0-based, END excluded (default: automatic "
                    "from t/lambda)")
    an.add_argument("--no-particle", action="store_true", help="per-pixel results only")
    an.add_argument("--R-est-nm", type=float, help="particle radius for eq. 8, nm (> 0; default: none, then "
                    "--fit-hemisphere or per-pixel results)")
    an.add_argument("--fit-hemisphere", action="store_true", help="fit R and lambda to a hemisphere profile")
    an.add_argument("--threshold-ev", type=float, help="elastic threshold, eV (> 0; default: exspy's estimate, "
                    "median over the scan)")
    an.add_argument("--zlp-range", default="-5:5", help="energy window holding the zero-loss peak, eV, START:END "
                    "(default -5:5)")
    an.add_argument("--upper-ev", type=float, default=110.0,
                    help="upper limit of the loss integrals, eV (> threshold; default 110)")
    an.add_argument("--energy-scale-err", type=float, default=0.005,
                    help="relative uncertainty of the spectrometer's dispersion calibration, a systematic term of "
                         "<E> (0 to 0.5; default 0.005)")
    an.add_argument("--density", type=float, help="particle density, g/cm³ (> 0): adds Iakoubovskii's lambda "
                    "(Au 19.3; default: none)")
    an.add_argument("--beam-kev", type=float, help="beam energy, keV (default: from the file's metadata)")
    an.add_argument("--collection-mrad", type=float, help="collection semi-angle, mrad (default: from metadata)")
    an.add_argument("--json", help="write results here (default: print only)")
    an.add_argument("--plot", help="figure prefix (default: next to the file, <name>_eels.png/.pdf)")
    an.add_argument("--no-plot", action="store_true", help="no figures")
    an.add_argument("--force", action="store_true", help="overwrite existing outputs (--json, figures)")
    a = p.parse_args(argv)
    if a.cmd == "lambda":
        v.positive("--density", a.density, "g/cm³", hi=30.0)
        v.positive("--beam-kev", a.beam_kev, "keV", hi=5000.0)
        v.positive("--collection-mrad", a.collection_mrad, "mrad", hi=1000.0)
        print(f"lambda = {lambda_iakoubovskii_nm(a.density, a.beam_kev, a.collection_mrad):.1f} nm "
              f"(density {a.density} g/cm³, {a.beam_kev:g} keV, collection {a.collection_mrad:g} mrad)")
        return 0
    src = v.input_file(a.file, "FILE", "file")
    particle = _range("--particle", a.particle, int)
    if particle is not None and particle[0] < 0:
        raise UserError(f"--particle {a.particle}: pixels are counted from 0")
    v.conflict(**{"--particle": a.particle, "--no-particle": a.no_particle})
    v.conflict(**{"--R-est-nm": a.R_est_nm, "--no-particle": a.no_particle})
    v.conflict(**{"--fit-hemisphere": a.fit_hemisphere, "--no-particle": a.no_particle})
    v.conflict(**{"--plot": a.plot, "--no-plot": a.no_plot})
    zlp = _range("--zlp-range", a.zlp_range, float)
    v.positive("--R-est-nm", a.R_est_nm, "nm", hi=1e4)
    v.positive("--threshold-ev", a.threshold_ev, "eV", hi=1000.0)
    v.positive("--upper-ev", a.upper_ev, "eV", hi=1e5)
    if a.threshold_ev is not None and not a.threshold_ev < a.upper_ev:
        raise UserError(f"--threshold-ev {a.threshold_ev:g} eV must be below --upper-ev {a.upper_ev:g} eV")
    v.nonnegative("--energy-scale-err", a.energy_scale_err, hi=0.5)
    v.positive("--density", a.density, "g/cm³", hi=30.0)
    v.positive("--beam-kev", a.beam_kev, "keV", hi=5000.0)
    v.positive("--collection-mrad", a.collection_mrad, "mrad", hi=1000.0)
    out = v.output_file(a.json, "--json", force=a.force, inputs=[src])
    if not a.no_plot:
        prefix = figure_prefix(src, a.plot)
        figs = [prefix.with_suffix(".png"), prefix.with_suffix(".pdf")]
        if out is not None and out in figs:
            raise UserError(f"{out}: --json and a figure share this name")
        v.output_files(figs, "--plot", force=a.force, inputs=[src], mkdir=True)
    res = analyse_file(src, particle=particle, no_particle=a.no_particle, R_est_nm=a.R_est_nm,
                       fit_hemisphere=a.fit_hemisphere, threshold_ev=a.threshold_ev, zlp_range=zlp,
                       upper_ev=a.upper_ev, energy_scale_err=a.energy_scale_err, density=a.density,
                       beam_kev=a.beam_kev, collection_mrad=a.collection_mrad, plot=a.plot, no_plot=a.no_plot)
    H = np.array(res.t_over_lambda)
    print(f"{a.file}: {res.n_pixels} pixel(s), t/λ {H.min():.3f} to {H.max():.3f}, "
          f"<E> per inelastic event {np.median(res.mean_energy_loss_eV):.1f} eV (median)")
    pr = res.particle
    if pr is not None:
        print(f"  particle pixels {pr.particle_pixels[0]}:{pr.particle_pixels[1]}, R = {pr.R_nm:.2f} nm "
              f"({pr.R_source}), <dE/dx>_NP = {pr.dEdx_np_eV_per_nm:.3f} eV/nm")
        for name, key, u in (("λ_NP", "lambda_np", "nm"), ("<E>_NP", "mean_energy_loss_np", "eV")):
            q = {k: getattr(pr, f"{key}_{k}{u}") for k in ("", "err_", "stat_err_", "sys_err_", "interval_",
                                                           "interval95_")}
            (lo, hi), (lo95, hi95) = q["interval_"], q["interval95_"]
            print(f"  {name} = {q['']:.2f} ± {q['err_']:.2f} {u} (stat "
                  f"{q['stat_err_']:.2g}, sys {q['sys_err_']:.2g}): 68 % [{lo:.2f}, {hi:.2f}], "
                  f"95 % [{lo95:.2f}, {hi95:.2f}] {u}")
        if not pr.reliable:
            print("  UNRELIABLE: the JSON says \"reliable\": false; do not use λ_NP or <E>_NP (see the warnings)",
                  flush=True)
            for reason in pr.unreliable_reasons:
                print(f"WARNING: λ_NP and <E>_NP are UNRELIABLE: {reason}", file=sys.stderr, flush=True)
    if res.lambda_iakoubovskii_nm is not ABSENT:
        print(f"  Iakoubovskii λ at {res.beam_keV:g} keV, {res.collection_mrad:g} mrad: "
              f"{res.lambda_iakoubovskii_nm:.1f} nm")
    if out:
        write_json(out, res.to_json())
        print(f"  json: {out}")
    return 0

