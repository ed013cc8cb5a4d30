"""Configurations for DFT labels of a particle on its support: teacher MD, rigid scans and the two bodies alone.

    python -m models.candidates OUT.extxyz [--diameters-nm 0.6,0.8] [--temperatures-K 300,600,900] [--force]
    python -m models.candidates OUT.extxyz --bodies-of CANDIDATES.extxyz [--force]
    python -m models.candidates OUT.extxyz --support anatase101,rutile101 --diameters-nm 0.5 --margin-A 2
                                [--thickness-A 2] [--force]

For each particle size, a particle (beamheat.build, (111) facet down) is put on a periodic support patch, and:
  scan     rigid particle-support scans (models.loop.scan_frames): the particle moved over the support at each gap,
           in `--shifts` copies (the first at the built lateral position, the others shifted at random), so
           that DFT energy differences along a copy are the binding curve itself;
  bodies   the particle alone and the support alone, each in the same cell as the scan frames: with them a DFT
           database gives the binding energy E_b = E(particle on support) - E(particle) - E(support): the bodies
           of every scan copy, each copy being rattled on its own;
  md       snapshots of the teacher's MD (a classical LAMMPS potential, by default the Au/hBN reference
           lammps_inputs/potentials/classical_au_hbn.in) at each temperature: Langevin, one snapshot every
           `--md-interval-ps` after `--md-equilibrate-ps`.
  md bodies  (--bodies-of CANDIDATES) the particle alone and the support alone of every MD snapshot of an earlier
           candidates file, in the snapshot's cell and at its place (kinds md_particle, md_support; `of_frame` is
           the snapshot's `frame`): cheap labels of each body at thermal geometries (Au10 alone is a sixteenth of
           Au10 on hBN in PW DFT), and with the snapshot's own label its interaction energy. Their `frame` numbers
           continue CANDIDATES' own.
Frames come out in the order in which labelling them pays most: every system's first scan copy and bodies, then
the MD snapshots, then the other scan copies. Each frame's info says what it is: kind (scan, particle, support,
md), system, gap_A, copy, T_K; `source` and `frame` as dft.label records them.
Cells are sized for DFT: the support patch extends `--margin-A` beyond the particle on each side and the vacuum
above the particle (at the largest scan gap) and below the support is `--vacuum-A`.
TiO2 supports (anatase101, rutile101, rutile110; several at once as a comma list, one system each): beamheat.build's
stoichiometric slabs, at least `--thickness-A` thick (its thinnest clean cut), scanned at the TiO2 gaps (default
1.9-6 Å, from the Au-O contact to beyond the well); no teacher MD (the classical Au/TiO2 reference is what the
labels are for: --md-frames is 0 for them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run

SCAN_GAPS_A = (2.6, 2.9, 3.2, 3.5, 3.9, 4.5, 5.5, 6.5)
TIO2_SCAN_GAPS_A = (1.9, 2.2, 2.5, 2.8, 3.2, 3.8, 4.6, 6.0)  # Au-O bonds are ~2.1-2.3 Å
TIO2_SUPPORTS = ("anatase101", "rutile101", "rutile110")


def interface_system(element: str, support_kind: str, diameter_nm: float, height_ratio: float, margin_A: float,
                     vacuum_A: float, max_gap_A: float, thickness_A: float = 8.0):
    """Particle on a support patch with room for the particle at max_gap_A; returns (atoms, particle mask).
    thickness_A: the least thickness of a TiO2 slab (beamheat.build.support)."""
    from beamheat.build import DEFAULT_GAP_A, assemble, particle, rigid_gap, support

    p = particle(element, diameter_nm=diameter_nm, height_ratio=height_ratio)
    s = support(support_kind, tuple(np.ptp(p.positions[:, :2], axis=0) + 2 * margin_A), thickness_A=thickness_A)
    system = assemble(p, s, gap_A=max_gap_A, vacuum_A=vacuum_A)
    mask = np.zeros(len(system), bool)
    mask[:len(p)] = True
    return rigid_gap(system, mask, DEFAULT_GAP_A[support_kind]), mask


def bodies(system, mask) -> list:
    """The particle alone and the support alone, each in SYSTEM's cell and at its place there."""
    out = []
    for kind, keep in (("particle", mask), ("support", ~mask)):
        a = system[keep]
        a.info["kind"] = kind
        out.append(a)
    return out


