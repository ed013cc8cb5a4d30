"""The classical Au/TiO2 reference (lammps_inputs/potentials/classical_au_tio2.in) checked: bulk phases, surfaces
with O vacancies, and the Au-TiO2 binding against this project's DFT and published DFT.

    python -m bench.tio2_reference [--out runs/tio2_reference] [--results bench/results/tio2_reference]
                                   [--T-K 600] [--bulk-ps 6] [--slab-ps 3] [--force]

1. Bulk anatase (4x4x2 cells, 384 atoms) and rutile (3x3x5, 270 atoms), periodic, at --T-K: box relaxed at 0 K,
   then NPT (Nose-Hoover, anisotropic, 0 bar, 1 fs) for --bulk-ps, PPPM at 1e-6. Reported over the second
   half: the lattice parameters a, c against experiment (the values beamheat.build cuts from; the 0 K box
   relaxation may stall short of the minimum, NPT does not), and the RMSD of the atoms from the
   ideal crystal sites (scaled to the instantaneous box, centre-of-mass drift removed), the largest time-averaged
   displacement of any atom (a phase change or a hop moves atoms by > 1 Å; vibration averages out).
2. Slabs anatase (101), rutile (101) and rutile (110) as beamheat.build cuts them (stoichiometric, bridging O on
   both faces, >= 8 Å thick, about 20 x 20 Å), with the authors' 5 % O vacancies in the outermost O plane of the
   top and the bottom face, at random: relaxed, then Langevin at --T-K (damping 0.2 ps, 1 fs) for --slab-ps.
   Intact means: no atom's position averaged over the last ps lies more than 1 Å from its relaxed site, no atom
   leaves the slab, and the Ti-O coordination counts (cutoff 2.5 Å, averaged positions) are those of the relaxed
   slab.
3. Binding of Au to each clean surface, relaxed (FIRE, as relax.in with this potential: each body relaxed apart,
   then in contact): an Au45 particle (1 nm, beamheat.build's default shape) and a single Au adatom started above a
   bridging O. E_b = E(contact) - E(apart), both relaxed; E_int = E(contact) - E(the same geometry with the
   particle-support pairs excluded): the interaction alone, without what the particle gained by changing shape
   in contact (a larger particle finds lower-energy shapes while it wets; in contact the relaxation stops after
   CONTACT_ITER FIRE steps, as Au45 keeps reshaping slowly for ~10^4), and the closest Au-O and Au-Ti distances
   of the relaxed contact.
4. Against DFT: the potential's binding of Au6 at the frames GPAW labelled at the paper's settings
   (dft/au_tio2/labels_pw500.extxyz, relaxed_pw500.extxyz: rigid scans and Au6 relaxed over the slab), per scan
   the deepest point of each and their ratio, computed as models.fit_interface does; and the adatom against DFT
   from the literature: Au atoms bind to regular TiO2 sites with De < 0.5 eV (Woerz, Heiz, Cinquini, Pacchioni,
   "Charging of Au atoms on TiO2 thin films from CO vibrational spectroscopy and DFT calculations", J. Phys.
   Chem. B 109, 18418 (2005), doi:10.1021/jp054093o; at O vacancies 1.7 eV).

Each LAMMPS run is one process on one core (`lmp`, OMP_NUM_THREADS=1), in its own folder of --out, which also
gets the run's record.json; --reuse takes a run's record from there when its settings are the same. Writes
RESULTS.json and RESULTS.md (not overwritten without --force) and prints the tables.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run

ROOT = Path(__file__).resolve().parents[1]
POTENTIAL = ROOT / "lammps_inputs" / "potentials" / "classical_au_tio2.in"
SPECORDER = ["Au", "O", "Ti"]
# experiment, room temperature: the lattice parameters beamheat.build cuts from (python/beamheat/build.py)
EXPERIMENT_A = {"anatase": {"a": 3.785, "c": 9.514}, "rutile": {"a": 4.594, "c": 2.959}}
BULK_REPEAT = {"anatase": (4, 4, 2), "rutile": (3, 3, 5)}
SLABS = ("anatase101", "rutile101", "rutile110")
DFT_ADATOM_MAX_EV = 0.5       # Woerz et al. 2005: De < 0.5 eV on regular TiO2 sites
MOVED_A = 1.0                 # a time-averaged displacement beyond this is a hop, not vibration
CN_CUTOFF_A = 2.5
DFT_LABELS = (ROOT / "dft" / "au_tio2" / "labels_pw500.extxyz", ROOT / "dft" / "au_tio2" / "relaxed_pw500.extxyz")
CONTACT_ITER = 4000           # FIRE steps in contact: Au45 keeps reshaping slowly for ~10^4 steps

BULK_IN = """units metal
atom_style atomic
boundary p p p
read_data {data}
variable kspace_slab index no
variable kspace_accuracy index 1.0e-6
include {potential}
thermo_style custom step time temp pe press lx ly lz
thermo_modify flush yes
fix br all box/relax aniso 0.0
minimize 0 1e-4 2000 20000
unfix br
reset_timestep 0
velocity all create {T2} {seed} mom yes rot yes dist gaussian
fix npt all npt temp {T} {T} 0.1 aniso 0 0 1.0
timestep 0.001
thermo 50
dump d all custom 100 bulk.dump id type xs ys zs
dump_modify d sort id
run {n}
"""

SLAB_IN = """units metal
atom_style atomic
boundary p p m
read_data {data}
include {potential}
thermo_style custom step time temp pe
thermo_modify flush yes
min_style fire
minimize 0 1e-3 20000 200000
reset_timestep 0
velocity all create {T} {seed} mom yes rot yes dist gaussian
fix lang all langevin {T} {T} 0.2 {seed2} zero yes
fix nve all nve
timestep 0.001
thermo 100
dump d all custom 100 slab.dump id type x y z ix iy iz
dump_modify d sort id
run {n}
"""

BIND_IN = """units metal
atom_style atomic
boundary p p m
read_data {data}
group np type 1
group support subtract all np
include {potential}
change_box all z final $(zlo) $(zhi+20) units box
thermo_style custom step pe
compute pe_atom all pe/atom
compute pe_np np reduce sum c_pe_atom
compute pe_sup support reduce sum c_pe_atom
min_style fire
timestep 0.002
displace_atoms np move 0 0 15 units box
neigh_modify exclude group np support
minimize 0 1e-3 20000 200000
variable e_apart equal $(pe)
displace_atoms np move 0 0 -15 units box
neigh_modify exclude none
run 0 post no
variable e_rigid equal $(pe)
minimize 0 1e-3 {contact_iter} {contact_eval}
variable e_contact equal $(pe)
neigh_modify exclude group np support
run 0 post no
write_dump all custom contact.dump id type x y z modify sort id
print "bench: binding rigid $(v_e_rigid-v_e_apart:%.5f) relaxed $(v_e_contact-v_e_apart:%.5f) interaction $(v_e_contact-pe:%.5f) eV gap $(bound(np,zmin)-bound(support,zmax):%.3f) A"
"""


# ------------------------------------------------------------------------------------------------ structures
def bulk_cell(phase: str):
    from beamheat.build import _tio2_bulk

    return _tio2_bulk(phase).repeat(BULK_REPEAT[phase])


def slab(kind: str, fraction: float = 0.05, seed: int = 1, xy_A: float = 20.0, vacuum_A: float = 10.0):
    """beamheat.build's support slab with O vacancies on both faces, vacuum_A above and below."""
    from beamheat.build import remove_surface_oxygens, support

    s = support(kind, (xy_A, xy_A))
    s, n_vac = remove_surface_oxygens(s, fraction, seed, "both")
    s.positions[:, 2] += vacuum_A
    s.cell[2] = [0, 0, s.positions[:, 2].max() + vacuum_A]
    return s, n_vac


