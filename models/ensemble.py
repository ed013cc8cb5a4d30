"""An ensemble of compiled NequIP models evaluated on one shared graph per frame (what pair_style nequip does).

    ens = Ensemble(["m1.nequip.pth", "m2.nequip.pth"])
    out = ens.evaluate(atoms)        # forces (M, N, 3), energies (M,), mean forces, sigma_f (N,)

Paper eq. 1-2: the ensemble mean force F_k = 1/M sum_j F_jk drives the dynamics; the per-atom spread
sigma_F,k = sqrt(1/M sum_j |F_jk - F_k|^2) measures disagreement; against reference (DFT) forces the error is
dF_k = |F_k - F_k^ref|.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def sigma_f(forces_per_model: np.ndarray) -> np.ndarray:
    """Eq. 2 for forces of shape (M, N, 3): per-atom sqrt(mean over models of |F_j - F_mean|^2)."""
    f = np.asarray(forces_per_model, float)
    dev = f - f.mean(axis=0, keepdims=True)
    return np.sqrt(np.mean(np.sum(dev**2, axis=-1), axis=0))


def force_error(mean_forces: np.ndarray, reference_forces: np.ndarray) -> np.ndarray:
    """Eq. 1: per-atom |F_mean - F_ref|."""
    return np.linalg.norm(np.asarray(mean_forces) - np.asarray(reference_forces), axis=-1)


class ModelFileError(ValueError):
    pass


class Ensemble:
    """Compiled models (TorchScript .nequip.pth, nequip >= 0.7) sharing type names and cutoffs."""

    def __init__(self, paths: Sequence[str | Path], device: str = "cpu"):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.models, self.paths = [], [Path(p) for p in paths]
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
        from nequip.data import from_ase
        from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

        missing = sorted(set(atoms.get_chemical_symbols()) - set(self.type_names))
        if missing:
            raise ModelFileError(f"elements {missing} are not among the models' types {self.type_names}")
        t = self.torch
        previous = t.get_default_dtype()
        t.set_default_dtype(t.float64)  # from_ase builds positions in the default dtype: float32 would round them
        try:
            d = from_ase(atoms)
            d = ChemicalSpeciesToAtomTypeMapper(self.type_names, {n: n for n in self.type_names})(d)
            d = NeighborListTransform(r_max=self.r_max, per_edge_type_cutoff=self.per_edge_type_cutoff,
                                      type_names=self.type_names if self.per_edge_type_cutoff else None)(d)
        finally:
            t.set_default_dtype(previous)
        g = {"pos": d["pos"].to(t.float64), "edge_index": d["edge_index"], "atom_types": d["atom_types"],
             "cell": d["cell"].to(t.float64).view(1, 3, 3), "edge_cell_shift": d["edge_cell_shift"].to(t.float64)}
        return {k: v.to(self.device) for k, v in g.items()}

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
