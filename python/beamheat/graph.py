"""The nequip model input for one frame, built in one place for every Python caller (models.ensemble, the
benchmarks): nequip's own neighbour list, float64 positions and cell, the compiled-model interface of nequip >= 0.7
(pos (N,3), edge_index (2,E) full both-direction list, atom_types (N), cell (1,3,3), edge_cell_shift (E,3)).

    from beamheat.graph import nequip_graph
    g = nequip_graph(atoms, ["Au", "B", "N"], r_max=5.0)
    out = model(dict(g))
"""

from __future__ import annotations

from .cli import BeamheatError


class GraphError(BeamheatError):
    """A frame the model cannot take (elements outside its types)."""


def nequip_graph(atoms, type_names: list[str], r_max: float, per_edge_type_cutoff: dict | None = None,
                 device: str = "cpu") -> dict:
    import torch
    from nequip.data import from_ase
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    missing = sorted(set(atoms.get_chemical_symbols()) - set(type_names))
    if missing:
        raise GraphError(f"elements {missing} are not among the models' types {list(type_names)}")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # from_ase builds positions in the default dtype: float32 would round them
    try:
        d = from_ase(atoms)
        d = ChemicalSpeciesToAtomTypeMapper(list(type_names), {n: n for n in type_names})(d)
        d = NeighborListTransform(r_max=r_max, per_edge_type_cutoff=per_edge_type_cutoff,
                                  type_names=list(type_names) if per_edge_type_cutoff else None)(d)
    finally:
        torch.set_default_dtype(previous)
    g = {"pos": d["pos"].to(torch.float64), "edge_index": d["edge_index"], "atom_types": d["atom_types"],
         "cell": d["cell"].to(torch.float64).view(1, 3, 3),
         "edge_cell_shift": d["edge_cell_shift"].to(torch.float64)}
    return {k: v.to(device) for k, v in g.items()}
