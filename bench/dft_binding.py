"""The particle's binding curve on its support from DFT labels, beside the classical teacher's on the same frames.

    python -m bench.dft_binding [--labels dft/au_hbn/labels.extxyz] [--compare dft/au_hbn/labels_pw500.extxyz]
                                [--teacher lammps_inputs/potentials/classical_au_hbn.in]
                                [--results bench/results/dft_binding_au_hbn] [--force]

The labels are those of `models.candidates` frames (dft.label keeps their info: system, kind, copy, gap_A): for
each system, the rigid scan of copy 0 and the two bodies alone in the same cell give the binding energy
    E_b(gap) = E(particle on support at gap) - E(particle) - E(support)     (eV; per contact area in meV/Å²)
and, from the D3 share dft.label records, how much of it is dispersion (E_b^D3) and how much the functional
(E_b - E_b^D3). The teacher's E_b comes from LAMMPS single points of the same frames. The contact area is
beamheat.geometry's A of the particle (its bottom layer's dilated hull), as for k. A scan whose bodies are not
labelled yet is left out, and so are gaps not labelled yet. --compare gives a second set of labels of the same
frames (e.g. the paper's PW 500 eV): both binding curves, and the deviations of forces (per element) and energies
(after one constant per element) on every frame both hold.
Writes RESULTS.json and RESULTS.md (not overwritten without --force).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench.lib.binding import binding_curves, binding_of, contact_area_A2
from bench.lib.records import repo_path
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write, write_json

ROOT = Path(__file__).resolve().parents[1]


def type_names_of(frames, source) -> list[str]:
    """The LAMMPS types of the classical references (beamheat.build's order): Au, then the support's elements."""
    from beamheat.build import SUPPORT_ELEMENTS

    present = set().union(*(a.get_chemical_symbols() for a in frames))
    for elements in dict.fromkeys(SUPPORT_ELEMENTS.values()):
        if present <= {"Au", *elements}:
            return ["Au", *elements]
    raise UserError(f"{source}: elements {', '.join(sorted(present))} are not Au on one of beamheat.build's supports")


def teacher_curve(curve: dict, potential: Path, type_names) -> list[float]:
    """The teacher's E_b along CURVE: single points of the potential file run as the inputs run it (the loop's
    lammps labeller: charges, kspace, a slab's fixed z boundary)."""
    from models.loop.labellers import LammpsLabeller

    lab = LammpsLabeller(str(potential), list(type_names), None)
    lab.check_types()
    return binding_of(curve, lambda a: lab.energy_forces(a)[0])


def deviations(frames_a, frames_b) -> dict:
    """Labels B against labels A on the frames both hold (matched by `frame`): forces (RMSE and largest |ΔF| per
    element, eV/Å) and energies after taking off one constant per element (least squares over the frames: two
    DFT settings differ by per-element reference energies), as RMS per atom (eV/atom)."""
    b = {int(x.info["frame"]): x for x in frames_b}
    pairs = [(x, b[int(x.info["frame"])]) for x in frames_a if int(x.info["frame"]) in b]
    if not pairs:
        return {"n_frames": 0}
    elements = sorted({e for x, _ in pairs for e in x.get_chemical_symbols()})
    dF = {e: [] for e in elements}
    for x, y in pairs:
        d = y.get_forces() - x.get_forces()
        for e, row in zip(x.get_chemical_symbols(), d):
            dF[e].append(row)
    counts = np.array([[x.get_chemical_symbols().count(e) for e in elements] for x, _ in pairs], float)
    dE = np.array([y.get_potential_energy() - x.get_potential_energy() for x, y in pairs])
    mu = np.linalg.lstsq(counts, dE, rcond=None)[0]
    resid = (dE - counts @ mu) / counts.sum(axis=1)
    return {"n_frames": len(pairs), "frames": [int(x.info["frame"]) for x, _ in pairs],
            "force_rmse_eV_per_A": {e: float(np.sqrt(np.mean(np.square(dF[e])))) for e in elements},
            "force_max_abs_eV_per_A": {e: float(np.abs(dF[e]).max()) for e in elements},
            "element_offsets_eV": dict(zip(elements, map(float, mu))),
            "energy_rms_eV_per_atom": float(np.sqrt(np.mean(resid ** 2))),
            "note": f"only {len(pairs)} frames: the per-element constants absorb much of the difference"
                    if len(pairs) <= 2 * len(elements) else ""}


def _read(path: Path):
    from ase.io import read

    try:
        return read(path, index=":")
    except Exception as e:  # noqa: BLE001 - ASE raises many kinds
        raise UserError(f"{path}: cannot read labels ({e.__class__.__name__}: {str(e)[:100]})") from None


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m bench.dft_binding", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--labels", default=str(ROOT / "dft" / "au_hbn" / "labels.extxyz"),
                   help="dft.label --export file (default dft/au_hbn/labels.extxyz)")
    p.add_argument("--compare", help="a second labels file of the same frames, e.g. at the paper's settings")
    p.add_argument("--teacher", default=str(ROOT / "lammps_inputs" / "potentials" / "classical_au_hbn.in"),
                   help="LAMMPS potential file of the teacher (default: the classical Au/hBN reference); "
                        "'none' skips it")
    p.add_argument("--results", default=str(ROOT / "bench" / "results" / "dft_binding_au_hbn"),
                   help="writes RESULTS.json and RESULTS.md (default bench/results/dft_binding_au_hbn)")
    p.add_argument("--force", action="store_true", help="overwrite the results")
    a = p.parse_args(argv)
    labels = v.input_file(a.labels, "--labels", "labels file")
    other = v.input_file(a.compare, "--compare", "labels file") if a.compare else None
    teacher = None if a.teacher == "none" else v.input_file(a.teacher, "--teacher", "potential file")
    out_json, out_md = Path(a.results + ".json"), Path(a.results + ".md")
    v.output_files([out_json, out_md], "--results", force=a.force, inputs=[x for x in (labels, other) if x],
                   mkdir=True)
    frames = _read(labels)
    curves = binding_curves(frames)
    if not curves:
        raise UserError(f"{labels}: no system has its copy-0 scan and both bodies labelled yet")
    other_frames = _read(other) if other else []
    compared = binding_curves(other_frames) if other else {}
    md = ["# Binding curve of the particle on its support: DFT labels and the classical teacher", "",
          f"`python -m bench.dft_binding --labels {repo_path(a.labels)}"
          + (f" --compare {repo_path(a.compare)}" if a.compare else "")
          + (" --teacher none" if teacher is None else f" --teacher {repo_path(a.teacher)}") + "`", ""]
    result = {"labels": repo_path(a.labels), "compare": a.compare and repo_path(a.compare),
              "teacher": None if teacher is None else repo_path(a.teacher),
              "systems": {}}
    for s, c in curves.items():
        area = contact_area_A2(c)
        r = {k: x for k, x in c.items() if not k.startswith("_")}
        r["contact_area_A2"] = area
        if teacher is not None:
            r["E_b_teacher_eV"] = teacher_curve(c, teacher, type_names_of(frames, labels))
        if s in compared:
            cc = compared[s]
            common = sorted(set(cc["frames"]) & set(c["frames"]))
            r["compare"] = {"frames": common,
                            "E_b_eV": [cc["E_b_eV"][cc["frames"].index(f)] for f in common]}
        result["systems"][s] = r
        well = int(np.argmin(r["E_b_eV"]))
        headline = (f"{s}: DFT well {r['E_b_eV'][well]:.3f} eV at {r['gap_A'][well]:g} Å "
                    f"({1000 * r['E_b_eV'][well] / area:.1f} meV/Å² over {area:.1f} Å²)"
                    + (f", teacher's well {min(r['E_b_teacher_eV']):.3f} eV" if teacher is not None else ""))
        md += [f"## {s}: contact area {area:.1f} Å²", "",
               f"DFT well: {r['E_b_eV'][well]:.3f} eV at {r['gap_A'][well]:g} Å "
               f"({1000 * r['E_b_eV'][well] / area:.1f} meV/Å²), of which D3 {r['E_b_d3_eV'][well]:.3f} eV"
               + (f"; teacher at that gap {r['E_b_teacher_eV'][well]:.3f} eV, its well "
                  f"{min(r['E_b_teacher_eV']):.3f} eV (DFT/teacher well depths "
                  f"{r['E_b_eV'][well] / min(r['E_b_teacher_eV']):.2f})" if teacher is not None else ""), "",
               "| gap (Å) | E_b DFT (eV) | of which D3 (eV) | DFT without D3 (eV) | E_b DFT (meV/Å²) |"
               + (" teacher (eV) |" if teacher is not None else "")
               + (" compared (eV) |" if "compare" in r else ""),
               "|---|---|---|---|---|" + ("---|" if teacher is not None else "") + ("---|" if "compare" in r else "")]
        for k, g in enumerate(r["gap_A"]):
            row = (f"| {g:g} | {r['E_b_eV'][k]:.4f} | {r['E_b_d3_eV'][k]:.4f} | "
                   f"{r['E_b_eV'][k] - r['E_b_d3_eV'][k]:.4f} | {1000 * r['E_b_eV'][k] / area:.2f} |")
            if teacher is not None:
                row += f" {r['E_b_teacher_eV'][k]:.4f} |"
            if "compare" in r:
                f = r["frames"][k]
                cmp = r["compare"]
                row += f" {cmp['E_b_eV'][cmp['frames'].index(f)]:.4f} |" if f in cmp["frames"] else " – |"
            md.append(row)
        md.append("")
        print(headline)
    if other:
        dev = deviations(frames, other_frames)
        result["deviations"] = dev
        md += [f"## {repo_path(a.compare)} against {repo_path(a.labels)}", "", f"{dev['n_frames']} frames in both."]
        if dev["n_frames"]:
            md += ["", "| element | force RMSE (eV/Å) | largest abs ΔF (eV/Å) |", "|---|---|---|"]
            md += [f"| {e} | {dev['force_rmse_eV_per_A'][e]:.3f} | {dev['force_max_abs_eV_per_A'][e]:.3f} |"
                   for e in dev["force_rmse_eV_per_A"]]
            md += ["", f"Energies after one constant per element: RMS {1000 * dev['energy_rms_eV_per_atom']:.2f} "
                       f"meV/atom. {dev['note']}"]
        print(f"{dev['n_frames']} frames compared: " + ", ".join(
            f"{e} force RMSE {x:.3f} eV/A" for e, x in dev.get("force_rmse_eV_per_A", {}).items()))
    out_json.parent.mkdir(parents=True, exist_ok=True)
    write_json(out_json, result)
    atomic_write(out_md, "\n".join(md) + "\n")
    print(f"wrote {out_md}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
