"""The log-ratio method's systematic variations (package docstring, "Uncertainties"): the zero-loss peak's width,
end and loss-side tail, the threshold-free split, the plural losses beyond the upper limit, and the per-pixel
(t/lambda, t<dE/dx>) under each variation."""

from __future__ import annotations

import numpy as np

from analysis.eels.spectra import channel_index, first_moment_eV, log_ratio


# Each systematic source and the variations (keys of PixelResults.variations) that probe it. Within a source the
# largest shift counts (they are alternatives for the same choice); sources are independent (quadrature).
SYSTEMATIC_GROUPS = {
    "elastic/inelastic split": ("threshold_low", "threshold_high", "mirrored_zlp", "zlp_tail"),
    "plural losses beyond upper-eV": ("plural_truncation",),
    "energy zero": ("energy_offset",),
    "energy scale": ("energy_scale",),
}


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
    k = channel_index(E, threshold_eV)
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
    I0 = spectrum[:channel_index(E, threshold_eV)].sum()
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
