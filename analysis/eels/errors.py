"""Errors and intervals of the particle's values: standard errors of the pixel means, and a value's statistical,
systematic and total error with the 68 % and 95 % intervals stated from them."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

INTERVAL95_K = 2.0  # the interval this tool stands behind: value +- INTERVAL95_K x total error


class Estimate(NamedTuple):
    """A value with its errors and the intervals stated from them (combine_errors)."""
    value: float
    stat_err: float
    sys_err: float                # the quadrature sum of sys_terms
    err: float                    # total, sqrt(stat_err^2 + sys_err^2)
    interval: list[float]         # value -+ err ("68 %")
    interval95: list[float]       # value -+ INTERVAL95_K err: the interval this tool stands behind
    sys_terms: dict[str, float]   # the systematic error of each independent source


def combine_errors(value: float, stat: float, sys_terms: dict[str, float]) -> Estimate:
    """value with its statistical error stat and independent systematic terms: sys = their quadrature sum,
    total = sqrt(stat^2 + sys^2), interval = value -+ total, interval95 = value -+ INTERVAL95_K total."""
    sys_ = float(np.sqrt(np.sum(np.square(list(sys_terms.values()))))) if sys_terms else 0.0
    total = float(np.hypot(stat, sys_))
    return Estimate(value=value, stat_err=stat, sys_err=sys_, err=total, interval=[value - total, value + total],
                    interval95=[value - INTERVAL95_K * total, value + INTERVAL95_K * total], sys_terms=sys_terms)


def standard_errors(v: np.ndarray, centre: np.ndarray, background: np.ndarray) -> tuple[float, float]:
    """Standard errors of the centre and background means of v. The per-pixel noise of the centre is the larger of
    its own scatter and the background's: three centre pixels alone give a scatter that is often far too small
    (two degrees of freedom), while the background has many pixels and at least the centre's counting noise."""
    s_bg = float(np.std(v[background], ddof=1)) if background.sum() > 1 else 0.0
    s_c = float(np.std(v[centre], ddof=1)) if centre.sum() > 1 else 0.0
    return max(s_c, s_bg) / np.sqrt(max(centre.sum(), 1)), s_bg / np.sqrt(max(background.sum(), 1))