def adatom_system(kind: str, height_A: float = 2.2):
    """A clean slab with one Au atom height_A above its central top bridging O."""
    from ase import Atoms

    s, _ = slab(kind, fraction=0.0)
    z = s.positions[:, 2]
    is_o = np.array(s.get_chemical_symbols()) == "O"
    top = np.nonzero(is_o & (z > z[is_o].max() - 0.3))[0]
    centre = (s.cell[0] + s.cell[1])[:2] / 2
    k = top[np.argmin(np.linalg.norm(s.positions[top, :2] - centre, axis=1))]
    au = Atoms("Au", positions=[s.positions[k] + [0, 0, height_A]])
    system = au + s  # type 1 first
    system.cell, system.pbc = s.cell, (True, True, False)
    return system


def write_data(atoms, path: Path) -> Path:
    from ase.io import write

    write(path, atoms, format="lammps-data", specorder=SPECORDER, masses=True, atom_style="atomic")
    return path


# ------------------------------------------------------------------------------------------------ analysis
def read_dump(path: Path):
    """Frames of a LAMMPS custom dump sorted by id: list of (box_lengths (3,), columns dict of arrays)."""
    frames, lines = [], Path(path).read_text().splitlines()
    i = 0
    while i < len(lines):
        n = int(lines[i + 3])
        box = np.array([[float(x) for x in lines[i + 5 + k].split()[:2]] for k in range(3)])
        names = lines[i + 8].split()[2:]
        data = np.array([ln.split() for ln in lines[i + 9:i + 9 + n]], float)
        frames.append((box[:, 1] - box[:, 0], {c: data[:, k] for k, c in enumerate(names)}))
        i += 9 + n
    return frames


