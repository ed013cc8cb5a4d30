"""The loop's structures: generation 0's builder structures, the explored systems, and the rigid particle-support
scans of protocol kind scan."""

from __future__ import annotations

import numpy as np

from models.loop.config import INITIAL_KINDS, LoopError, System, entry_defaults


# generation 0's particle_on_support frames: particle-support gaps drawn uniformly from these ranges (Å), which
# hold beamheat.build's DEFAULT_GAP_A (hBN 3.2 Å, TiO2 2.4 Å)
INITIAL_GAPS_A = {"hbn": (2.5, 3.6), "anatase101": (1.9, 3.2), "rutile101": (1.9, 3.2), "rutile110": (1.9, 3.2)}


def _rattle(atoms, rng, particle_element, scale_p, scale_s):
    """ATOMS displaced in place by Gaussian noise: scale_p (Å) for the particle element, scale_s (Å) for the rest."""
    sym = np.array(atoms.get_chemical_symbols())
    scale = np.where(sym == particle_element, scale_p, scale_s)[:, None]
    atoms.positions += rng.normal(size=atoms.positions.shape) * scale
    return atoms


def initial_structures(cfg: dict) -> list:
    """Generation 0 from builder structures: rattled bulk, surfaces, bare particles, bare support and particles on
    the support (beamheat.build), with gaps drawn from INITIAL_GAPS_A."""
    from ase.build import bulk, fcc111
    from beamheat.build import assemble, particle, support

    ini = cfg["initial"]
    el = ini["element"] or cfg["type_names"][0]
    sup = ini["support"]
    kinds = [k for k in ini["kinds"] if sup or k not in ("support", "particle_on_support")]
    unknown = set(kinds) - set(INITIAL_KINDS)
    if unknown:
        raise LoopError(f"initial.kinds: unknown {sorted(unknown)}")
    rng = np.random.default_rng(ini["seed"])
    frames = []
    for i in range(int(ini["n_frames"])):
        kind = kinds[i % len(kinds)]
        if kind == "bulk":
            a = bulk(el, "fcc", cubic=True).repeat((2, 2, 2))
            a.set_cell(a.cell * rng.uniform(0.97, 1.03), scale_atoms=True)
        elif kind == "surface":  # on TiO2 in an orthogonal cell, as the slabs': PPPM's slab correction needs one
            a = fcc111(el, size=(3, 3, 4), vacuum=6.0, periodic=True) if sup in (None, "hbn") else \
                fcc111(el, size=(3, 4, 4), vacuum=6.0, periodic=True, orthogonal=True)
        elif kind == "particle":
            a = particle(el, diameter_nm=rng.uniform(0.7, 1.1), height_ratio=rng.uniform(0.5, 1.0))
            a.center(vacuum=5.0)
            a.pbc = False
        elif kind == "support":
            a = support(sup, (10.0, 10.0))
            a.center(vacuum=6.0, axis=2)
        else:
            p = particle(el, diameter_nm=rng.uniform(0.7, 1.1), height_ratio=rng.uniform(0.5, 1.0))
            s = support(sup, tuple(np.ptp(p.positions[:, :2], axis=0) + 6.0))
            a = assemble(p, s, gap_A=rng.uniform(*INITIAL_GAPS_A[sup]), vacuum_A=6.0)
        a = _rattle(a, rng, el, ini["rattle_A"], ini["rattle_support_A"])
        a.info.update({"source": f"initial:{kind}", "frame": i, "generation": 0})
        frames.append(a)
    return frames


def system_atoms(sysd: dict):
    """The atoms of a `systems` entry: its file, or a particle (on its support) built by beamheat.build."""
    from ase.io import read
    from beamheat.build import DEFAULT_GAP_A, assemble, particle, support

    if "file" in sysd:
        return read(sysd["file"])
    d = {**entry_defaults(System), **sysd}
    p = particle(d["element"], diameter_nm=d["diameter_nm"], height_ratio=d["height_ratio"])
    if not d["support"]:
        p.center(vacuum=8.0)
        p.pbc = True
        return p
    xy = tuple(np.ptp(p.positions[:, :2], axis=0) + 2 * d["margin_A"])
    if d["support"] == "hbn":
        s = support("hbn", xy, layers=d["layers"])
    elif d["thickness_A"] is not None:
        s = support(d["support"], xy, thickness_A=d["thickness_A"])
    else:
        s = support(d["support"], xy)
    gap = d["gap_A"] if d["gap_A"] is not None else DEFAULT_GAP_A[d["support"]]
    return assemble(p, s, gap_A=gap, vacuum_A=d["vacuum_A"])


def scan_frames(system, particle, gaps_A, *, shifts: int, rattle_A: float, rattle_support_A: float, seed: int) -> list:
    """Rigid particle-support scans (protocol kind scan): SHIFTS rattled copies of SYSTEM (particle atoms by
    rattle_A, support atoms by rattle_support_A, Å, Gaussian), each at every gap of GAPS_A (Å, lowest particle atom
    to highest support atom), the first at the built lateral position and the others shifted at random by up to
    3 Å in x and y. Within one copy only the gap changes, so the labels' energy differences along it are the
    particle-support interaction alone: the adhesion that force-based selection cannot see (a 0.6 eV well spread
    over a 261-atom frame moves no force by more than a few 0.01 eV/Å)."""
    from beamheat.build import rigid_gap

    rng = np.random.default_rng(seed)
    frames = []
    for c in range(int(shifts)):
        base = system.copy()
        base.positions[particle] += rng.normal(size=(int(particle.sum()), 3)) * rattle_A
        base.positions[~particle] += rng.normal(size=(int((~particle).sum()), 3)) * rattle_support_A
        shift = np.zeros(2) if c == 0 else rng.uniform(0.0, 3.0, 2)
        for gap in gaps_A:
            a = rigid_gap(base, particle, float(gap), shift)
            a.info.update({"copy": c, "gap_A": float(gap), "shift_x_A": float(shift[0]), "shift_y_A": float(shift[1])})
            frames.append(a)
    return frames


