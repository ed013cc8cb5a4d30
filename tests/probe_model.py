"""A NequIP model that layer-wise pruning would get wrong, for the test of the plugin's first-call check.

`python tests/probe_model.py CHECKPOINT OUT K [scale|raise]` writes a TorchScript model (as `models.deploy` does,
with `interaction_blocks`) whose energy network has one extra module after its last interaction layer: it scales
the node features by 1.001 (or, with `raise`, throws) when the graph it is handed has fewer than K nodes. Run
whole, a rank's graph (every node within L hops of its own atoms) has at least K nodes and the module does
nothing, so the model is the checkpoint's.
Pruned, the last layers see only the nodes within one hop and the energy changes. It is a model that reads more of
the graph than its layers' reach, which the plugin must catch on its first call, and then run whole.
"""

from __future__ import annotations

import sys
from typing import Dict

import torch
from nequip.nn import GraphModuleMixin


class ShrinkProbe(GraphModuleMixin, torch.nn.Module):
    def __init__(self, irreps_in, k: int, throw: bool):
        super().__init__()
        self._init_irreps(irreps_in=irreps_in)
        self.k = k
        self.throw = throw

    def forward(self, data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        if data["pos"].shape[0] < self.k:
            if self.throw:
                raise RuntimeError("shrink_probe: handed a graph with fewer nodes than the whole one")
            data["node_features"] = data["node_features"] * 1.001
        return data


def write_probe_model(checkpoint: str, out: str, k: int, mode: str = "scale") -> None:
    from nequip.model.inference_models.torchscript import save_torchscript_model
    from nequip.model.saved_models.load_utils import load_saved_model
    from nequip.model.utils import _EAGER_MODEL_KEY
    from nequip.scripts._workflow_utils import set_workflow_state
    from nequip.train.lightning import _SOLE_MODEL_KEY
    from nequip.utils.global_state import set_global_state

    from models.deploy import _model_metadata

    set_workflow_state("compile")
    set_global_state(allow_tf32=False)
    model = load_saved_model(checkpoint, _EAGER_MODEL_KEY, _SOLE_MODEL_KEY)
    seq = model.model.func
    seq.insert("shrink_probe", ShrinkProbe(seq.layer1_convnet.irreps_out, k, mode == "raise"), after="layer1_convnet")
    save_torchscript_model(model, _model_metadata(model), out, torch.device("cpu"))


if __name__ == "__main__":
    write_probe_model(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:5])
