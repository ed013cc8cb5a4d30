"""The equations of heat transfer across the particle/support interface, and their uncertainties (paper eq. 4-6).

Functions take arrays and return numbers or arrays; nothing here reads files or parses options.

Eq. 4, integrated (energy balance): the heat that crosses the interface between t0 and t is
    Q(t) = P (t - t0) - [E_np(t) - E_np(t0)]            (particle heated at power P; P = 0 in NVE cooling)
and Q(t) = k A I(t) with I(t) = int_t0^t dT dt'. In NVE with the support's energy in the log the interface
pair energy (split evenly between the groups in the per-atom energies) cancels from
    Q(t) = ([E_sup(t) - E_sup(t0)] - [E_np(t) - E_np(t0)]) / 2.
This needs no heat capacity and no exponential model, and stays right when the particle's temperature is not a
function of its energy alone (a small cluster hopping between isomers converts potential to kinetic energy).
Eq. 6: dT(t) = dT0 exp(-t/tau) with 1/tau = k A (1/C_np + 1/C_support), C = dE/dT of each group.

Uncertainties are honest intervals: the larger of the fit's own error, a bootstrap and (several runs) the spread
between runs; a percentile interval is used when the bootstrap distribution is skewed or reaches zero.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from beamheat.cli import UserError
from beamheat.reliability import is_determined

INTERVAL_LEVEL = 0.68   # the stated interval: +-1 sigma equivalent (16th-84th percentile)
WIDE_LEVEL = 0.95       # also reported: 2.5th-97.5th percentile


# ------------------------------------------------------------------------------------------------ eq. 6
def exp_decay(t_ps, dT0_K, tau_ps):
    """Eq. 6: dT(t) = dT0 exp(-t/tau), t measured from contact."""
    return dT0_K * np.exp(-t_ps / tau_ps)


def conductance(tau_ps: float, area_nm2: float, C_np_eV_per_K: float, C_support_eV_per_K: float | None = None):
    """k in eV/(nm^2 ps K) from 1/tau = k A (1/C_np + 1/C_support); C_support None = infinite bath."""
    inv_C = 1.0 / C_np_eV_per_K + (1.0 / C_support_eV_per_K if C_support_eV_per_K else 0.0)
    return 1.0 / (tau_ps * area_nm2 * inv_C)


def fit_decay(t_ps: np.ndarray, dT_K: np.ndarray) -> dict:
    """Least-squares fit of eq. 6; t is time since contact. Returns dT0, tau, their std errors and fit quality."""
    if len(t_ps) < 5:
        raise UserError(f"only {len(t_ps)} points in the fit window; widen it (--start, --stop-temp)")
    pos = dT_K > 0.1 * np.abs(dT_K).max()
    slope = np.polyfit(t_ps[pos], np.log(dT_K[pos]), 1)[0] if pos.sum() > 2 else -1.0 / np.ptp(t_ps)
    tau0 = -1.0 / slope if slope < 0 else np.ptp(t_ps)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, cov = curve_fit(exp_decay, t_ps, dT_K, p0=[dT_K[0], tau0], maxfev=10000)
    except RuntimeError as e:
        raise UserError(f"exponential fit did not converge ({e})") from None
    resid = dT_K - exp_decay(t_ps, *p)
    ss_tot = np.sum((dT_K - dT_K.mean()) ** 2)
    lag1 = np.corrcoef(resid[:-1], resid[1:])[0, 1] if len(resid) > 3 else float("nan")
    err = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.array([np.inf, np.inf])
    return {
        "dT0_K": float(p[0]), "tau_ps": float(p[1]),
        "dT0_err_K": float(err[0]), "tau_err_ps": float(err[1]),
        "r2": float(1.0 - np.sum(resid**2) / ss_tot) if ss_tot > 0 else float("nan"),
        "rms_residual_K": float(np.sqrt(np.mean(resid**2))),
        "residual_lag1_autocorrelation": float(lag1), "residuals_K": resid,
    }


def heat_capacity(E_eV: np.ndarray, T_K: np.ndarray, n_bins: int = 20) -> tuple[float, float]:
    """C = dE/dT (eV/K) from time-binned means of a group's energy and temperature, with its std error.

    Binning first removes the instantaneous kinetic/potential exchange that would bias a raw E-vs-T regression
    towards the kinetic part alone (errors in the regressor)."""
    n_bins = max(3, min(n_bins, len(E_eV) // 3))
    E_b = np.array([b.mean() for b in np.array_split(E_eV, n_bins)])
    T_b = np.array([b.mean() for b in np.array_split(T_K, n_bins)])
    if np.ptp(T_b) < 1e-6:
        raise UserError("temperature does not change in the window: cannot get c_p from the log; give --cp")
    (slope, _), cov = np.polyfit(T_b, E_b, 1, cov=True)
    return float(slope), float(np.sqrt(max(cov[0, 0], 0.0)))


def correlation_length(x: np.ndarray) -> int:
    """Number of samples over which x stays correlated: twice the first lag where its autocorrelation drops
    below 1/e (at least 1). Sets the block length of the bootstrap."""
    x = np.asarray(x, float) - np.mean(x)
    n = len(x)
    if n < 4 or not np.any(x):
        return 1
    f = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n]
    acf /= acf[0]
    below = np.nonzero(acf < 1.0 / np.e)[0]
    return int(2 * below[0]) if below.size else n


def block_bootstrap_decay(t_ps, dT_K, fit, E_np, T_np, E_sub, T_sub, n_boot=200, seed=0):
    """Moving-block bootstrap of the eq.-6 fit residuals (and of the energies' residuals about their E-T lines).
    Blocks are as long as the residuals stay correlated (at least n/20). Returns arrays of tau, C_np, C_sub."""
    rng = np.random.default_rng(seed)
    n = len(t_ps)
    model = exp_decay(t_ps, fit["dT0_K"], fit["tau_ps"])
    resid = fit["residuals_K"]
    block = min(n, max(2, n // 20, correlation_length(resid)))
    lines = {}
    for name, E, T in (("np", E_np, T_np), ("sub", E_sub, T_sub)):
        if E is not None:
            c = np.polyfit(T, E, 1)
            lines[name] = (np.polyval(c, T), E - np.polyval(c, T))
    taus, Cs = [], {k: [] for k in lines}
    starts = np.arange(n - block + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a resample's degenerate covariance is expected, not worth a line each
        for _ in range(n_boot):
            idx = np.concatenate([np.arange(s, s + block) for s in rng.choice(starts, n // block + 1)])[:n]
            try:
                p, _ = curve_fit(exp_decay, t_ps, model + resid[idx], p0=[fit["dT0_K"], fit["tau_ps"]],
                                 maxfev=2000)
            except RuntimeError:
                continue
            taus.append(p[1])
            for name, (smooth, r) in lines.items():
                T = T_np if name == "np" else T_sub
                try:
                    Cs[name].append(heat_capacity(smooth + r[idx], T)[0])
                except UserError:
                    Cs[name].append(np.nan)
    return np.array(taus), {k: np.array(v) for k, v in Cs.items()}


# ------------------------------------------------------------------------------------------------ eq. 4
def interface_heat(t_ps, E_np_eV, E_sup_eV=None, power_eV_per_ps: float = 0.0) -> np.ndarray:
    """Q(t), eV: heat that crossed the interface from the particle since the first row (module docstring)."""
    t = np.asarray(t_ps, float)
    dE_np = np.asarray(E_np_eV, float) - E_np_eV[0]
    if E_sup_eV is not None and power_eV_per_ps == 0.0:
        return 0.5 * ((np.asarray(E_sup_eV, float) - E_sup_eV[0]) - dE_np)
    return power_eV_per_ps * (t - t[0]) - dE_np


def integral_dT(t_ps, dT_K) -> np.ndarray:
    """I(t) = int_t0^t dT dt' (K ps), trapezoidal, I(t0) = 0."""
    t, dT = np.asarray(t_ps, float), np.asarray(dT_K, float)
    return np.concatenate([[0.0], np.cumsum(0.5 * (dT[1:] + dT[:-1]) * np.diff(t))])


@dataclass
class EnergyBalance:
    """k from Q(t) = k A I(t): estimate, block jackknife error and block-bootstrap samples."""
    k: float
    k_err_jackknife: float
    k_boot: np.ndarray
    n_blocks: int
    heat_eV: float          # Q between the first and last edge (edge means): k = heat / (A integral)
    integral_K_ps: float    # I between the same edges


def energy_balance_k(t_ps, dT_K, Q_eV, area_nm2: float, n_blocks: int = 10, n_boot: int = 1000,
                     seed: int = 0) -> EnergyBalance:
    """k = sum_b dQ_b / (A sum_b dI_b) over n_blocks contiguous time blocks b, with Q and I at each block edge
    averaged over a quarter block either side; a jackknife and a bootstrap over the blocks give the error.

    Q(t) carries two kinds of noise. The interface's own fluctuating heat flux makes it diffuse (variance
    2 k_B T_np T_sub k A per ps: fluctuation-dissipation), and block increments of that are independent. On top
    of it rides a bounded part that swings back and forth over a few ps (the vibrating interface moves energy
    between the two groups' per-atom energies and back): it cancels from the sum of the increments but adds to
    each one, so point edges and short blocks overstate the error. On 30 runs of the classical teacher (Au45 on
    hBN, 90 ps each; bench/results/k_calibration_au45_hbn.md) one run's k scatters by 52 % and this states 58 %
    (median); point edges and 20 blocks stated about 70 %."""
    I = integral_dT(t_ps, dT_K)
    Q = np.asarray(Q_eV, float)
    n = len(Q)
    n_blocks = int(max(4, min(n_blocks, (n - 1) // 5)))
    half = int((n - 1) / n_blocks / 4)                    # samples averaged either side of an edge
    edges = np.linspace(half, n - 1 - half, n_blocks + 1).round().astype(int)
    Q_e = np.array([Q[e - half:e + half + 1].mean() for e in edges])
    I_e = np.array([I[e - half:e + half + 1].mean() for e in edges])
    dQ, dI = np.diff(Q_e), np.diff(I_e)
    if not dI.sum() > 0:
        raise UserError("the particle is not hotter than the support in the window (int dT dt <= 0): "
                        "no heat flows to measure k from")
    k = dQ.sum() / (area_nm2 * dI.sum())
    loo = np.array([(dQ.sum() - dQ[b]) / (area_nm2 * (dI.sum() - dI[b])) for b in range(n_blocks)])
    jk = float(np.sqrt((n_blocks - 1) / n_blocks * np.sum((loo - loo.mean()) ** 2)))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_blocks, (n_boot, n_blocks))
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = dQ[idx].sum(1) / (area_nm2 * dI[idx].sum(1))
    return EnergyBalance(float(k), jk, boot[np.isfinite(boot)], n_blocks, float(Q_e[-1] - Q_e[0]),
                         float(I_e[-1] - I_e[0]))


# ------------------------------------------------------------------------------------------------ intervals
def honest_interval(value: float, sigmas: dict[str, float], boot: np.ndarray | None = None) -> dict:
    """The uncertainty we stand behind. sigma = the largest of the given 1-sigma estimates (fit, jackknife, run
    spread, ...) and the bootstrap's std. The 68 % and 95 % intervals are value +- (1, 1.96) sigma, or the
    bootstrap percentiles (widened to at least the symmetric interval) when the bootstrap distribution is skewed
    or its interval reaches zero. `determined`: beamheat.reliability's rule on the 68 % interval."""
    finite = {k: float(v) for k, v in sigmas.items() if v is not None and np.isfinite(v)}
    boot = None if boot is None or len(boot) < 20 else np.asarray(boot, float)
    if boot is not None:
        finite["bootstrap"] = float(np.std(boot, ddof=1))
    if not finite:
        raise ValueError("no uncertainty estimate")
    source = max(finite, key=finite.get)
    sigma = finite[source]
    lo68, hi68 = value - sigma, value + sigma
    lo95, hi95 = value - 1.96 * sigma, value + 1.96 * sigma
    kind = "symmetric"
    if boot is not None:
        p = np.percentile(boot, [2.5, 16, 84, 97.5])
        skew = float(np.mean((boot - boot.mean()) ** 3) / max(np.std(boot) ** 3, 1e-300))
        if abs(skew) > 0.5 or p[1] <= 0 < value:
            kind = "percentile"
            lo68, hi68 = min(lo68, p[1]), max(hi68, p[2])
            lo95, hi95 = min(lo95, p[0]), max(hi95, p[3])
    determined = is_determined(float(value), interval=(lo68, hi68))
    return {"sigma": float(sigma), "sigma_source": source, "sigmas": finite,
            "interval_68": [float(lo68), float(hi68)], "interval_95": [float(lo95), float(hi95)],
            "interval_kind": kind, "relative": float(sigma / abs(value)) if value else float("inf"),
            "determined": determined}


def combine_runs(values: np.ndarray, sigmas: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """Weighted mean of independent runs of one system (equal weights by default), with the larger of the
    standard error from their spread and the error propagated from each run's own sigma. For energy-balance runs
    the weights are each run's integral of dT dt, so the mean is the pooled k = sum Q / (A sum int dT dt): a short
    run counts for what it measured, and no weight depends on the run's own k or its error."""
    v, s = np.asarray(values, float), np.asarray(sigmas, float)
    n = len(v)
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    W = w.sum()
    mean = float(np.sum(w * v) / W)
    spread = float(np.sqrt(np.sum(w**2 * (v - mean) ** 2) * n / (n - 1)) / W) if n > 1 else float("nan")
    propagated = float(np.sqrt(np.sum(w**2 * s**2)) / W)
    return {"mean": mean, "n": n, "sigma_spread": spread, "sigma_propagated": propagated,
            "std": float(np.std(v, ddof=1)) if n > 1 else float("nan")}