def md_bodies(frames, element: str = "Au") -> list:
    """The particle (ELEMENT's atoms) and the support of every `md` frame of FRAMES, each alone in the frame's cell,
    numbered on from FRAMES' last `frame`."""
    out = []
    start = 1 + max(int(a.info.get("frame", k)) for k, a in enumerate(frames)) if frames else 0
    for a in frames:
        if a.info.get("kind") != "md":
            continue
        is_np = np.array(a.get_chemical_symbols()) == element
        if is_np.all() or not is_np.any():
            continue
        for kind, keep in (("md_particle", is_np), ("md_support", ~is_np)):
            b = a[keep]
            b.info = {k: a.info[k] for k in ("system", "T_K") if k in a.info}
            b.info.update({"kind": kind, "of_frame": int(a.info["frame"]), "source": f"candidates:{kind}",
                           "frame": start + len(out)})
            out.append(b)
    return out


def teacher_md(system, potential: str | Path, type_names, T_K: float, *, n_frames: int, interval_ps: float,
               equilibrate_ps: float, seed: int, dt_ps: float = 0.002, damp_ps: float = 0.1) -> list:
    """N_FRAMES snapshots of Langevin MD at T_K with a classical LAMMPS potential (in-process, one rank)."""
    from beamheat.lammps_run import open_lammps, potential_commands, setup_system

    style, coeffs = potential_commands(potential)
    lmp = open_lammps()
    frames = []
    try:
        prism = setup_system(lmp, system, type_names)
        lmp.commands_list([style, *coeffs, f"timestep {dt_ps}",
                           f"velocity all create {T_K} {seed} mom yes rot yes dist gaussian",
                           f"fix bh_t all langevin {T_K} {T_K} {damp_ps} {seed + 1} zero yes", "fix bh_i all nve",
                           "thermo 0", f"run {max(1, round(equilibrate_ps / dt_ps))}"])
        for _ in range(n_frames):
            lmp.command(f"run {max(1, round(interval_ps / dt_ps))}")
            x = np.array(lmp.gather_atoms("x", 1, 3), dtype=float).reshape(len(system), 3)
            a = system.copy()
            a.positions = prism.vector_to_ase(x, wrap=True)
            a.info.update({"kind": "md", "T_K": float(T_K)})
            frames.append(a)
    finally:
        lmp.close()
    return frames


