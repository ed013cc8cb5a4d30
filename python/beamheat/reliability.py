"""When a number with an uncertainty can be used: one rule for k, ΔT and their inputs.

A positive quantity is *determined* when its 68 % interval [lo, hi] lies above zero and spans at most a factor of
three (hi <= 3 lo). For a symmetric interval x ± σ that is σ <= x/2: the interval is no wider than the value. The
rule is the same for a quantity and its inverse or any multiple of it, so a k and the ΔT ∝ 1/k made from it are
determined together. A value without an interval uses value ± err.

Tools mark a result `reliable: false` with the reasons when it is not determined (or fails a check of their own),
and the tools downstream refuse it unless told otherwise (--allow-unreliable).
"""

from __future__ import annotations

import math

MAX_SPAN = 3.0  # hi / lo of a determined 68 % interval


def interval_of(value: float, err: float | None = None, interval=None) -> tuple[float, float] | None:
    """The 68 % interval: INTERVAL when given as two numbers (an upper end of None or inf is unbounded), else
    value ± err, else None."""
    if interval is not None and len(interval) == 2 and interval[0] is not None:
        hi = interval[1]
        return float(interval[0]), (math.inf if hi is None else float(hi))
    if err is not None:
        return float(value) - float(err), float(value) + float(err)
    return None


def is_determined(value: float | None, err: float | None = None, interval=None) -> bool:
    """The rule above; a value with no uncertainty at all counts as determined (nothing says otherwise)."""
    if value is None or not math.isfinite(value) or value <= 0:
        return False
    iv = interval_of(value, err, interval)
    if iv is None:
        return True
    lo, hi = iv
    return lo > 0 and math.isfinite(hi) and hi <= MAX_SPAN * lo * (1 + 1e-12)  # the boundary itself passes


def undetermined_reason(name: str, value: float | None, err: float | None = None, interval=None,
                        unit: str = "") -> str | None:
    """Why NAME is not determined, in words, or None when it is."""
    if is_determined(value, err, interval):
        return None
    u = f" {unit}" if unit else ""
    if value is None or not math.isfinite(value) or value <= 0:
        return f"{name} = {value}{u} is not a positive number"
    lo, hi = interval_of(value, err, interval)
    if lo <= 0:
        return f"{name} = {value:.3g}{u}: its 68 % interval {lo:.3g} – {hi:.3g}{u} reaches zero"
    return (f"{name} = {value:.3g}{u}: its 68 % interval {lo:.3g} – {hi:.3g}{u} spans more than a factor "
            f"{MAX_SPAN:g}, wider than {name}")
