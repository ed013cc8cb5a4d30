"""An ensemble of compiled NequIP models evaluated on one shared graph per frame (what pair_style nequip does).

    ens = Ensemble(["m1.nequip.pth", "m2.nequip.pth"])
    out = ens.evaluate(atoms)        # forces (M, N, 3), energies (M,), mean forces, sigma_f (N,)

Paper eq. 1-2: the ensemble mean force F_k = 1/M sum_j F_jk drives the dynamics; the per-atom spread
sigma_F,k = sqrt(1/M sum_j |F_jk - F_k|^2) measures disagreement; against reference (DFT) forces the error is
dF_k = |F_k - F_k^ref|.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from beamheat.cli import BeamheatError


def sigma_f(forces_per_model: np.ndarray) -> np.ndarray:
    """Eq. 2 for forces of shape (M, N, 3): per-atom sqrt(mean over models of |F_j - F_mean|^2)."""
    f = np.asarray(forces_per_model, float)
    dev = f - f.mean(axis=0, keepdims=True)
    return np.sqrt(np.mean(np.sum(dev**2, axis=-1), axis=0))


def force_error(mean_forces: np.ndarray, reference_forces: np.ndarray) -> np.ndarray:
    """Eq. 1: per-atom |F_mean - F_ref|."""
    return np.linalg.norm(np.asarray(mean_forces) - np.asarray(reference_forces), axis=-1)


class ModelFileError(BeamheatError):
    """A model file that cannot be used (missing, not a NequIP TorchScript model, types differing)."""


def identical_members(paths: Sequence[str | Path]) -> list[tuple[str, str]]:
    """Pairs of model files with the same content: such an ensemble has sigma_F = 0 everywhere."""
    import hashlib

    seen, pairs = {}, []
    for p in map(Path, paths):
        try:
            h = hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError:
            continue
        if h in seen:
            pairs.append((seen[h], str(p)))
        else:
            seen[h] = str(p)
    return pairs


def warn_identical_members(paths: Sequence[str | Path]) -> list[tuple[str, str]]:
    pairs = identical_members(paths)
    for a, b in pairs:
        print(f"WARNING: ensemble members {a} and {b} are the same model: sigma_F from them is 0, not an "
              f"uncertainty", file=sys.stderr)
    return pairs


class Ensemble:
    """Compiled models (TorchScript .nequip.pth, nequip >= 0.7) sharing type names and cutoffs."""

    def __init__(self, paths: Sequence[str | Path], device: str = "cpu"):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.models, self.paths = [], [Path(p) for p in paths]
        self.identical_members = warn_identical_members(self.paths) if len(self.paths) > 1 else []
        meta0 = None
        for p in self.paths:
            if not p.exists():
                raise ModelFileError(f"{p}: model file not found")
            if p.suffix == ".pt2":
                raise ModelFileError(f"{p}: AOTInductor packages are compiled for pair_nequip's C++ loader; rerun "
                                     "with the TorchScript file of the same checkpoint (python -m models.deploy)")
            extra = {"r_max": "", "type_names": "", "per_edge_type_cutoff": ""}
            try:
                m = torch.jit.load(str(p), map_location=self.device, _extra_files=extra)
            except RuntimeError as e:
                raise ModelFileError(f"{p}: cannot load as a TorchScript model ({str(e).splitlines()[0]})") from None
            meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in extra.items()}
            if not meta["r_max"] or not meta["type_names"]:
                raise ModelFileError(f"{p}: not a NequIP model (no r_max/type_names metadata)")
            if meta0 is not None and meta != meta0:
                raise ModelFileError(f"{p}: type names or cutoffs differ from {self.paths[0]}")
            meta0 = meta
            self.models.append(torch.jit.freeze(m.eval()))
        self.r_max = float(meta0["r_max"])
        self.type_names = meta0["type_names"].split()
        cut = meta0["per_edge_type_cutoff"].split()
        self.per_edge_type_cutoff = None
        if cut:
            nt = len(self.type_names)
            self.per_edge_type_cutoff = {a: {b: float(cut[i * nt + j]) for j, b in enumerate(self.type_names)}
                                         for i, a in enumerate(self.type_names)}

    def graph(self, atoms) -> dict:
        """The model input for one frame: nequip's own neighbour list (one graph shared by all models)."""
        from beamheat.graph import GraphError, nequip_graph

        try:
            return nequip_graph(atoms, self.type_names, self.r_max, self.per_edge_type_cutoff, self.device)
        except GraphError as e:
            raise ModelFileError(str(e)) from None

    def evaluate(self, atoms) -> dict:
        g = self.graph(atoms)
        forces, energies = [], []
        for m in self.models:
            out = m(dict(g))
            forces.append(out["forces"].detach().cpu().numpy())
            energies.append(float(out["total_energy"].detach().cpu().numpy().reshape(())))
        forces = np.stack(forces)
        return {"forces": forces, "energies_eV": np.array(energies), "mean_forces": forces.mean(axis=0),
                "sigma_f": sigma_f(forces)}