def candidates(*, element: str = "Au", support_kind: str = "hbn", diameters_nm=(0.6, 0.8), height_ratio: float = 0.5,
               margin_A: float = 3.0, vacuum_A: float = 5.0, gaps_A=None, shifts: int = 2,
               temperatures_K=(300.0, 600.0, 900.0), md_frames: int = 3, md_interval_ps: float = 2.0,
               md_equilibrate_ps: float = 4.0, teacher: str | Path | None = None, seed: int = 0,
               thickness_A: float = 8.0) -> list:
    """All frames, in labelling order (module docstring). SUPPORT_KIND may be a sequence of kinds: one system per
    kind and diameter, every kind's first scans and bodies before any other scan copy. GAPS_A: default
    TIO2_SCAN_GAPS_A on TiO2, SCAN_GAPS_A on hBN."""
    if not isinstance(support_kind, str):
        parts = [candidates(element=element, support_kind=k, diameters_nm=diameters_nm, height_ratio=height_ratio,
                            margin_A=margin_A, vacuum_A=vacuum_A, gaps_A=gaps_A, shifts=shifts,
                            temperatures_K=temperatures_K, md_frames=md_frames, md_interval_ps=md_interval_ps,
                            md_equilibrate_ps=md_equilibrate_ps, teacher=teacher, seed=seed + 100 * i,
                            thickness_A=thickness_A) for i, k in enumerate(support_kind)]
        later = [[f for f in part if f.info.get("copy", 0) != 0] for part in parts]
        frames = [f for part, rest in zip(parts, later) for f in part if not any(f is r for r in rest)]
        frames += [f for rest in later for f in rest]
        for i, a in enumerate(frames):
            a.info["frame"] = i
        return frames
    if gaps_A is None:
        gaps_A = TIO2_SCAN_GAPS_A if support_kind in TIO2_SUPPORTS else SCAN_GAPS_A
    if support_kind in TIO2_SUPPORTS and md_frames:
        raise UserError(f"--support {support_kind}: no teacher MD on TiO2 (the labels are what the classical "
                        f"Au-TiO2 interaction is fitted to); use --md-frames 0")
    from beamheat.build import type_map

    from models.loop import scan_frames

    if teacher is None:
        from beamheat.lammps_plugin import inputs_dir

        teacher = inputs_dir() / "potentials" / "classical_au_hbn.in"
    first, md, rest = [], [], []
    for k, d in enumerate(diameters_nm):
        system, mask = interface_system(element, support_kind, d, height_ratio, margin_A, vacuum_A, max(gaps_A),
                                        thickness_A)
        name = f"{element}{int(mask.sum())}_{support_kind}"
        scans = scan_frames(system, mask, gaps_A, shifts=shifts, rattle_A=0.05, rattle_support_A=0.02,
                            seed=seed + k)
        for a in scans:
            a.info["kind"] = "scan"
        n_gaps = len(gaps_A)
        first += scans[:n_gaps] + bodies(scans[0], mask)
        for c in range(1, shifts):
            copy = scans[c * n_gaps:(c + 1) * n_gaps]
            rest += bodies(copy[0], mask) + copy
        types = list(type_map(system, element))
        for j, T in enumerate(temperatures_K if md_frames else ()):
            md += teacher_md(system, teacher, types, T, n_frames=md_frames, interval_ps=md_interval_ps,
                             equilibrate_ps=md_equilibrate_ps, seed=1000 * (seed + 1) + 10 * k + j)
        for a in first + md + rest:
            a.info.setdefault("system", name)
    frames = first + md + rest
    for i, a in enumerate(frames):
        a.info.update({"source": f"candidates:{a.info['kind']}", "frame": i})
    return frames


