"""`mpirun -np N lmp` with pair_style nequip gives the one-rank physics.

Two routes. `graph exchange` (the default on several ranks): each rank's graph holds its own atoms' edges, with
ghosts out to r_max; before each later layer the ghosts' node features come from their owners, and in the
backward pass the gradients with respect to them go back. `graph ghosts`: ghosts out to L*r_max, nothing
exchanged but the forces. Either way each rank counts only its own atoms' energies and sends the forces on ghosts
back to their owners. Checked against one rank on 2 and 4 ranks, float64 model:
per-atom forces to 1e-10 eV/A, total and per-atom energies and the virial to round-off, for an Au particle on a
slab (`p p f`, vacuum above, so some subdomains hold no atom at all) and a periodic triclinic cell; 100 NVE steps
stay together; ensembles (sigma_F, compute pair, fix halt with fix nequip/frames' frames gathered into one file)
work on many ranks; heat_transfer.in and steady_state.in, started from one state, follow the 1-rank trajectory on
2 ranks.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read, write

from beamheat.lammps_command import lmp_command
from beamheat.markers import HALT_RE, HALT_TEXT
from helpers import TESTS, TYPE_NAMES, auto_device, rattled, run_lmp, thermo_rows
from models.demo_data import au_cluster_on_slab

F_TOL = 1e-10   # eV/A, against one rank, float64 model


def slab_ppf():
    """Au octahedron on a CuPd slab, 40 A box along z (non-periodic): the upper subdomains are vacuum."""
    a = rattled(au_cluster_on_slab(repeat=(4, 4, 3), octahedron_length=3), seed=11)
    a.cell[2, 2] = 40.0
    return a


def triclinic_bulk():
    a = bulk("Cu", "fcc", a=3.7).repeat((4, 4, 4))  # primitive fcc cell: 60 degree angles
    s = np.array(a.get_chemical_symbols())
    s[::3] = "Pd"
    s[1::5] = "Au"
    a.set_chemical_symbols(s)
    return rattled(a, seed=12)


SYSTEMS = {"slab_ppf": (slab_ppf, "p p f"), "triclinic": (triclinic_bulk, "p p p")}


def write_system(folder: Path, name: str) -> str:
    atoms, boundary = SYSTEMS[name][0](), SYSTEMS[name][1]
    write(folder / "sys.data", atoms, format="lammps-data", specorder=TYPE_NAMES, masses=True, atom_style="atomic")
    return boundary


def system_lines(boundary: str, processors: str = "") -> str:
    """The LAMMPS lines that read write_system's sys.data (a `processors` line goes before read_data)."""
    return f"units metal\natom_style atomic\nboundary {boundary}\n{processors}\nread_data sys.data"


def single_point_input(boundary, pair, extra="", processors=""):
    return f"""{system_lines(boundary, processors)}
pair_style {pair}
compute pea all pe/atom
compute vir all pressure NULL virial
thermo_style custom step pe c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6]
thermo_modify format float %.17g
{extra}
dump d all custom 1 forces.dump id fx fy fz c_pea
dump_modify d sort id format float %.17g
run 0
"""


def dump_last(path: Path, ncol: int) -> np.ndarray:
    frames = path.read_text().split("ITEM: TIMESTEP")[1:]
    lines = frames[-1].strip().splitlines()[8:]
    return np.array([[float(v) for v in ln.split()[:ncol]] for ln in lines])


