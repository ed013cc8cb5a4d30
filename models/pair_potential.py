"""A trainable Lennard-Jones term inside a NequIP model, for the particle-support interface.

    pair_potential:                                # under training_module.model (models/configs/tiny_lj.yaml)
      _target_: models.pair_potential.LennardJones
      lj_sigma: [[...]]; lj_epsilon: [[...]]       # per type pair (Å, eV), symmetric, model_type_names order
      lj_sigma_trainable: true; lj_epsilon_trainable: true

Per edge i->j within r_max, E_ij = 2 epsilon [(sigma/r)^12 - (sigma/r)^6] f_cut(r/r_max) on atom i (each pair
counted from both ends: 4 epsilon [...] per pair), f_cut nequip's polynomial envelope; added to the network's
per-atom energies before the sum, so forces, LAMMPS deployment and the ensemble see one model.

This is nequip.nn.pair_potential.LennardJones with two fixes needed to use it with per-pair parameters: nequip
0.19 divides the per-edge parameters (shape [E]) by the edge lengths (shape [E, 1]), which broadcasts to an
[E, E] matrix (measured: a 112 TB allocation on a 4-frame batch); and it sums onto num_nodes atoms where nequip's
ZBL sums onto the rows of the per-atom energies (the local-ghost atom case). Both are fixed here by working on flat
edge vectors, as ZBL does.
"""

from __future__ import annotations

import torch
from e3nn.util.jit import compile_mode
from nequip.data import AtomicDataDict
from nequip.nn.pair_potential import LennardJones as _NequipLennardJones
from nequip.nn.utils import scatter, with_edge_vectors_


@compile_mode("script")
class LennardJones(_NequipLennardJones):
    """Lennard-Jones per type pair (arguments as nequip.nn.pair_potential.LennardJones; lj_style "lj" only)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.lj_style != "lj":
            raise ValueError(f"lj_style {self.lj_style!r}: only 'lj' is supported here")
        # epsilon is trained as its logarithm, on the pairs that start above 0 (the others stay exactly 0): nequip's
        # clamp at 0 with Adam's ~lr-sized first steps (0.01 against a 0.003 eV epsilon) killed the term for good
        # in the first epoch (measured: trained epsilon -0.057 and -0.031 eV, so the term gave nothing)
        eps0 = self.epsilon.detach().clone()
        trainable = bool(self.epsilon.requires_grad)
        del self.epsilon
        mask = eps0 > 0
        self.register_buffer("epsilon_mask", mask.to(eps0.dtype))
        self.log_epsilon = torch.nn.Parameter(torch.log(torch.where(mask, eps0, torch.ones_like(eps0))),
                                              requires_grad=trainable)
        self.register_buffer("epsilon", torch.Tensor())  # only for the type annotation the base class declares

    def pair_epsilon(self) -> torch.Tensor:
        """epsilon per type pair (eV; upper triangle, model_type_names order)."""
        return torch.exp(self.log_epsilon) * self.epsilon_mask

    def __repr__(self) -> str:
        return (f"LennardJones(sigma={self.sigma.data.tolist()}, epsilon={self.pair_epsilon().data.tolist()}, "
                f"exponent={self.exponent})")

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data = with_edge_vectors_(data, with_lengths=True)
        edge_index = data[AtomicDataDict.EDGE_INDEX_KEY]
        r = data[AtomicDataDict.EDGE_LENGTH_KEY].view(-1)
        atom_types = data[AtomicDataDict.ATOM_TYPE_KEY].view(-1)
        t1 = torch.index_select(atom_types, 0, edge_index[0])
        t2 = torch.index_select(atom_types, 0, edge_index[1])
        sigma = self._param(self.sigma, t1, t2)
        delta = self._param(self.delta, t1, t2)
        epsilon = self._param(self.pair_epsilon(), t1, t2)
        x = torch.pow(sigma / (r - delta), self.exponent)
        eng = (2.0 * epsilon) * (x * x - x)
        cut = self.cutoff(data[AtomicDataDict.NORM_LENGTH_KEY]).view(-1)
        eng = (eng.to(self.model_dtype) * cut.to(self.model_dtype)).unsqueeze(-1)
        if self.per_atom_energy_field in data:
            num_nodes = data[self.per_atom_energy_field].size(0)
        else:
            num_nodes = AtomicDataDict.num_nodes(data)
        atomic = scatter(eng, edge_index[0], dim=0, dim_size=num_nodes)
        if self.per_atom_energy_field in data:
            atomic = atomic + data[self.per_atom_energy_field]
        data[self.per_atom_energy_field] = atomic
        return data