def scaled_rmsd(s: np.ndarray, s0: np.ndarray, lengths: np.ndarray) -> tuple[float, np.ndarray]:
    """RMSD (Å) of scaled positions s from ideal scaled sites s0 in an orthorhombic box of LENGTHS, nearest
    image, the mean displacement (centre-of-mass drift) removed; and the per-atom displacement vectors (Å)."""
    ds = s - s0
    ds -= np.round(ds)
    ds -= ds.mean(axis=0)
    dr = ds * lengths
    return float(np.sqrt(np.mean(np.sum(dr**2, axis=1)))), dr


def ti_o_coordination(pos: np.ndarray, symbols, cell, cutoff_A: float = CN_CUTOFF_A) -> dict:
    """Counts of Ti and O by their number of unlike neighbours within cutoff_A (periodic in x, y)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    a = Atoms(symbols, positions=pos, cell=cell, pbc=(True, True, False))
    i, j = neighbor_list("ij", a, cutoff_A)
    sym = np.array(symbols)
    cn = np.bincount(i[sym[i] != sym[j]], minlength=len(a))
    return {f"{e}{c}": int(((sym == e) & (cn == c)).sum()) for e in ("Ti", "O")
            for c in range(0, 8) if ((sym == e) & (cn == c)).any()}


def _lmp(inp: str, cwd: Path) -> str:
    from beamheat.lammps_command import tool

    (cwd / "in.lmp").write_text(inp)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([tool("lmp"), "-in", "in.lmp", "-log", "log.lammps"], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"{cwd / 'log.lammps'}: LAMMPS failed: " + (proc.stdout + proc.stderr)[-500:])
    return proc.stdout


# ------------------------------------------------------------------------------------------------ runs
def run_bulk(phase: str, out: Path, T: float, ps: float, seed: int = 4711) -> dict:
    from beamheat.lammps_log import read_thermo

    d = out / f"bulk_{phase}"
    d.mkdir(parents=True, exist_ok=True)
    atoms = bulk_cell(phase)
    write_data(atoms, d / "bulk.data")
    n = int(round(ps / 0.001))
    t0 = time.time()
    _lmp(BULK_IN.format(data="bulk.data", potential=POTENTIAL, T=T, T2=2 * T, seed=seed, n=n), d)
    th = read_thermo(d / "log.lammps", ["Time", "Temp", "Lx", "Ly", "Lz"])
    md = th.select(th.block == th.block.max())
    half = md["Time"] >= md["Time"][-1] / 2
    nx, ny, nz = BULK_REPEAT[phase]
    a = np.concatenate([md["Lx"][half] / nx, md["Ly"][half] / ny])
    c = md["Lz"][half] / nz
    frames = read_dump(d / "bulk.dump")
    s0 = atoms.get_scaled_positions()
    second = [f for f in frames[len(frames) // 2:]]
    rmsds, disp = [], []
    for lengths, col in second:
        r, dr = scaled_rmsd(np.c_[col["xs"], col["ys"], col["zs"]], s0, lengths)
        rmsds.append(r)
        disp.append(dr)
    mean_disp = np.linalg.norm(np.mean(disp, axis=0), axis=1)
    exp = EXPERIMENT_A[phase]
    return {"phase": phase, "atoms": len(atoms), "T_K_target": T, "T_K_mean": float(md["Temp"][half].mean()),
            "ps": ps, "a_A": float(a.mean()), "a_A_std": float(a.std()), "c_A": float(c.mean()),
            "c_A_std": float(c.std()), "a_exp_A": exp["a"], "c_exp_A": exp["c"],
            "a_dev_pct": float(100 * (a.mean() / exp["a"] - 1)), "c_dev_pct": float(100 * (c.mean() / exp["c"] - 1)),
            "rmsd_A": float(np.mean(rmsds)), "max_mean_displacement_A": float(mean_disp.max()),
            "frames_averaged": len(second), "wall_s": time.time() - t0}


def run_slab(kind: str, out: Path, T: float, ps: float, seed: int = 815) -> dict:
    d = out / f"slab_{kind}"
    d.mkdir(parents=True, exist_ok=True)
    s, n_vac = slab(kind, seed=seed)
    write_data(s, d / "slab.data")
    n = int(round(ps / 0.001))
    t0 = time.time()
    _lmp(SLAB_IN.format(data="slab.data", potential=POTENTIAL, T=T, seed=seed, seed2=seed + 1, n=n), d)
    frames = read_dump(d / "slab.dump")
    types = frames[0][1]["type"].astype(int)
    symbols = [SPECORDER[t - 1] for t in types]

    def unwrapped(f):
        lengths, col = f
        return np.c_[col["x"] + col["ix"] * lengths[0], col["y"] + col["iy"] * lengths[1], col["z"]], lengths

    ref, lengths0 = unwrapped(frames[0])
    last = [unwrapped(f)[0] for f in frames if f is not frames[0]][-10:]  # the last ps (dump every 0.1 ps)
    mean = np.mean(last, axis=0)
    disp = mean - ref
    disp -= disp.mean(axis=0)
    moved = np.linalg.norm(disp, axis=1)
    cell = np.diag([lengths0[0], lengths0[1], 100.0])
    cn0, cn1 = ti_o_coordination(ref, symbols, cell), ti_o_coordination(mean, symbols, cell)
    z0, z1 = ref[:, 2], np.array(last)[:, :, 2]
    left = int(((z1.max(axis=0) > z0.max() + 3.0) | (z1.min(axis=0) < z0.min() - 3.0)).sum())
    n_moved = int((moved > MOVED_A).sum())
    return {"support": kind, "atoms": len(s), "o_vacancies": n_vac, "T_K": T, "ps": ps,
            "box_xy_A": [float(lengths0[0]), float(lengths0[1])], "thickness_A": float(np.ptp(z0)),
            "max_mean_displacement_A": float(moved.max()), "atoms_moved_over_1A": n_moved, "atoms_left": left,
            "coordination_relaxed": cn0, "coordination_end": cn1,
            "intact": bool(n_moved == 0 and left == 0 and cn0 == cn1), "wall_s": time.time() - t0}


def against_dft_labels(labels: list[Path]) -> list[dict]:
    """Per DFT-labelled scan of Au6 on TiO2 (dft/au_tio2: rigid scans and the relaxed frames, GPAW PBE-D3(BJ) at the
    paper's settings): the deepest DFT binding energy and this potential's at the same frames, as
    models.fit_interface computes them (the potential's own Au-X pairs through LAMMPS)."""
    from models import interface_lj as lj
    from models.fit_interface import TYPES, read_labels, table_rows, wells

    points = lj.binding_points(read_labels(labels), source=", ".join(map(str, labels)))
    lj.LammpsInterface(POTENTIAL, TYPES).fill(points)
    e = lj.predict(points, lj.read_pair_coeffs(POTENTIAL, TYPES))
    rows = table_rows(points, e, e, np.ones(len(points), bool))
    return [{"system": w["system"], "copy": w["copy"], "dft_eV": w["dft_eV"], "dft_gap_A": w["dft_gap_A"],
             "classical_eV": w["file_eV"], "classical_gap_A": w["file_gap_A"], "dft_over_classical": w["dft_over_file"]}
            for w in wells(rows)]


def closest_au_distances(dump: Path) -> dict:
    """The shortest Au-O and Au-Ti distances (Å) of a LAMMPS dump (types 1 Au, 2 O, 3 Ti), minimum image."""
    from ase.geometry import get_distances
    from ase.io import read

    a = read(dump, format="lammps-dump-text")
    t = a.get_array("type") if "type" in a.arrays else a.numbers
    out = {}
    for x, ty in (("O", 2), ("Ti", 3)):
        _, d = get_distances(a.positions[t == 1], a.positions[t == ty], cell=a.cell, pbc=a.pbc)
        out[f"closest_Au_{x}_A"] = float(d.min())
    return out


def run_binding(kind: str, out: Path, what: str) -> dict:
    import re

    from beamheat.build import build

    d = out / f"bind_{what}_{kind}"
    d.mkdir(parents=True, exist_ok=True)
    geo = None
    if what == "Au45":
        geo = build(d / "system", support=kind, diameter_nm=1.0, margin_A=6.0, force=True)
        data = d / "system" / "system.data"
    else:
        data = write_data(adatom_system(kind), d / "adatom.data")
    t0 = time.time()
    stdout = _lmp(BIND_IN.format(data=data, potential=POTENTIAL, contact_iter=CONTACT_ITER,
                                 contact_eval=10 * CONTACT_ITER), d)
    m = re.search(r"bench: binding rigid (\S+) relaxed (\S+) interaction (\S+) eV gap (\S+) A", stdout)
    rec = {"support": kind, "adsorbate": what, "E_b_rigid_eV": float(m.group(1)), "E_b_eV": float(m.group(2)),
           "E_int_eV": float(m.group(3)), "gap_A": float(m.group(4)), "wall_s": time.time() - t0}
    rec.update(closest_au_distances(d / "contact.dump"))
    if geo is not None:
        rec["A_nm2"] = geo["A_nm2"]
        rec["E_int_per_area_J_m2"] = rec["E_int_eV"] / geo["A_nm2"] * 0.1602176634
    return rec


# ------------------------------------------------------------------------------------------------ report
def markdown(res: dict) -> str:
    m = res["machine"]
    lines = ["# The classical Au/TiO2 reference: bulk, surfaces, Au binding", "",
             f"`{res['command']}` on {m.get('cpu', '?')} ({m['cpu_count']} cores, shared), "
             f"LAMMPS single core per run; potential `{res['potential']}`.", "",
             f"## Bulk at {res['T_K']:g} K (NPT, second half of {res['bulk_ps']:g} ps)", "",
             "Experiment: the room-temperature lattice parameters beamheat.build cuts from. Largest mean "
             "displacement: of any atom's position averaged over the second half, from its ideal site.", "",
             "| phase | atoms | T (K) | a (Å) | a exp. | c (Å) | c exp. | RMSD from ideal sites (Å) | "
             "largest mean displacement (Å) |", "|---|---|---|---|---|---|---|---|---|"]
    for b in res["bulk"]:
        lines.append(f"| {b['phase']} | {b['atoms']} | {b['T_K_mean']:.0f} | {b['a_A']:.3f} ± {b['a_A_std']:.3f} "
                     f"({b['a_dev_pct']:+.1f} %) | {b['a_exp_A']} | {b['c_A']:.3f} ± {b['c_A_std']:.3f} "
                     f"({b['c_dev_pct']:+.1f} %) | {b['c_exp_A']} | {b['rmsd_A']:.3f} | "
                     f"{b['max_mean_displacement_A']:.3f} |")
    lines += ["", f"## Slabs with 5 % O vacancies (top and bottom), Langevin {res['T_K']:g} K, {res['slab_ps']:g} ps",
              "", "| support | atoms | O vacancies | thickness (Å) | largest mean displacement (Å) | "
              "atoms moved > 1 Å "
              "| atoms left | Ti-O coordination relaxed → end | intact |", "|---|---|---|---|---|---|---|---|---|"]
    for s in res["slabs"]:
        cn = lambda c: ", ".join(f"{k}: {v}" for k, v in c.items())  # noqa: E731
        lines.append(f"| {s['support']} | {s['atoms']} | {s['o_vacancies']} | {s['thickness_A']:.1f} | "
                     f"{s['max_mean_displacement_A']:.2f} | {s['atoms_moved_over_1A']} | {s['atoms_left']} | "
                     f"{cn(s['coordination_relaxed'])} → {cn(s['coordination_end'])} | "
                     f"{'yes' if s['intact'] else 'NO'} |")
    lines += ["", "## Au binding to the clean surfaces (relaxed apart, then in contact)", "",
              "| support | adsorbate | E_b rigid (eV) | E_b relaxed (eV) | E_int (eV) | gap (Å) | "
              "E_int per contact area (J/m²) |", "|---|---|---|---|---|---|---|"]
    for b in res["binding"]:
        per = f"{b['E_int_per_area_J_m2']:.3f}" if "E_int_per_area_J_m2" in b else "–"
        lines.append(f"| {b['support']} | {b['adsorbate']} | {b['E_b_rigid_eV']:.3f} | {b['E_b_eV']:.3f} | "
                     f"{b['E_int_eV']:.3f} | {b['gap_A']:.2f} | {per} |")
    lines += ["", "Closest Au-O and Au-Ti distances in contact (Å): " + "; ".join(
        f"{b['support']} {b['adsorbate']} {b['closest_Au_O_A']:.2f} / {b['closest_Au_Ti_A']:.2f}"
        for b in res["binding"]) + "."]
    lines += ["", "### Against this project's DFT: Au6 (GPAW PBE-D3(BJ), PW 500 eV, Γ)", "",
              f"Labels {', '.join(res['dft_labels'])}; per scan (copy; copies of 10 and above: Au6 relaxed over the "
              "slab with a fit, labelled by DFT), the deepest E_b of DFT and of this potential at the same frames.",
              "", "| system | copy | DFT (eV) at gap (Å) | classical (eV) at gap (Å) | DFT / classical |",
              "|---|---|---|---|---|"]
    for w in res["dft_au6"]:
        ratio = f"{w['dft_over_classical']:.2f}" if w["dft_over_classical"] is not None and w["dft_eV"] < 0 else "–"
        lines.append(f"| {w['system']} | {w['copy']} | {w['dft_eV']:.3f} at {w['dft_gap_A']:.2f} | "
                     f"{w['classical_eV']:.3f} at {w['classical_gap_A']:.2f} | {ratio} |")
    lines += ["", "### Against DFT from the literature (the adatom)", ""]
    for c in res["dft_comparison"]:
        f = c["factor_max"]
        verdict = (f"DFT binds up to {f:.1f}× more strongly (the source bounds its value, so the factor is a bound "
                   "too)" if f >= 1 else f"the classical adatom binds {1 / f:.1f}× more than that bound")
        lines.append(f"- {c['support']}: classical adatom {c['classical_eV']:.3f} eV (interaction); DFT De < "
                     f"{DFT_ADATOM_MAX_EV} eV on regular sites: {verdict}.")
    lines += ["", res["dft_source"], ""]
    return "\n".join(lines)


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m bench.tio2_reference", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "tio2_reference",
                   help="folder for the LAMMPS runs (default runs/tio2_reference)")
    p.add_argument("--results", default=str(ROOT / "bench" / "results" / "tio2_reference"),
                   help="RESULTS.json and RESULTS.md are written (default bench/results/tio2_reference)")
    p.add_argument("--T-K", type=float, default=600.0, help="temperature of the bulk and slab runs, K (default 600)")
    p.add_argument("--bulk-ps", type=float, default=6.0, help="NPT length of each bulk run, ps (default 6)")
    p.add_argument("--slab-ps", type=float, default=3.0, help="Langevin length of each slab run, ps, >= 1.1 "
                   "(default 3)")
    p.add_argument("--reuse", action="store_true", help="take each run whose record.json in --out has the same "
                   "settings from there instead of running it again")
    p.add_argument("--force", action="store_true", help="overwrite existing results")
    return p.parse_args(argv)


def cached(folder: Path, settings: dict, compute, reuse: bool) -> dict:
    """compute() -> record, kept in FOLDER/record.json with SETTINGS; with reuse, a record of the same settings
    is read back instead."""
    import json

    from beamheat.io import write_json

    path = folder / "record.json"
    if reuse and path.is_file():
        kept = json.loads(path.read_text())
        if kept.get("settings") == settings:
            return kept["record"]
    record = compute()
    folder.mkdir(parents=True, exist_ok=True)
    write_json(path, {"settings": settings, "record": record})
    return record


def main(argv=None) -> int:
    from bench.lib.records import machine_info, repo_path, results_files, write_results
    from beamheat import validate as v

    a = parse_args(argv)
    v.in_range("--T-K", a.T_K, 1.0, 2000.0, "K")
    v.in_range("--bulk-ps", a.bulk_ps, 0.2, 1000.0, "ps")
    v.in_range("--slab-ps", a.slab_ps, 1.1, 1000.0, "ps")
    res_json, res_md = results_files(a.results, a.force)
    a.out = a.out.resolve()  # each LAMMPS run starts in its own folder
    a.out.mkdir(parents=True, exist_ok=True)
    key = {"potential_sha256": hashlib.sha256(POTENTIAL.read_bytes()).hexdigest()}
    res = {"command": "python -m bench.tio2_reference " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine_info(), "potential": repo_path(POTENTIAL), "T_K": a.T_K, "bulk_ps": a.bulk_ps,
           "slab_ps": a.slab_ps, "bulk": [], "slabs": [], "binding": []}
    for phase in ("anatase", "rutile"):
        res["bulk"].append(cached(a.out / f"bulk_{phase}", {"T_K": a.T_K, "ps": a.bulk_ps, **key},
                                  lambda: run_bulk(phase, a.out, a.T_K, a.bulk_ps), a.reuse))
        print(res["bulk"][-1], flush=True)
    for kind in SLABS:
        res["slabs"].append(cached(a.out / f"slab_{kind}", {"T_K": a.T_K, "ps": a.slab_ps, **key},
                                   lambda: run_slab(kind, a.out, a.T_K, a.slab_ps), a.reuse))
        print(res["slabs"][-1], flush=True)
    for kind in SLABS:
        for what in ("adatom", "Au45"):
            res["binding"].append(cached(a.out / f"bind_{what}_{kind}", key,
                                         lambda: run_binding(kind, a.out, what), a.reuse))
            print(res["binding"][-1], flush=True)
    res["dft_comparison"] = [{"support": b["support"], "classical_eV": b["E_int_eV"],
                              "factor_max": DFT_ADATOM_MAX_EV / abs(b["E_int_eV"])}
                             for b in res["binding"] if b["adsorbate"] == "adatom"]
    res["dft_source"] = ("DFT (slab models): Au atoms bind to regular TiO2 sites with De < 0.5 eV and to O vacancies "
                         "with De = 1.7 eV (A. S. Wörz, U. Heiz, F. Cinquini, G. Pacchioni, J. Phys. Chem. B 109, "
                         "18418 (2005), doi:10.1021/jp054093o). "
                         "The classical reference has no O-vacancy trapping (Au carries no charge).")
    res["dft_labels"] = [repo_path(x) for x in DFT_LABELS]
    res["dft_au6"] = against_dft_labels(list(DFT_LABELS))
    print(write_results(res_json, res_md, res, markdown))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
