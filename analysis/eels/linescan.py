"""The line scan: t/lambda, t<dE/dx> and <E> per pixel (with their systematic variations) and where the particle
lies in it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis.eels.mean_energy import mean_loss_per_event_eV
from analysis.eels.spectra import align_zero_loss, elastic_threshold_eV, first_moment_eV, log_ratio_exspy
from analysis.eels.systematics import SYSTEMATIC_GROUPS, systematic_variations
from beamheat.cli import UserError


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

    The zero-loss peak is sought within zlp_range_eV (align_zero_loss); one threshold, threshold_eV or the median
    of exspy's per-pixel estimates (elastic_threshold_eV), serves the whole scan."""
    s = align_zero_loss(s, zlp_range_eV)
    threshold = float(threshold_eV) if threshold_eV is not None else elastic_threshold_eV(s)
    t_over_lambda = log_ratio_exspy(s, threshold)
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
    px = PixelResults(t_over_lambda, t_dEdx, mean_loss_per_event_eV(t_over_lambda, t_dEdx), raw_mean, thr,
                      np.asarray(pos, float), units)
    px.variations, px.settings = systematic_variations(E, data, t_over_lambda, t_dEdx, threshold, upper_eV,
                                                       energy_scale_err)
    return px


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
