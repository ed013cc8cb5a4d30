"""Build a model file with the nequip <= 0.6 deployed-model interface, for testing the plugin's legacy path.

The paper's own models were deployed with nequip 0.5/0.6 (`nequip-deploy build`). Installing nequip 0.6 needs a
torch < 2.1, which is not installable here without pulling GBs of CUDA wheels, so the fixture wraps a real trained
nequip 0.19 model in a TorchScript module that has exactly the legacy interface:

- extra files `nequip_version` (0.6.1), `n_species`, `r_max`, `type_names`, `model_dtype` (float32),
  `allow_tf32`, `_jit_bailout_depth`, `_jit_fusion_strategy`, `config` (no `num_types`: that key is >= 0.7);
- input dict `pos` (N,3) float32, `edge_index` (2,E) int64, `atom_types` (N) int64, `cell` (3,3) float32,
  `edge_cell_shift` (E,3) float32;
- outputs `total_energy` (1,1), `atomic_energy` (N,1), `forces` (N,3), all float32; no virial (a legacy model
  trained without stress), so the plugin must warn that the pressure excludes it.

Its physics equals the wrapped model up to float32 rounding of inputs and outputs.
"""

from __future__ import annotations

from typing import Dict

import torch


class _LegacyInterface(torch.nn.Module):
    def __init__(self, model: torch.jit.ScriptModule):
        super().__init__()
        self.model = model

    def forward(self, data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        if data["pos"].dtype != torch.float32 or data["cell"].dim() != 2:
            raise RuntimeError("legacy interface: expected float32 pos and a (3,3) cell")
        inp: Dict[str, torch.Tensor] = {
            "pos": data["pos"].to(torch.float64),
            "edge_index": data["edge_index"],
            "atom_types": data["atom_types"],
            "cell": data["cell"].to(torch.float64).view(1, 3, 3),
            "edge_cell_shift": data["edge_cell_shift"].to(torch.float64),
        }
        out = self.model(inp)
        return {
            "total_energy": out["total_energy"].to(torch.float32),
            "atomic_energy": out["atomic_energy"].to(torch.float32),
            "forces": out["forces"].to(torch.float32),
        }


def write_legacy_model(torchscript_path: str, out_path: str) -> str:
    """Wrap a >= 0.7 TorchScript `.nequip.pth` into a legacy-interface `.pth` at `out_path`."""
    extra = {"r_max": "", "type_names": "", "num_types": ""}
    inner = torch.jit.load(torchscript_path, _extra_files=extra)
    wrapped = torch.jit.script(_LegacyInterface(inner))
    type_names = extra["type_names"].decode() if isinstance(extra["type_names"], bytes) else extra["type_names"]
    r_max = extra["r_max"].decode() if isinstance(extra["r_max"], bytes) else extra["r_max"]
    metadata = {
        "nequip_version": "0.6.1",
        "torch_version": "1.13.1",
        "e3nn_version": "0.5.1",
        "n_species": str(len(type_names.split())),
        "r_max": r_max,
        "type_names": type_names,
        "model_dtype": "float32",
        "allow_tf32": "0",
        "_jit_bailout_depth": "2",
        "_jit_fusion_strategy": "[('DYNAMIC', 3)]",
        "config": "(legacy-interface test fixture built by beamheat tests/legacy_model.py)",
    }
    torch.jit.save(wrapped, out_path, _extra_files={k: v.encode() for k, v in metadata.items()})
    return out_path
