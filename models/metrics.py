"""Accuracy of an ensemble (and each member) against reference labels; paper eq. 1-2.

    from models.ensemble import Ensemble
    m = evaluate(Ensemble(files), frames)      # frames carry reference energy/forces (SinglePointCalculator)
    m["ensemble"]["force_error_rmse_eV_per_A"], m["ensemble"]["spearman_sigma_delta"], m["members"][0]...

Energies are per atom (eV/atom), forces in eV/Å. `force_*` are per Cartesian component; `force_error_rmse` is the
RMSE of the per-atom error magnitude |F - F_ref| (the paper's number). The sigma-delta correlations are per atom;
spearman_frame_max_sigma_delta ranks frames by their largest sigma_F and largest dF (what the selection uses).
"""

from __future__ import annotations

import numpy as np


def _block(e_pred, e_ref, n_atoms, f_pred, f_ref) -> dict:
    de = (np.asarray(e_pred) - np.asarray(e_ref)) / np.asarray(n_atoms)
    df = np.asarray(f_pred) - np.asarray(f_ref)
    mag = np.linalg.norm(df, axis=1)
    return {
        "energy_mae_eV_per_atom": float(np.mean(np.abs(de))),
        "energy_rmse_eV_per_atom": float(np.sqrt(np.mean(de**2))),
        "force_mae_eV_per_A": float(np.mean(np.abs(df))),
        "force_rmse_eV_per_A": float(np.sqrt(np.mean(df**2))),
        "force_error_rmse_eV_per_A": float(np.sqrt(np.mean(mag**2))),
    }


def correlations(sigma: np.ndarray, delta: np.ndarray) -> dict:
    from scipy.stats import pearsonr, spearmanr

    sigma, delta = np.asarray(sigma, float), np.asarray(delta, float)
    if sigma.size < 3 or np.ptp(sigma) == 0 or np.ptp(delta) == 0:
        return {"pearson_sigma_delta": None, "spearman_sigma_delta": None}
    return {"pearson_sigma_delta": float(pearsonr(sigma, delta)[0]),
            "spearman_sigma_delta": float(spearmanr(sigma, delta)[0])}


def predict(ensemble, frames) -> dict:
    """Per-frame ensemble outputs and references, concatenated per atom."""
    rows = [ensemble.evaluate(a) for a in frames]
    return {
        "forces": np.concatenate([r["forces"] for r in rows], axis=1),          # (M, N_total, 3)
        "energies": np.array([r["energies_eV"] for r in rows]),                  # (n_frames, M)
        "sigma_f": np.concatenate([r["sigma_f"] for r in rows]),
        "ref_forces": np.concatenate([a.calc.results["forces"] for a in frames]),
        "ref_energy": np.array([a.calc.results["energy"] for a in frames]),
        "n_atoms": np.array([len(a) for a in frames]),
        "frame_max_sigma_f": np.array([r["sigma_f"].max() for r in rows]),
    }


def evaluate(ensemble, frames) -> dict:
    """Per-member and ensemble-mean metrics plus the sigma_F-delta_F correlation on `frames`."""
    if not frames:
        return {"n_frames": 0}
    p = predict(ensemble, frames)
    members = [_block(p["energies"][:, j], p["ref_energy"], p["n_atoms"], p["forces"][j], p["ref_forces"])
               for j in range(p["forces"].shape[0])]
    mean_f = p["forces"].mean(axis=0)
    ens = _block(p["energies"].mean(axis=1), p["ref_energy"], p["n_atoms"], mean_f, p["ref_forces"])
    delta = np.linalg.norm(mean_f - p["ref_forces"], axis=1)
    ens.update(correlations(p["sigma_f"], delta))
    # per frame, max sigma_F against max dF: the quantity the selection ranks frames by
    ends = np.cumsum(p["n_atoms"])[:-1]
    frame_delta = np.array([d.max() for d in np.split(delta, ends)])
    ens["spearman_frame_max_sigma_delta"] = correlations(p["frame_max_sigma_f"], frame_delta)["spearman_sigma_delta"]
    ens["mean_sigma_f_eV_per_A"] = float(p["sigma_f"].mean())
    return {"n_frames": len(frames), "n_atoms": int(p["n_atoms"].sum()), "members": members, "ensemble": ens,
            "_sigma_f": p["sigma_f"], "_delta_f": delta}


def public(metrics: dict) -> dict:
    """Metrics without the per-atom arrays (for JSON)."""
    return {k: v for k, v in metrics.items() if not k.startswith("_")}
