"""`graph_build device` (the graph kept on the model's device between neighbour-list rebuilds, here the CPU) gives
the host-built graph's trajectory on one rank: the same edges in the same order, so the same forces, per-atom
energies and virial, over MD with many rebuilds, atoms crossing periodic sides and a box that changes every step,
for a model with one cutoff and one with per-edge-type cutoffs. The log says which route runs, and a bad value is
one ERROR line."""

from __future__ import annotations

import re

import pytest

from graph_build_checks import (assert_same_run, crossed_periodic_sides, device_rebuilds, md_input, run_md,
                                triclinic_cupdau, write_system)
from helpers import auto_device, error_line, header, run_lmp


@pytest.mark.parametrize("model", ["model_ts", "model_pec"])
def test_device_graph_equals_host_graph_over_md(tmp_path, request, model):
    model = request.getfixturevalue(model)
    runs = {}
    for route in ("host", "device"):
        d = tmp_path / route
        d.mkdir()
        write_system(d, triclinic_cupdau())
        runs[route] = run_md(d, md_input("p p p", f"nequip graph_build {route}", model, 60, deform=True))
    host, dev = runs["host"], runs["device"]
    assert "pair nequip: graph built on the host every step (graph_build host)" in host["log"]
    assert re.search(rf"pair nequip: graph on the model's device \({auto_device()}\) \(graph_build device\): edges "
                     r"within cutoff \+ skin 0\.5 A copied from the neighbour list at each rebuild", dev["log"]), \
        dev["log"][-3000:]
    # the timing line keeps the graph's time apart from the model's, on both routes
    for r in runs.values():
        assert re.search(r"pair nequip: 61 calls, model \S+ s \(\S+ ms/call\), graph \S+ s \(\S+ ms/call\), \d+ "
                         r"edges/call; graph ", r["log"]), r["log"][-2000:]
    rebuilds = device_rebuilds(dev["log"])
    print(f"{model.name}: {dev['builds']} neighbour-list builds, device graph copied {rebuilds} times, "
          f"{crossed_periodic_sides(dev)} atoms crossed a periodic side")
    assert host["builds"] == dev["builds"] >= 4 and rebuilds >= 4
    assert crossed_periodic_sides(dev) > 0 and crossed_periodic_sides(host) == crossed_periodic_sides(dev)
    assert_same_run(dev, host, f"{model.name} 1 rank device vs host")


def test_graph_build_default_is_the_device_on_a_gpu_and_the_host_on_the_cpu(au_bulk, model_ts):
    proc = run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_ts} Au\nrun 0\n", au_bulk)
    assert proc.returncode == 0, proc.stdout[-2000:]
    if auto_device().startswith("cuda"):
        assert re.search(r"pair nequip: graph on the model's device \(\S+\) \(graph_build auto\)", proc.stdout)
        assert re.search(r"graph on the device, edges copied at 1 neighbour-list rebuild\(s\)", proc.stdout)
    else:
        assert ("pair nequip: graph built on the host every step (graph_build auto: the models run on the CPU, "
                "where the host's graph is faster)") in proc.stdout


def test_graph_build_bad_value_is_one_error_line(au_bulk):
    err = error_line(run_lmp(header() + "pair_style nequip graph_build gpu\n", au_bulk))
    assert "graph_build must be 'auto', 'host' or 'device', not 'gpu'" in err
