"""Low-loss spectra in: reading a spectrum or line scan (rosettasciio through hyperspy, exspy's EELS signal), its
beam conditions, the zero-loss alignment and elastic threshold, and the two integrals every pixel is reduced to,
t/lambda (log-ratio) and t<dE/dx> (first moment)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from beamheat.cli import UserError

# hyperspy logs "Numba is not installed" to stdout while it imports (before any level set here applies); a filter
# on that logger, installed before hyperspy is imported, drops just that message
logging.getLogger("hyperspy.decorators").addFilter(lambda record: "Numba is not installed" not in record.getMessage())
warnings.filterwarnings("ignore", message="Importing .* is deprecated", module="hyperspy")


def _quiet_hyperspy():
    logging.getLogger("hyperspy").setLevel(logging.ERROR)
    logging.getLogger("exspy").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="hyperspy")
    warnings.filterwarnings("ignore", module="exspy")


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


def channel_index(E: np.ndarray, energy_eV: float) -> int:
    """The channel index exspy's isig[:energy] stops before (hyperspy's value2index rounds to the nearest)."""
    return int(np.clip(np.round((energy_eV - E[0]) / (E[1] - E[0])), 0, len(E)))


def log_ratio(E: np.ndarray, D: np.ndarray, threshold_eV: float) -> np.ndarray:
    """t/lambda = ln(I_total / I_ZLP) with I_ZLP = sum of the channels below the threshold (exspy's convention)."""
    return np.log(np.nansum(D, axis=1) / np.nansum(D[:, :channel_index(E, threshold_eV)], axis=1))


def first_moment_eV(E: np.ndarray, D: np.ndarray, threshold_eV: float, upper_eV: float) -> np.ndarray:
    """t<dE/dx> = sum_{thr <= E <= upper} E I(E) / sum_{E <= upper} I(E): energy lost per incident electron."""
    win = (E >= threshold_eV) & (E <= upper_eV)
    return np.nansum(E[win] * D[:, win], axis=1) / np.nansum(D[:, E <= upper_eV], axis=1)