def run_on(tmp_path: Path, nprocs: int, text: str, name: str):
    d = tmp_path / f"np{nprocs}_{name}"
    d.mkdir()
    (d / "sys.data").write_bytes((tmp_path / "sys.data").read_bytes())
    proc = run_lmp(text, d, nprocs=nprocs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return d, proc


LOG_GRAPH = {
    "exchange": r"pair nequip: \d MPI ranks: each rank's graph = own atoms' edges, ghosts within r_max 4 A; node "
                r"features \(up to 32 values per atom\) exchanged before each of layers 1\.\.1 and their gradients "
                r"returned; ghost cutoff 10 A, L x r_max \+ skin for a first check against the ghost graph",
    "ghosts": r"pair nequip: \d MPI ranks: each rank's graph = own atoms \+ ghosts within 2 interaction blocks x "
              r"r_max 4 A = 8 A; ghost cutoff 10 A \(L from the model file's metadata\)"}


def single_point(d: Path, proc) -> dict:
    """The last thermo row (step pe virial[6]) and the force dump (id fx fy fz e_i) of a single_point_input run."""
    return {"thermo": thermo_rows(proc.stdout)[-1], "dump": dump_last(d / "forces.dump", 5)}


def assert_one_rank_physics(got: dict, ref: dict, label: str) -> None:
    """Several ranks give the one-rank single point: forces to F_TOL (and they are not all ~0), per-atom and total
    energies, and the virial to round-off."""
    fd = np.abs(got["dump"][:, 1:4] - ref["dump"][:, 1:4]).max()
    print(f"{label}: max |dF| {fd:.3g} eV/A, dE {got['thermo'][1] - ref['thermo'][1]:.3g} eV, "
          f"max |d e_i| {np.abs(got['dump'][:, 4] - ref['dump'][:, 4]).max():.3g} eV, max |d virial| "
          f"{np.abs(got['thermo'][2:] - ref['thermo'][2:]).max():.3g} bar")
    assert fd <= F_TOL, f"{label}: max force difference {fd:.3g} eV/A"
    assert np.abs(ref["dump"][:, 1:4]).max() > 0.05
    np.testing.assert_allclose(got["dump"][:, 0], ref["dump"][:, 0])  # same atom IDs
    np.testing.assert_allclose(got["dump"][:, 4], ref["dump"][:, 4], rtol=0, atol=1e-10)  # per-atom energies
    assert got["thermo"][1] == pytest.approx(ref["thermo"][1], abs=1e-9)  # total energy
    scale = np.abs(ref["thermo"][2:]).max()
    np.testing.assert_allclose(got["thermo"][2:], ref["thermo"][2:], rtol=0, atol=1e-10 * scale)  # virial


def against_one_rank(tmp_path: Path, text: str, name: str, ranks=(2, 4)):
    """Run a single_point_input on 1 rank, then on each of `ranks`: yields (ranks, process, single point, the
    1-rank single point) for the latter."""
    d, proc = run_on(tmp_path, 1, text, f"{name}1")
    ref = single_point(d, proc)
    for n in ranks:
        d, proc = run_on(tmp_path, n, text, f"{name}{n}")
        yield n, proc, single_point(d, proc), ref


@pytest.mark.parametrize("system", SYSTEMS)
def test_single_point_exact_on_1_2_4_ranks(tmp_path, system, model_ts):
    boundary = write_system(tmp_path, system)
    ref = None
    runs = [(1, ""), (2, ""), (4, "")] + ([(4, "processors 1 1 4")] if boundary == "p p f" else [(2, "newton off")])
    runs = [(n, p, "exchange") for n, p in runs] + [(n, p, "ghosts") for n, p in runs[1:]]
    for n, procs, graph in runs:
        pair = (f"nequip{' graph ghosts' if graph == 'ghosts' else ''}\n"
                f"pair_coeff * * {model_ts} {' '.join(TYPE_NAMES)}")
        d, proc = run_on(tmp_path, n, single_point_input(boundary, pair, processors=procs),
                         f"{n}{procs[-1:]}{graph if n > 1 else ''}")
        log = proc.stdout
        got = single_point(d, proc)
        if n == 1:
            assert "graph of own atoms" not in log  # one rank: the periodic-image graph
            ref = got
            continue
        assert re.search(LOG_GRAPH[graph], log), log[-3000:]
        assert "redundant work" in log
        if graph == "exchange":
            assert re.search(r"layer-wise feature exchange checked on its first call against the ghost graph of 2 "
                             r"hops: forces and per-atom energies agree to ", log), log[-3000:]
        assert_one_rank_physics(got, ref, f"{system} {n} ranks {procs} {graph}")
        if procs == "processors 1 1 4":  # 1 x 1 x 4 along z (0-40 A) with vacuum above the particle: the top rank holds no atom
            assert "1 by 1 by 4 MPI processor grid" in log
            assert SYSTEMS[system][0]().positions[:, 2].max() < 30.0


def test_nve_100_steps_agree_on_1_and_2_ranks(tmp_path, model_ts):
    boundary = write_system(tmp_path, "slab_ppf")
    text = f"""{system_lines(boundary)}
pair_style nequip
pair_coeff * * {model_ts} {' '.join(TYPE_NAMES)}
velocity all create 600 7 mom yes rot yes loop geom
fix nve all nve
timestep 0.002
thermo_style custom step pe ke etotal press
thermo_modify format float %.15g
thermo 20
dump d all custom 100 traj.dump id x y z fx fy fz
dump_modify d sort id format float %.17g
run 100
"""
    out = {}
    for n in (1, 2):
        d, proc = run_on(tmp_path, n, text, "nve")
        out[n] = (thermo_rows(proc.stdout), dump_last(d / "traj.dump", 7))
    (t1, x1), (t2, x2) = out[1], out[2]
    assert t1.shape == t2.shape and t1.shape[0] == 6
    print(f"NVE 100 steps, 2 vs 1 rank: max |dx| {np.abs(x2[:, 1:4] - x1[:, 1:4]).max():.3g} A, max |dF| "
          f"{np.abs(x2[:, 4:7] - x1[:, 4:7]).max():.3g} eV/A, max |d etotal| {np.abs(t2[:, 3] - t1[:, 3]).max():.3g} eV")
    np.testing.assert_allclose(t2[:, 1:4], t1[:, 1:4], rtol=0, atol=1e-7)  # energies after 100 steps
    assert np.abs(x2[:, 1:4] - x1[:, 1:4]).max() < 1e-9  # positions
    assert np.abs(x2[:, 4:7] - x1[:, 4:7]).max() < 1e-7  # forces
    assert np.ptp(t1[:, 3]) < 5e-3  # and the run conserves energy


def test_graph_ghosts_on_one_rank_equals_images(tmp_path, model_ts):
    """The ghost graph keeps one node per atom ID: on one rank every ghost is a periodic image of an own atom, so
    `graph ghosts` builds the periodic-image graph (own atoms only, cell-shifted edges), nothing redundant, and
    gives its forces, energies and virial. The virial's cell-shift part (-cell^T dE/dcell) is checked here."""
    boundary = write_system(tmp_path, "triclinic")
    pair = f"nequip graph ghosts\npair_coeff * * {model_ts} {' '.join(TYPE_NAMES)}"
    d, proc = run_on(tmp_path, 1, single_point_input(boundary, pair), "ghosts")
    d0, proc0 = run_on(tmp_path, 1, single_point_input(boundary, pair.replace(" graph ghosts", "")), "images")
    dx, procx = run_on(tmp_path, 1, single_point_input(boundary, pair.replace("ghosts", "exchange")), "exchange")
    n = len(triclinic_bulk())
    assert re.search(rf"ghost graphs over 1 rank\(s\): {n} nodes and \d+ edges per step for {n} atoms; redundant work "
                     r"0\.0% of nodes, 0\.0% of edges", proc.stdout), proc.stdout[-2000:]
    a, b = dump_last(d / "forces.dump", 5), dump_last(d0 / "forces.dump", 5)
    assert np.abs(a[:, 1:4] - b[:, 1:4]).max() <= F_TOL
    ta, tb = thermo_rows(proc.stdout)[-1], thermo_rows(proc0.stdout)[-1]
    assert np.abs(tb[2:]).max() > 1e3  # a virial worth checking (bar)
    np.testing.assert_allclose(ta, tb, rtol=1e-11, atol=1e-9)
    # graph exchange on one rank: the same graph, nothing to exchange (every neighbour is an own atom's image)
    assert "layer-wise feature exchange on" in procx.stdout, procx.stdout[-2000:]
    assert np.abs(dump_last(dx / "forces.dump", 5)[:, 1:4] - b[:, 1:4]).max() <= F_TOL
    np.testing.assert_allclose(thermo_rows(procx.stdout)[-1], tb, rtol=1e-11, atol=1e-9)


def slab_hops_2_ranks_along_x(r_max=4.0, hops=2):
    """slab_ppf as `processors 2 1 1` splits it (x cut at L/2), and per rank, from ASE's neighbour list (one entry
    per image within r_max): "nodes", the atoms within 0..hops hops of its own atoms, and "edges", the edges
    centred on the atoms first reached at hop 0..hops-1 (a breadth-first search, as the plugin's ghost graph)."""
    from ase.neighborlist import neighbor_list

    a = slab_ppf()
    a.pbc = (True, True, False)
    rank = (a.get_scaled_positions(wrap=True)[:, 0] >= 0.5).astype(int)
    i, j = neighbor_list("ij", a, r_max)
    neigh = [j[i == k] for k in range(len(a))]
    out = []
    for r in (0, 1):
        seen, frontier = set(np.flatnonzero(rank == r)), list(np.flatnonzero(rank == r))
        h = {"nodes": [len(seen)], "edges": []}
        for _ in range(hops):
            h["edges"].append(sum(len(neigh[c]) for c in frontier))
            frontier = sorted({int(n) for c in frontier for n in neigh[c]} - seen)
            seen |= set(frontier)
            h["nodes"].append(len(seen))
        out.append(h)
    return a, out


def test_ghost_graph_has_one_node_per_atom_id_on_2_ranks(tmp_path, model_ts):
    """Each rank's graph holds its own atoms plus, once each, the other rank's atoms within L = 2 hops of r_max =
    4 A; the images of its own atoms across the periodic sides are those atoms (cell-shifted edges), not nodes.
    Node and edge counts from the log against an ASE neighbour list of the periodic system (the forces and virial
    of such graphs are checked in test_single_point_exact_on_1_2_4_ranks). Layer-wise pruning: layer 0 sees every
    edge, layer 1 only the edges out of own atoms."""
    boundary = write_system(tmp_path, "slab_ppf")
    pair = f"nequip graph ghosts\npair_coeff * * {model_ts} {' '.join(TYPE_NAMES)}"
    d, proc = run_on(tmp_path, 2, single_point_input(boundary, pair, processors="processors 2 1 1"), "x")
    m = re.search(r"ghost graphs over 2 rank\(s\): (\d+) nodes and (\d+) edges per step for (\d+) atoms", proc.stdout)
    assert m, proc.stdout[-2000:]
    a, hops = slab_hops_2_ranks_along_x()
    nodes = sum(h["nodes"][2] for h in hops)
    edges = sum(sum(h["edges"]) for h in hops)
    own_edges = sum(h["edges"][0] for h in hops)
    print(f"2 ranks along x: {m.group(1)} nodes, {m.group(2)} edges (expected {nodes}, {edges}) for {len(a)} atoms")
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (nodes, edges, len(a))
    hops = re.search(r"edges per step centred within 0\.\.1 hops of own atoms: (\d+), (\d+);", proc.stdout)
    assert hops and (int(hops.group(1)), int(hops.group(2))) == (own_edges, edges), proc.stdout[-2000:]
    pruned = re.search(r"layer-wise pruning on: .*; (\d+) edges per step over its layers, ([\d.]+)% redundant",
                       proc.stdout)
    assert pruned, proc.stdout[-2000:]
    layer_work = edges + own_edges  # layer 0: every edge; layer 1: only the edges out of own atoms
    print(f"edges the 2 layers saw: {pruned.group(1)} (expected {layer_work}), {pruned.group(2)} % redundant")
    assert int(pruned.group(1)) == layer_work
    assert float(pruned.group(2)) == pytest.approx(100 * (1 - 2 * own_edges / layer_work), abs=0.051)


def test_exchange_graph_holds_own_edges_and_one_hop_on_2_ranks(tmp_path, model_ts):
    """With feature exchange (the default), each rank's graph is its own atoms plus, once each, the other rank's
    atoms within one hop of r_max = 4 A, and only the edges out of its own atoms: both layers see exactly the
    one-rank edge set between them, nothing twice. Counts from the log against the ASE neighbour list, for the
    graph built on the host at every step."""
    boundary = write_system(tmp_path, "slab_ppf")
    pair = f"nequip graph_build host\npair_coeff * * {model_ts} {' '.join(TYPE_NAMES)}"
    d, proc = run_on(tmp_path, 2, single_point_input(boundary, pair, processors="processors 2 1 1"), "x")
    m = re.search(r"ghost graphs over 2 rank\(s\): (\d+) nodes and (\d+) edges per step for (\d+) atoms; redundant "
                  r"work ([\d.]+)% of nodes, ([\d.]+)% of edges \(ghost shell 4 A\)", proc.stdout)
    assert m, proc.stdout[-2000:]
    a, hops = slab_hops_2_ranks_along_x()
    nodes = sum(h["nodes"][1] for h in hops)
    own_edges = sum(h["edges"][0] for h in hops)
    print(f"exchange, 2 ranks along x: {m.group(1)} nodes, {m.group(2)} edges (expected {nodes}, {own_edges}) for "
          f"{len(a)} atoms; redundant {m.group(4)} % of nodes, {m.group(5)} % of edges")
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (nodes, own_edges, len(a))
    assert float(m.group(5)) == 0.0 and float(m.group(4)) == pytest.approx(100 * (1 - len(a) / nodes), abs=0.051)
    work = re.search(r"layer-wise feature exchange on: each of the model's 2 layers sees the own atoms' edges only "
                     r"\((\d+) edges per step over its layers, 0\.0% redundant\)", proc.stdout)
    assert work and int(work.group(1)) == 2 * own_edges, proc.stdout[-2000:]


def hop_edges_of_device_graph(r_max=4.0, skin=2.0, hops=2):
    """slab_ppf split as `processors 2 1 1` does it, per rank: the edges (within r_max) of the graph kept on the
    device, whose nodes are grown breadth-first through the pairs within r_max + skin: those centred on the nodes
    first reached at 0..hops-1 such hops ("edges"), and the nodes within 1 hop ("nodes1")."""
    from ase.neighborlist import neighbor_list

    a, wide = slab_hops_2_ranks_along_x(r_max + skin, hops)
    i, j = neighbor_list("ij", a, r_max + skin)
    reach = [j[i == k] for k in range(len(a))]
    i, j = neighbor_list("ij", a, r_max)
    edges_of = np.bincount(i, minlength=len(a))
    rank = (a.get_scaled_positions(wrap=True)[:, 0] >= 0.5).astype(int)
    out = []
    for r in (0, 1):
        seen, frontier = set(np.flatnonzero(rank == r)), list(np.flatnonzero(rank == r))
        h = {"edges": [], "nodes1": None}
        for d in range(hops):
            h["edges"].append(int(sum(edges_of[c] for c in frontier)))
            frontier = sorted({int(n) for c in frontier for n in reach[c]} - seen)
            seen |= set(frontier)
            if d == 0:
                h["nodes1"] = len(seen)
        out.append(h)
    return out


@pytest.mark.parametrize("graph", ["ghosts", "exchange"])
def test_device_graph_counts_on_2_ranks(tmp_path, model_ts, graph):
    """The graph kept on the device holds, per rank, the nodes reached at the neighbour-list build through pairs
    within r_max + skin (2 A), and each step the edges within r_max of the nodes it centres edges on: ghost graphs
    (2 hops) the edges of the nodes first reached within 1 such hop (more than the host's, which stops at r_max),
    feature exchange the own atoms' edges only (the host's count), with the ghosts within r_max + skin as nodes.
    Counts from the log against ASE's neighbour lists (the host's 2-hop ghost graph of this small slab already
    holds nearly every atom, so there the extra work shows in the edges); forces and per-atom energies of the own atoms equal the host graph's (the extra nodes and edges do not
    reach them)."""
    boundary = write_system(tmp_path, "slab_ppf")
    got = {}
    for route in ("host", "device"):
        pair = f"nequip graph {graph} graph_build {route}\npair_coeff * * {model_ts} {' '.join(TYPE_NAMES)}"
        d, proc = run_on(tmp_path, 2, single_point_input(boundary, pair, processors="processors 2 1 1"),
                         f"{graph}{route}")
        m = re.search(r"ghost graphs over 2 rank\(s\): (\d+) nodes and (\d+) edges per step for (\d+) atoms",
                      proc.stdout)
        assert m, proc.stdout[-2000:]
        got[route] = {"nodes": int(m.group(1)), "edges": int(m.group(2)), "log": proc.stdout,
                      **single_point(d, proc)}
    assert f"graph on the model's device ({auto_device()}) (graph_build device)" in got["device"]["log"]
    dev = hop_edges_of_device_graph()
    a, host_hops = slab_hops_2_ranks_along_x()
    own_edges = sum(h["edges"][0] for h in host_hops)
    if graph == "ghosts":
        edges = sum(sum(h["edges"]) for h in dev)
        hops = re.search(r"edges per step centred within 0\.\.1 hops of own atoms: (\d+), (\d+);",
                         got["device"]["log"])
        assert hops and (int(hops.group(1)), int(hops.group(2))) == (own_edges, edges), got["device"]["log"][-2000:]
    else:
        edges = own_edges
        assert got["device"]["nodes"] == sum(h["nodes1"] for h in dev)
    print(f"graph {graph}, 2 ranks along x: host {got['host']['nodes']} nodes / {got['host']['edges']} edges, "
          f"device {got['device']['nodes']} nodes / {got['device']['edges']} edges (expected edges {edges})")
    assert got["device"]["edges"] == edges
    assert got["device"]["nodes"] >= got["host"]["nodes"]
    assert_one_rank_physics(got["device"], got["host"], f"graph {graph} 2 ranks device vs host")


@pytest.mark.parametrize("mode,why", [
    ("scale", r"pruned layers changed the forces by ([0-9.eE+-]+) eV/A on a first check"),
    ("raise", r"pruned layers failed on a first check: (.*shrink_probe.*)")])
def test_pruning_turns_itself_off_for_a_model_that_reads_the_whole_graph(tmp_path, checkpoint, mode, why):
    """The first call of every model also runs the whole model and compares forces. tests/probe_model.py adds to
    the tiny model a module after its last layer that changes the energy when its graph has fewer than K nodes,
    with K between the nodes the pruned last layer sees (within 1 hop) and the nodes of the whole graph (within
    2 hops) on each rank: whole it is the tiny model, pruned it is not (or, `raise`, it throws). The plugin must
    notice, say so in the log, and run the whole model from then on: 2 ranks then give the 1-rank forces and
    energies (1e-10 eV/A) at every call, not only at the checked one.
    The same model defeats feature exchange (its graph, within 1 hop, has fewer than K nodes too): `scale` passes
    the exchange probe at load (a chain of 8 atoms, under K either way) but not the first call's check against the
    ghost graph, which turns exchange off with a warning; `raise` fails the probe, so exchange is never on.
    The graph is the host's (graph_build host): the device's is grown at the neighbour-list build through the pairs
    within r_max + skin, whose node counts K is not chosen between."""
    boundary = write_system(tmp_path, "slab_ppf")
    a, hops = slab_hops_2_ranks_along_x()
    counts = [h["nodes"] for h in hops]
    k = min(c[2] for c in counts)
    assert max(c[1] for c in counts) < k <= len(a), counts
    model = tmp_path / "probe.nequip.pth"
    subprocess.run([sys.executable, str(TESTS / "probe_model.py"), str(checkpoint), str(model),
                    str(k), mode], check=True, capture_output=True)
    pair = f"nequip graph_build host\npair_coeff * * {model} {' '.join(TYPE_NAMES)}"
    got = {}
    for n in (1, 2):
        text = single_point_input(boundary, pair, processors="processors 2 1 1" if n == 2 else "") + "run 2\n"
        d, proc = run_on(tmp_path, n, text, "probe")
        got[n] = {"thermo": thermo_rows(proc.stdout), "dump": dump_last(d / "forces.dump", 5), "log": proc.stdout}
    log = got[2]["log"]
    m = re.search("layer-wise pruning off: " + why, log)
    assert m, log[-3000:]
    print(f"probe model ({mode}): nodes within 0/1/2 hops per rank {counts}, K = {k}; log: {m.group(0)}")
    if mode == "scale":
        assert float(m.group(1)) > 1e-6
        ex = re.search(r"WARNING: pair nequip: layer-wise feature exchange off: exchanged features changed the forces "
                       r"or per-atom energies by ([0-9.eE+-]+) \(eV/A, eV\) on a first check against the ghost graph",
                       log)
        assert ex and float(ex.group(1)) > 1e-6, log[-3000:]
    else:
        ex = re.search(r"no feature exchange: \S+: a probe of the layers failed: .*shrink_probe", log)
        assert ex, log[-3000:]
    print(f"feature exchange: {ex.group(0)}")
    assert "layer-wise pruning on" not in log and "feature exchange on" not in log
    fd = np.abs(got[2]["dump"][:, 1:4] - got[1]["dump"][:, 1:4]).max()
    print(f"after the fallback, 2 ranks against 1 at the third call: max |dF| {fd:.3g} eV/A")
    assert fd <= F_TOL
    assert np.abs(got[1]["dump"][:, 1:4]).max() > 0.05
    np.testing.assert_allclose(got[2]["dump"][:, 4], got[1]["dump"][:, 4], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got[2]["thermo"][:, 1], got[1]["thermo"][:, 1], rtol=0, atol=1e-9)


def test_ensemble_on_4_ranks(tmp_path, ensemble_models):
    """sigma_F per atom, compute pair nequip's global values, and fix halt with fix nequip/frames' frames gathered
    into one file."""
    boundary = write_system(tmp_path, "slab_ppf")
    files = " ".join(map(str, ensemble_models))
    text = f"""{system_lines(boundary)}
pair_style nequip
pair_coeff * * {files} {' '.join(TYPE_NAMES)}
fix sf all pair 1 nequip sigma_f 0 fmean 0
compute sig all pair nequip
compute max_sigma all reduce max f_sf[1]
variable max_sigma equal c_max_sigma
fix frames all nequip/frames 1 2 halt.extxyz
{{halt}}
dump d all custom 1 sig.dump id f_sf[1] f_sf[2]
dump_modify d sort id format float %.17g
velocity all create 300 3 mom yes rot yes loop geom
fix nve all nve
timestep 0.002
thermo_style custom step pe c_sig[1] c_sig[2] c_sig[3] c_sig[4]
thermo_modify format float %.15g
thermo 1
run 3
"""
    res = {}
    for n in (1, 4):
        d, proc = run_on(tmp_path, n, text.format(halt=""), f"ens{n}")  # no halt
        res[n] = (thermo_rows(proc.stdout), dump_last(d / "sig.dump", 3))
    (t1, s1), (t4, s4) = res[1], res[4]
    print(f"ensemble 4 vs 1 rank: max |d sigma_F| {np.abs(s4[:, 1] - s1[:, 1]).max():.3g} eV/A")
    np.testing.assert_allclose(s4, s1, rtol=0, atol=1e-10)
    assert s1[:, 1].max() > 1e-3
    assert t4[:, 5].tolist() == [3.0] * len(t4)  # M, not M x ranks
    np.testing.assert_allclose(t4[:, 1:5], t1[:, 1:5], rtol=1e-9, atol=1e-10)
    assert t1[-1, 2] == pytest.approx(s1[:, 1].max(), rel=1e-9)  # max sigma_F of the last step
    assert t1[-1, 3] == pytest.approx(s1[:, 1].mean(), rel=1e-9)
    # a halt threshold between the step-0 and the last-step max sigma_F: every rank stops at the same step
    limit = 0.5 * (t1[0, 2] + t1[-1, 2]) if t1[-1, 2] > t1[0, 2] else 0.5 * t1[0, 2]
    halts = {}
    for n in (1, 4):
        halt = f"fix h all halt 1 v_max_sigma > {limit:.10g} error continue"
        d, proc = run_on(tmp_path, n, text.format(halt=halt), f"halt{n}")
        assert proc.stdout.count(HALT_TEXT) == 1, proc.stdout[-3000:]
        frames = read(d / "halt.extxyz", index=":")
        halts[n] = (HALT_RE.search(proc.stdout).group(2), frames)
    assert halts[1][0] == halts[4][0] and halts[4][1][-1].info["step"] == int(halts[4][0])
    f1, f4 = halts[1][1], halts[4][1]
    assert len(f1) == len(f4) >= 1 and len(f4[-1]) == len(read(tmp_path / "sys.data", format="lammps-data"))
    for a, b in zip(f1, f4):
        assert a.info["step"] == b.info["step"]
        np.testing.assert_allclose(b.positions, a.positions, atol=1e-9)
        np.testing.assert_allclose(b.arrays["sigma_f"], a.arrays["sigma_f"], atol=1e-9)
        np.testing.assert_allclose(b.arrays["forces_ensemble_mean"], a.arrays["forces_ensemble_mean"], atol=1e-9)
        assert list(b.symbols) == list(a.symbols)


def test_ensemble_overlaid_on_a_baseline_on_2_ranks(tmp_path, ensemble_models):
    """The bundled ensemble's set-up (pair_style hybrid/overlay nequip + lj/cut): Comm's buffers must hold the
    ensemble's reverse communication (3 values per model and atom) although PairHybrid read its sub-styles'
    comm_reverse before the models were loaded. Before that was fixed, 2 ranks corrupted the heap (crash or
    'free(): invalid pointer' at a later run's set-up)."""
    boundary = write_system(tmp_path, "slab_ppf")
    files = " ".join(map(str, ensemble_models))
    text = f"""{system_lines(boundary)}
pair_style hybrid/overlay nequip ensemble first sigma_every 2 lj/cut 8.0
pair_coeff * * nequip {files} {' '.join(TYPE_NAMES)}
pair_coeff * * lj/cut 0.002 2.6
fix sf all pair 1 nequip sigma_f 0
velocity all create 600 5 mom yes rot yes loop geom
fix nve all nve
timestep 0.002
thermo 10
run 20
run 20
dump d all custom 1 f.dump id fx fy fz f_sf
dump_modify d sort id format float %.17g
run 0
"""
    out = {}
    for n in (1, 2):
        d, proc = run_on(tmp_path, n, text, f"overlay{n}")
        out[n] = dump_last(d / "f.dump", 5)
    print(f"overlay 2 vs 1 rank after 40 steps: max |dF| {np.abs(out[2][:, 1:4] - out[1][:, 1:4]).max():.3g} eV/A")
    assert out[1][:, 4].max() > 1e-3  # sigma_F from all 3 models
    np.testing.assert_allclose(out[2], out[1], rtol=0, atol=1e-8)


def without_blocks_metadata(model: Path, out: Path, blocks: int) -> Path:
    """A copy of the TorchScript MODEL without its 'interaction_blocks' metadata (which must say BLOCKS), as
    nequip's own nequip-compile writes files."""
    import torch

    extra = {k: "" for k in ("r_max", "type_names", "num_types", "model_dtype", "allow_tf32", "interaction_blocks")}
    module = torch.jit.load(str(model), _extra_files=extra)
    assert extra["interaction_blocks"] in (str(blocks).encode(), str(blocks))
    del extra["interaction_blocks"]
    torch.jit.save(module, str(out), _extra_files=extra)
    return out


def test_receptive_field_from_the_model_itself_on_several_ranks(tmp_path, model_ts):
    """A file without the interaction-block count (as nequip-compile writes them) runs on 2 ranks: L is counted from
    the model's ConvNetLayer modules, the log says so, and the single point is the one of the same model with the
    count in its metadata. The pair_style keyword still sets L, and a keyword below the model's L is refused."""
    bare = without_blocks_metadata(model_ts, tmp_path / "no_blocks.nequip.pth", 2)
    boundary = write_system(tmp_path, "triclinic")
    names = " ".join(TYPE_NAMES)
    d, proc = run_on(tmp_path, 2, single_point_input(boundary, f"nequip graph ghosts\npair_coeff * * {bare} {names}"),
                     "bare")
    assert "within 2 interaction blocks" in proc.stdout
    assert "(L from the model's 2 ConvNetLayer modules)" in proc.stdout
    d_ref, proc_ref = run_on(tmp_path, 2, single_point_input(boundary, f"nequip graph ghosts\npair_coeff * * {model_ts} "
                                                                       f"{names}"), "metadata")
    assert "(L from the model file's metadata)" in proc_ref.stdout
    got, ref = single_point(d, proc), single_point(d_ref, proc_ref)
    np.testing.assert_array_equal(got["dump"], ref["dump"])
    np.testing.assert_array_equal(got["thermo"], ref["thermo"])
    d2 = tmp_path / "keyword"
    d2.mkdir()
    (d2 / "sys.data").write_bytes((tmp_path / "sys.data").read_bytes())
    proc = run_lmp(single_point_input(boundary, f"nequip interaction_blocks 2\npair_coeff * * {bare} {names}"), d2,
                   nprocs=2)
    assert proc.returncode == 0 and "(L from pair_style interaction_blocks)" in proc.stdout
    proc = run_lmp(single_point_input(boundary, f"nequip interaction_blocks 1\npair_coeff * * {model_ts} {names}"),
                   d2, nprocs=2)
    assert proc.returncode != 0 and "interaction_blocks 1 is smaller than the model's 2" in proc.stdout


def test_threads_default_to_one_per_rank_with_a_notice(tmp_path, model_ts):
    import os
    import subprocess

    boundary = write_system(tmp_path, "triclinic")
    (tmp_path / "in.t").write_text(single_point_input(boundary, f"nequip\npair_coeff * * {model_ts} "
                                                                 f"{' '.join(TYPE_NAMES)}"))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run(lmp_command("in.t", nprocs=2), cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "2 MPI ranks share a node and OMP_NUM_THREADS is unset: 1 torch thread per rank" in proc.stdout
    assert "; 1 torch thread(s) per MPI rank, 2 rank(s)" in proc.stdout
    # every rank's device, not rank 0's alone (one line when they agree, else one entry per rank)
    devices = [auto_device(r) for r in range(2)]
    if devices[0] == devices[1]:
        expected = f"pair nequip: device {devices[0]} on 2 rank(s) (2 per node)"
    else:
        expected = "pair nequip: devices by rank: " + ", ".join(f"{r}: {d} (local rank {r})"
                                                               for r, d in enumerate(devices))
    assert expected in proc.stdout


SUBCOMM = """
import sys
from mpi4py import MPI
from beamheat.lammps_run import _lammps
world = MPI.COMM_WORLD
sub = world.Split(world.rank, 0)      # two LAMMPS instances of one rank each, on the same node
lmp = _lammps(log=f"log.{world.rank}", comm=sub)
lmp.file(sys.argv[1])
lmp.close()
"""


def test_threads_count_the_ranks_of_the_node_on_sub_communicators(tmp_path, model_ts):
    """LAMMPS on a sub-communicator of one rank (the lammps Python module in groups, as models.loop runs its
    explorations under mpirun): the other group's rank shares the node too. The launcher's local rank count
    (MPICH's MPI_LOCALNRANKS here) says so, where a count over the instance's own communicator saw one rank and
    gave torch every core in both."""
    import os
    import subprocess
    import sys

    pytest.importorskip("mpi4py")
    boundary = write_system(tmp_path, "triclinic")
    (tmp_path / "in.t").write_text(single_point_input(boundary, f"nequip\npair_coeff * * {model_ts} "
                                                                 f"{' '.join(TYPE_NAMES)}"))
    (tmp_path / "sub.py").write_text(SUBCOMM)
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run([str(venv_bin / "mpirun"), "-np", "2", sys.executable, "sub.py", "in.t"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for r in (0, 1):
        log = (tmp_path / f"log.{r}").read_text()
        assert "2 MPI ranks share a node and OMP_NUM_THREADS is unset: 1 torch thread per rank" in log, log[-1500:]
        assert "; 1 torch thread(s) per MPI rank, 1 rank(s)" in log


ALLEGRO = ["training_module.model._target_=allegro.model.AllegroModel", "~training_module.model.num_features",
           "~training_module.model.radial_mlp_depth", "~training_module.model.radial_mlp_width",
           "+training_module.model.radial_chemical_embed={_target_:allegro.nn.TwoBodyBesselScalarEmbed,num_bessels:8}",
           "+training_module.model.num_scalar_features=8", "+training_module.model.num_tensor_features=4",
           "+training_module.model.scalar_embed_mlp_hidden_layers_width=8",
           "+training_module.model.allegro_mlp_hidden_layers_width=8",
           "+training_module.model.readout_mlp_hidden_layers_width=8", "trainer.max_epochs=3"]


@pytest.fixture(scope="session")
def model_allegro(model_dir, dataset) -> Path:
    """A tiny strictly local Allegro model (package nequip-allegro), 2 Allegro layers, float64."""
    pytest.importorskip("allegro", reason="nequip-allegro is not installed")
    from helpers import deploy_model, train_model

    return deploy_model(train_model(model_dir, dataset, "tiny_allegro", ALLEGRO), model_dir / "tiny_allegro.nequip.pth")


@pytest.mark.parametrize("system", SYSTEMS)
def test_allegro_exact_on_1_2_4_ranks_with_r_max_shell(tmp_path, system, model_allegro):
    boundary = write_system(tmp_path, system)
    pair = f"nequip\npair_coeff * * {model_allegro} {' '.join(TYPE_NAMES)}"
    for n, proc, got, ref in against_one_rank(tmp_path, single_point_input(boundary, pair), "allegro"):
        assert "ghosts within 1 interaction blocks x r_max 4 A = 4 A; ghost cutoff 6 A" in proc.stdout
        assert "layer-wise pruning off: the model is not nequip's sequence" in proc.stdout  # nothing to prune
        assert_one_rank_physics(got, ref, f"allegro {system} {n} ranks")


@pytest.fixture(scope="session")
def model_3layers(model_dir, dataset) -> Path:
    """A tiny model of 3 interaction layers (two feature exchanges) with per-edge-type cutoffs."""
    from helpers import deploy_model, train_model

    ckpt = train_model(model_dir, dataset, "tiny_3layers",
                       ["training_module.model.num_layers=3", "trainer.max_epochs=3",
                        "per_edge_type_cutoff={Au:4.0,Cu:{Au:3.6,Cu:3.3,Pd:3.5},Pd:3.7}"])
    return deploy_model(ckpt, model_dir / "tiny_3layers.nequip.pth")


def test_exchange_exact_for_3_layers_with_per_edge_type_cutoffs(tmp_path, model_3layers):
    """Two exchanges per call (before layers 1 and 2) and their gradients chained back through both: 2 and 4 ranks
    give the one-rank forces, per-atom energies and virial, and the first-call check passes."""
    boundary = write_system(tmp_path, "slab_ppf")
    pair = f"nequip\npair_coeff * * {model_3layers} {' '.join(TYPE_NAMES)}"
    for n, proc, got, ref in against_one_rank(tmp_path, single_point_input(boundary, pair), "l3_"):
        assert re.search(r"node features \(up to \d+ values per atom\) exchanged before each of layers 1\.\.2 .*ghost "
                         r"cutoff 14 A", proc.stdout), proc.stdout[-3000:]
        assert "feature exchange checked on its first call against the ghost graph of 3 hops" in proc.stdout
        assert_one_rank_physics(got, ref, f"3 layers, {n} ranks")


def test_allegro_without_metadata_is_strictly_local(tmp_path, model_allegro):
    """An Allegro file without the interaction-block count: L = 1 from its modules (r_max ghost shell), and the 2-rank
    single point is the one-rank one."""
    bare = without_blocks_metadata(model_allegro, tmp_path / "allegro_bare.nequip.pth", 1)
    boundary = write_system(tmp_path, "slab_ppf")
    pair = f"nequip\npair_coeff * * {bare} {' '.join(TYPE_NAMES)}"
    for n, proc, got, ref in against_one_rank(tmp_path, single_point_input(boundary, pair), "allegro_bare", ranks=(2,)):
        assert "ghosts within 1 interaction blocks x r_max 4 A = 4 A; ghost cutoff 6 A (L from the model's modules " \
               "(Allegro: strictly local))" in proc.stdout, proc.stdout[-2000:]
        assert_one_rank_physics(got, ref, f"allegro without metadata, {n} ranks")


def test_graph_exchange_refused_for_a_strictly_local_model(tmp_path, model_allegro):
    """An Allegro model has no node features to pass between layers (and needs none): asking for `graph exchange`
    is one LAMMPS error line that says why and what to use."""
    boundary = write_system(tmp_path, "slab_ppf")
    pair = f"nequip graph exchange\npair_coeff * * {model_allegro} {' '.join(TYPE_NAMES)}"
    d = tmp_path / "refused"
    d.mkdir()
    (d / "sys.data").write_bytes((tmp_path / "sys.data").read_bytes())
    proc = run_lmp(single_point_input(boundary, pair), d, nprocs=2)
    assert proc.returncode != 0
    errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("ERROR")]
    assert errors and "Traceback" not in proc.stderr, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert re.match(r"ERROR: pair_style nequip: graph exchange needs node features it can pass between layers; "
                    r"\S+tiny_allegro\.nequip\.pth: not nequip's sequence of two or more layerN_convnet; use graph "
                    r"ghosts", errors[0]), errors


@pytest.mark.slow
def test_heat_transfer_and_steady_state_inputs_on_2_ranks(tmp_path, model_au_hbn):
    """The protocol inputs run under `mpirun -np 2` with NequIP (short times; Langevin noise differs between rank
    counts, so the check is the protocol's own bookkeeping, as on one rank, not equality)."""
    from helpers import run_lmp_file
    from heat_transfer_checks import DATA, INPUTS, SHORT, check_heat_transfer_log

    nequip = {"potential": "nequip", "model": model_au_hbn, "elements": "Au B N"}
    (tmp_path / "ht").mkdir()
    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path / "ht", {**SHORT, **nequip}, nprocs=2)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "pair nequip: 2 MPI ranks: each rank's graph" in proc.stdout
    check_heat_transfer_log(tmp_path / "ht" / "log.lammps", physical=False)
    (tmp_path / "ss").mkdir()
    proc = run_lmp_file(INPUTS / "steady_state.in", tmp_path / "ss",
                        {"inputs": INPUTS, "data": DATA, "t_start_ps": 0.1, "t_equil_ps": 0.1, "t_steady_ps": 0.2,
                         "thermo_ps": 0.02, "P_eV_per_ps": 2.0, **nequip}, nprocs=2)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "pair nequip: 2 MPI ranks: each rank's graph" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("protocol, stage, times", [
    ("heat_transfer", "nve_contact", {"t_therm_ps": 0, "t_nve_ps": 0.2, "dump_ps": 0.2}),
    ("steady_state", "heat", {"t_start_ps": 0, "t_equil_ps": 0.05, "t_steady_ps": 0.15, "P_eV_per_ps": 2.0})])
def test_protocol_from_one_state_follows_the_one_rank_trajectory_on_2_ranks(tmp_path, model_au_hbn, protocol,
                                                                             stage, times):
    """From one and the same state a protocol is deterministic on any rank count, so 2 ranks must follow the 1-rank
    trajectory: relax.in (the minimiser), `velocity create` (the same velocities on every rank count), then NVE with,
    in steady_state.in, fix ehex heating the particle and cooling the bath. Only a Langevin stage draws noise per
    rank, and a zero-length one draws none. Checked: the group temperatures (compute temp/com), the particle's
    energy (compute pe/atom and ke/atom reduced over the group) and the total energy, row by row over the analysed
    stage (0.2 ps, every 0.01 ps), to within 2e-7 of each column's size: LAMMPS prints 8 digits, and the two
    differ in the last one at most (measured: 1e-5 K at 500 K). Over a longer 0.4 ps the round-off had grown to
    ~2e-7 relative (4e-4 K at 1600 K): chaos, which is why same-seed runs with noise are compared by k instead
    (bench/mpi_k.py)."""
    from analysis.k_inputs import pick_stage_block
    from beamheat.lammps_log import read_thermo
    from helpers import run_lmp_file
    from heat_transfer_checks import DATA, INPUTS

    variables = {"inputs": INPUTS, "data": DATA, "thermo_ps": 0.01, "potential": "nequip", "model": model_au_hbn,
                 "elements": "Au B N", **times}
    cols = ["Time", "v_T_np", "v_T_support", "v_E_np", "PotEng", "TotEng"]
    rows = {}
    for n in (1, 2):
        d = tmp_path / f"np{n}"
        d.mkdir()
        proc = run_lmp_file(INPUTS / f"{protocol}.in", d, variables, nprocs=n)
        assert proc.returncode == 0, proc.stdout[-2000:]
        assert "beamheat: relaxation skipped" not in proc.stdout
        if n == 2:
            assert "pair nequip: 2 MPI ranks: each rank's graph = own atoms' edges" in proc.stdout  # exchange
        th = read_thermo(d / "log.lammps", cols)
        blk = pick_stage_block(th, d / "log.lammps", stage, None)
        rows[n] = np.column_stack([th[c][th.block == blk] for c in cols])
    one, two = rows[1], rows[2]
    assert one.shape == two.shape and len(one) >= 16, (one.shape, two.shape)
    assert np.ptp(one[:, 1]) > 5.0, "T_np hardly moves: the check would not see a protocol that differs"
    for j, c in enumerate(cols):
        scale = np.abs(one[:, j]).max()
        diff = np.abs(two[:, j] - one[:, j]).max()
        print(f"{protocol}: {c}: max |2 ranks - 1 rank| = {diff:.3g} (scale {scale:.4g})")
        np.testing.assert_allclose(two[:, j], one[:, j], rtol=0, atol=2e-7 * scale, err_msg=c)
