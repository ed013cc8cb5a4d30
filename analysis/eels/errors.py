"""Errors and intervals of the particle's values: standard errors of the pixel means, and a value's statistical,
systematic and total error with the 68 % and 95 % intervals stated from them."""

from __future__ import annotations

import numpy as np


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