def _csv(values) -> str:
    return ",".join(f"{x:g}" for x in values)


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.candidates", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("out", help="extxyz file of the configurations (for python -m dft.label)")
    p.add_argument("--element", default="Au", help="particle element (default Au)")
    p.add_argument("--support", default="hbn", help="support kind of beamheat.build, or a comma list of TiO2 kinds "
                   f"({', '.join(TIO2_SUPPORTS)}) (default hbn)")
    p.add_argument("--thickness-A", type=float, default=8.0, help="least TiO2 slab thickness, Å (default 8; "
                   "beamheat.build's thinnest clean cut: 2 gives one anatase (101) trilayer)")
    p.add_argument("--diameters-nm", default="0.6,0.8", help="particle diameters, nm (default 0.6,0.8)")
    p.add_argument("--height-ratio", type=float, default=0.5, help="particle height/width (default 0.5)")
    p.add_argument("--margin-A", type=float, default=3.0, help="support beyond the particle on each side, Å "
                   "(default 3)")
    p.add_argument("--vacuum-A", type=float, default=5.0, help="vacuum above and below, Å (default 5)")
    p.add_argument("--gaps-A", help="scan gaps, lowest particle atom to highest support atom, Å (default: "
                   f"{_csv(SCAN_GAPS_A)} on hBN, {_csv(TIO2_SCAN_GAPS_A)} on TiO2)")
    p.add_argument("--shifts", type=int, default=2, help="scan copies per system (default 2)")
    p.add_argument("--temperatures-K", default="300,600,900", help="teacher MD temperatures, K (default 300,600,900)")
    p.add_argument("--md-frames", type=int, help="MD snapshots per temperature and system (default 3 on hBN, "
                   "0 on TiO2)")
    p.add_argument("--md-interval-ps", type=float, default=2.0, help="time between snapshots, ps (default 2)")
    p.add_argument("--teacher", help="LAMMPS potential include file of the teacher (default: the classical Au/hBN "
                   "reference, lammps_inputs/potentials/classical_au_hbn.in)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--bodies-of", metavar="CANDIDATES", help="instead: the two bodies alone of every MD snapshot in "
                   "this candidates file (the other options are not used)")
    p.add_argument("--force", action="store_true", help="overwrite OUT")
    a = p.parse_args(argv)
    if a.bodies_of:
        from ase.io import read

        from models.data import write_frames

        src = v.input_file(a.bodies_of, "--bodies-of", "candidates file")
        out = v.output_file(a.out, "OUT", force=a.force, mkdir=True, inputs=[src])
        try:
            given = read(src, index=":")
        except Exception as e:  # noqa: BLE001 - ASE raises many kinds
            raise UserError(f"{src}: cannot read configurations ({e.__class__.__name__}: {str(e)[:100]})") from None
        frames = md_bodies(given, a.element)
        if not frames:
            raise UserError(f"{src}: no MD snapshot (kind md) with both a particle ({a.element}) and a support")
        write_frames(out, frames)
        print(f"wrote {len(frames)} configurations to {out}: the bodies of {len(frames) // 2} MD snapshots")
        return 0
    diameters = v.csv_numbers("--diameters-nm", a.diameters_nm, float)
    kinds = [k.strip() for k in a.support.split(",")]
    for k in kinds:
        v.choice("--support", k, ("hbn", *TIO2_SUPPORTS))
    on_tio2 = all(k in TIO2_SUPPORTS for k in kinds)
    if len(kinds) > 1 and not on_tio2:
        raise UserError(f"--support {a.support}: a list of supports takes TiO2 kinds only ({', '.join(TIO2_SUPPORTS)})")
    if a.md_frames is None:
        a.md_frames = 0 if on_tio2 else 3
    if on_tio2 and a.md_frames:
        raise UserError(f"--md-frames {a.md_frames}: no teacher MD on TiO2 (the labels are what the classical Au-TiO2 "
                        f"interaction is fitted to); use --md-frames 0")
    gaps = v.csv_numbers("--gaps-A", a.gaps_A or _csv(TIO2_SCAN_GAPS_A if on_tio2 else SCAN_GAPS_A), float)
    temps = v.csv_numbers("--temperatures-K", a.temperatures_K, float)
    for d in diameters:
        v.in_range("--diameters-nm", d, 0.3, 3.0, "nm")
    for g in gaps:
        v.in_range("--gaps-A", g, 1.0, 12.0, "Å")
    for t in temps:
        v.in_range("--temperatures-K", t, 1.0, 3000.0, "K", lo_open=True)
    v.in_range("--height-ratio", a.height_ratio, 0.2, 2.0)
    v.in_range("--margin-A", a.margin_A, 0.0, 30.0, "Å")
    v.in_range("--vacuum-A", a.vacuum_A, 3.0, 30.0, "Å")
    v.in_range("--thickness-A", a.thickness_A, 2.0, 100.0, "Å")
    v.integer("--shifts", a.shifts, 1)
    v.integer("--md-frames", a.md_frames, 0)
    v.positive("--md-interval-ps", a.md_interval_ps, "ps")
    teacher = v.input_file(a.teacher, "--teacher", "file") if a.teacher else None
    out = v.output_file(a.out, "OUT", force=a.force, mkdir=True)
    frames = candidates(element=a.element, support_kind=kinds[0] if len(kinds) == 1 else kinds, diameters_nm=diameters,
                        height_ratio=a.height_ratio, margin_A=a.margin_A, vacuum_A=a.vacuum_A, gaps_A=gaps,
                        shifts=a.shifts, temperatures_K=temps, md_frames=a.md_frames,
                        md_interval_ps=a.md_interval_ps, teacher=teacher, seed=a.seed, thickness_A=a.thickness_A)
    from models.data import write_frames

    out.parent.mkdir(parents=True, exist_ok=True)
    write_frames(out, frames)
    kinds = {}
    for f in frames:
        key = f"{f.info['system']} {f.info['kind']}"
        kinds[key] = kinds.get(key, 0) + 1
    print(f"wrote {len(frames)} configurations to {out}: " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
