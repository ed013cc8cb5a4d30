"""MD runs of pair_style nequip with the graph built on the host (`graph_build host`) or kept on the model's device
(`graph_build device`), and their comparison frame by frame (tests/integration, tests/mpi, tests/gpu).

The runs rebuild their neighbour lists often (skin 0.5 A, hot atoms), atoms cross the periodic sides, and with
`deform` the box changes at every step, so the device's per-step edge selection (positions + cell shifts . cell,
against the cutoff) is exercised between rebuilds, where nothing is recomputed on the host.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from ase.build import bulk

from helpers import TYPE_NAMES, rattled, run_lmp, thermo_rows

DUMP_COLUMNS = "id x y z ix iy iz fx fy fz c_pea"
REBUILDS = re.compile(r"graph on the device, edges copied at (\d+) neighbour-list rebuild")


def triclinic_cupdau():
    """64 atoms of a rattled fcc CuPdAu alloy in the primitive (60 degree) cell: a triclinic LAMMPS box."""
    a = bulk("Cu", "fcc", a=3.7).repeat((4, 4, 4))
    s = np.array(a.get_chemical_symbols())
    s[::3] = "Pd"
    s[1::5] = "Au"
    a.set_chemical_symbols(s)
    return rattled(a, seed=12)


def write_system(folder: Path, atoms) -> None:
    from ase.io import write

    write(folder / "sys.data", atoms, format="lammps-data", specorder=TYPE_NAMES, masses=True, atom_style="atomic")


def md_input(boundary: str, pair: str, model: Path, steps: int, *, deform: bool = False, processors: str = "",
             temperature: float = 1500.0, every: int = 10) -> str:
    """NVE from TEMPERATURE K, neighbour skin 0.5 A; thermo (pe, virial) and a dump (positions, image flags,
    forces, per-atom energies) every EVERY steps. deform: the box stretches along x and shears (xy) every step."""
    box = ("fix box all deform 1 x scale 1.02 xy erate 0.2 remap x\n" if deform else "")
    return f"""units metal
atom_style atomic
boundary {boundary}
{processors}
read_data sys.data
neighbor 0.5 bin
pair_style {pair}
pair_coeff * * {model} {' '.join(TYPE_NAMES)}
velocity all create {temperature} 7 mom yes rot no loop geom
fix nve all nve
{box}timestep 0.002
compute pea all pe/atom
compute vir all pressure NULL virial
thermo_style custom step pe c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6]
thermo_modify format float %.17g
thermo {every}
dump d all custom {every} traj.dump {DUMP_COLUMNS}
dump_modify d sort id format float %.17g
run {steps}
"""


def frames(path: Path) -> list[np.ndarray]:
    out = []
    for block in path.read_text().split("ITEM: TIMESTEP")[1:]:
        lines = block.strip().splitlines()[8:]
        out.append(np.array([[float(x) for x in ln.split()] for ln in lines]))
    return out


def run_md(folder: Path, text: str, nprocs: int = 1) -> dict:
    """Run TEXT in FOLDER (holding sys.data): thermo rows, dump frames, the log, LAMMPS's neighbour-list builds."""
    proc = run_lmp(text, folder, nprocs=nprocs, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    builds = re.search(r"Neighbor list builds = (\d+)", proc.stdout)
    assert builds, proc.stdout[-2000:]
    return {"thermo": thermo_rows(proc.stdout), "frames": frames(folder / "traj.dump"), "log": proc.stdout,
            "builds": int(builds.group(1))}


def assert_same_run(got: dict, ref: dict, label: str, f_tol: float = 1e-10, rel_tol: float = 1e-12) -> None:
    """Every dumped frame: same atoms, positions within 1e-9 A, forces within F_TOL eV/A, per-atom energies within
    F_TOL eV; every thermo row: energy and virial within REL_TOL of their scale."""
    assert len(got["frames"]) == len(ref["frames"]) >= 2
    worst = {"x": 0.0, "f": 0.0, "e": 0.0}
    for a, b in zip(got["frames"], ref["frames"]):
        np.testing.assert_array_equal(a[:, 0], b[:, 0])
        worst["x"] = max(worst["x"], np.abs(a[:, 1:4] - b[:, 1:4]).max())
        worst["f"] = max(worst["f"], np.abs(a[:, 7:10] - b[:, 7:10]).max())
        worst["e"] = max(worst["e"], np.abs(a[:, 10] - b[:, 10]).max())
    t, tr = got["thermo"], ref["thermo"]
    assert t.shape == tr.shape and t.shape[0] >= 2
    d_pe = np.abs(t[:, 1] - tr[:, 1]).max() / np.abs(tr[:, 1]).max()
    d_vir = np.abs(t[:, 2:] - tr[:, 2:]).max() / np.abs(tr[:, 2:]).max()
    print(f"{label}: max |dx| {worst['x']:.3g} A, max |dF| {worst['f']:.3g} eV/A, max |d e_i| {worst['e']:.3g} eV, "
          f"relative d pe {d_pe:.3g}, d virial {d_vir:.3g}")
    assert np.abs(ref["frames"][-1][:, 7:10]).max() > 0.05, "trivially small forces: the comparison would be void"
    assert worst["x"] <= 1e-9 and worst["f"] <= f_tol and worst["e"] <= f_tol, (label, worst)
    assert d_pe <= rel_tol and d_vir <= rel_tol, (label, d_pe, d_vir)


def crossed_periodic_sides(run: dict, axes=(0, 1, 2)) -> int:
    """Atoms whose image flags (last frame) along AXES are nonzero: they crossed a periodic side."""
    last = run["frames"][-1]
    return int(np.any(last[:, [4 + k for k in axes]] != 0, axis=1).sum())


def device_rebuilds(log: str) -> int:
    m = REBUILDS.findall(log)
    assert m, log[-2000:]
    return int(m[-1])
