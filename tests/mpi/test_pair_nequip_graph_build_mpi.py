"""`graph_build device` on 2 ranks gives the one-rank trajectory, for both multi-rank routes.

An Au particle on a CuPd slab (`p p f`, split along x), hot, neighbour skin 0.5 A: many neighbour-list rebuilds,
atoms crossing the periodic sides and moving between ranks. Ghost graphs (`graph ghosts`) kept on the device hold,
between rebuilds, every node reached through pairs within r_max + skin: more nodes and edges than the host's graph
of the step, which must not change the own atoms' energies and forces. Feature exchange (`graph exchange`) keeps
each rank's own edges on the device, ghosts within r_max + skin. Each is compared with the host-built graph on the
same ranks and with one rank, frame by frame.
"""

from __future__ import annotations

import numpy as np
import pytest

from graph_build_checks import assert_same_run, crossed_periodic_sides, device_rebuilds, md_input, run_md, write_system
from helpers import auto_device, rattled
from models.demo_data import au_cluster_on_slab


def slab_ppf():
    a = rattled(au_cluster_on_slab(repeat=(4, 4, 3), octahedron_length=3), seed=11)
    a.cell[2, 2] = 40.0
    return a


@pytest.mark.parametrize("graph", ["ghosts", "exchange"])
def test_device_graph_follows_the_one_rank_trajectory_on_2_ranks(tmp_path, model_ts, graph):
    runs = {}
    for name, n, pair in [("1 rank host", 1, "nequip graph_build host"),
                          ("2 ranks host", 2, f"nequip graph {graph} graph_build host"),
                          ("2 ranks device", 2, f"nequip graph {graph} graph_build device")]:
        d = tmp_path / name.replace(" ", "_")
        d.mkdir()
        write_system(d, slab_ppf())
        runs[name] = run_md(d, md_input("p p f", pair, model_ts, 60, processors="processors 2 1 1" if n > 1 else ""),
                            nprocs=n)
    dev = runs["2 ranks device"]
    assert f"graph on the model's device ({auto_device()}) (graph_build device)" in dev["log"]
    rebuilds = device_rebuilds(dev["log"])
    crossed = crossed_periodic_sides(dev, axes=(0, 1))
    print(f"graph {graph}: {dev['builds']} neighbour-list builds, device graph copied {rebuilds} times, {crossed} "
          f"atoms crossed a periodic side")
    assert dev["builds"] >= 3 and rebuilds >= 4 and crossed > 0
    assert_same_run(dev, runs["2 ranks host"], f"graph {graph}: 2 ranks device vs host")
    assert_same_run(dev, runs["1 rank host"], f"graph {graph}: 2 ranks device vs 1 rank", rel_tol=1e-10)
    assert np.abs(dev["thermo"][:, 1] - dev["thermo"][0, 1]).max() > 1e-3  # the energy moved: a real trajectory
