"""Low-loss spectra in: reading a spectrum or line scan (rosettasciio through hyperspy, exspy's EELS signal), its
beam conditions, the zero-loss alignment and elastic threshold, and the two integrals every pixel is reduced to,
t/lambda (log-ratio) and t<dE/dx> (first moment)."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from beamheat.cli import UserError

class _DropNumbaNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Numba is not installed" not in record.getMessage()


@contextmanager
def quiet_hyperspy():
    """Inside: the hyperspy and exspy loggers at ERROR, their warnings ignored, and the "Numba is not installed"
    notice hyperspy logs to stdout while it is first imported (before a level set on its logger applies) dropped.
    On exit the loggers' levels and filters and the warning filters are as they were."""
    loggers = [logging.getLogger(name) for name in ("hyperspy", "exspy")]
    levels = [lg.level for lg in loggers]
    notice_logger, drop = logging.getLogger("hyperspy.decorators"), _DropNumbaNotice()
    notice_logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="hyperspy")
            warnings.filterwarnings("ignore", module="exspy")
            for lg in loggers:
                lg.setLevel(logging.ERROR)
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        notice_logger.removeFilter(drop)


def load_lowloss(path: str | Path):
    """A low-loss spectrum or line scan (hyperspy's EELS signal, through rosettasciio), checked to hold one
    spectrum or a line of them with the zero-loss peak on its energy axis."""
    with quiet_hyperspy():
        return _load_lowloss(path)


def _load_lowloss(path: str | Path):
    import hyperspy.api as hs

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    try:
        s = hs.load(str(path), signal_type="EELS")
    except Exception as e:  # rosettasciio raises many kinds for unreadable files
        first_line = str(e).splitlines()[0][:120]
        raise UserError(f"{path}: cannot read as a spectrum ({e.__class__.__name__}: {first_line})") from None
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
    missing = [name for name, value in (("beam energy (--beam-kev)", e), ("collection angle (--collection-mrad)", b))
               if value is None]
    if missing:
        raise UserError(f"{path}: metadata lacks {' and '.join(missing)}; give them on the command line")
    return float(e), float(b)


def align_zero_loss(s, zlp_range_eV: tuple[float, float]):
    """A copy of the signal with negative counts set to 0 and every pixel's zero-loss peak at E = 0 (exspy,
    subpixel, the energy axis calibrated). The ZLP is sought within zlp_range_eV only: in thick pixels the plasmon
    is taller than the ZLP, and aligning on the maximum would put the plasmon at zero."""
    s = s.deepcopy()
    if s.data.min() < 0:
        s.data = np.clip(s.data, 0, None)
    with quiet_hyperspy():
        try:
            s.align_zero_loss_peak(calibrate=True, print_stats=False, subpixel=True, show_progressbar=False,
                                   crop=False, signal_range=tuple(zlp_range_eV))
        except Exception as e:  # hyperspy raises plain ValueErrors for ranges outside the axis
            raise UserError(f"cannot align the zero-loss peak within {zlp_range_eV} eV ({e}); set --zlp-range") \
                from None
    return s


def elastic_threshold_eV(s) -> float:
    """The elastic threshold of an aligned scan: the median of exspy's per-pixel estimates (the minimum after the
    zero-loss peak). One value serves the whole scan: it is set by the ZLP's width, an instrument property, and
    per-pixel estimates fail in thick pixels, where the minimum between the ZLP and the plasmon is shallow."""
    with quiet_hyperspy():
        per_pixel = np.atleast_1d(np.asarray(s.estimate_elastic_scattering_threshold(window=10.0).data, float))
    per_pixel = per_pixel[np.isfinite(per_pixel)]
    if per_pixel.size == 0:
        raise UserError("no elastic threshold found (no minimum after the zero-loss peak); give --threshold-ev")
    return float(np.median(per_pixel))


def log_ratio_exspy(s, threshold_eV: float) -> np.ndarray:
    """t/lambda = ln(I_total / I_ZLP) per pixel of an aligned scan, integrated by exspy (log_ratio is the same
    convention on an array); every pixel must show losses beyond the zero-loss peak."""
    with quiet_hyperspy():
        tl = s.estimate_thickness(threshold=threshold_eV)
    t_over_lambda = np.atleast_1d(np.asarray(tl.data, float)).ravel()
    if not np.all(np.isfinite(t_over_lambda)) or np.any(t_over_lambda <= 0):
        raise UserError("no inelastic signal beyond the zero-loss peak in some pixels (vacuum, or saturated ZLP)")
    return t_over_lambda


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
