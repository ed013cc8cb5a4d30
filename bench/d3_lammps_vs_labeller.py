"""LAMMPS's D3 baseline against the labeller's D3, on the labelled frames themselves.

    python -m bench.d3_lammps_vs_labeller [--labels dft/au_hbn/labels_pw500.extxyz]
                                          [--baseline lammps_inputs/potentials/baseline_d3_au_hbn.in]
                                          [--results bench/results/d3_au_hbn] [--force]

A NequIP model of DFT-D3 labels learns the labels minus D3 and runs overlaid on LAMMPS's `dispersion/d3`: the two
must be the same function. `dft.label --d3` stores the labeller's D3 share of each frame (info energy_d3, arrays
forces_d3, from the dftd3 package); this evaluates the baseline file's D3 on the same frames as LAMMPS single points
(beamheat.lammps_run, types Au B N), first with the labeller's cutoffs (60 and 40 bohr), per frame |ΔE| (eV) and
max |ΔF| (eV/Å), then with the file's own cutoffs and any --cutoffs: what a shorter, faster D3 leaves out.
Writes RESULTS.json and RESULTS.md (not overwritten without --force).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench.lib.records import repo_path
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write, write_json

ROOT = Path(__file__).resolve().parents[1]
TYPES = ["Au", "B", "N"]


def with_cutoffs(baseline: Path, cutoff_A: float, cn_cutoff_A: float, tmp: Path) -> Path:
    """A copy of the D3 baseline file with other cutoffs (pair sum, coordination numbers), Å."""
    text = Path(baseline).read_text()
    lines = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["pair_style"] and "dispersion/d3" in words:
            i = words.index("dispersion/d3")
            words[i + 3:i + 5] = [f"{cutoff_A:g}", f"{cn_cutoff_A:g}"]
            line = " ".join(words)
        lines.append(line)
    out = tmp / f"d3_{cutoff_A:g}_{cn_cutoff_A:g}.in"
    out.write_text("\n".join(lines) + "\n")
    return out


LABELLER_CUTOFFS_A = (31.7506, 21.1671)  # the dftd3 package's 60 and 40 bohr


def template_cutoffs(baseline: Path) -> tuple[float, float]:
    """The (pair, CN) cutoffs, Å, of the dispersion/d3 style in a baseline file."""
    for line in Path(baseline).read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["pair_style"] and "dispersion/d3" in words:
            i = words.index("dispersion/d3")
            return float(words[i + 3]), float(words[i + 4])
    raise UserError(f"{baseline}: no pair_style ... dispersion/d3 line")


def compare(frames, baseline: Path) -> list[dict]:
    """Per frame, the baseline's D3 (LAMMPS single points) against the labeller's."""
    from models.baseline import baseline_values

    rows = []
    for k, (a, (e, f)) in enumerate(zip(frames, baseline_values(frames, baseline, TYPES))):
        rows.append({"frame": int(a.info.get("frame", k)), "kind": str(a.info.get("kind", "")), "n_atoms": len(a),
                     "energy_d3_labeller_eV": float(a.info["energy_d3"]), "energy_d3_lammps_eV": e,
                     "abs_dE_eV": abs(e - float(a.info["energy_d3"])),
                     "max_abs_dF_eV_per_A": float(np.abs(f - a.arrays["forces_d3"]).max())})
    return rows


def binding_left_out(frames, rows) -> dict | None:
    """What a cutoff leaves out of the particle's binding: over each system's copy-0 scan (bench.lib.binding),
    the largest |E_b(LAMMPS D3) - E_b(labeller D3)|, eV, and the DFT well depth it compares with. None when no
    scan has both bodies labelled."""
    from bench.lib.binding import binding_curves, binding_of

    e_lmp = {id(a): r["energy_d3_lammps_eV"] for a, r in zip(frames, rows)}
    worst, well = None, None
    for curve in binding_curves(frames).values():
        d3_cut = binding_of(curve, lambda a: e_lmp[id(a)])
        dev = max(abs(x - y) for x, y in zip(d3_cut, curve["E_b_d3_eV"]))
        if worst is None or dev > worst:
            worst, well = dev, min(curve["E_b_eV"])
    return None if worst is None else {"max_abs_dE_b_eV": worst, "well_eV": well}


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m bench.d3_lammps_vs_labeller", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--labels", default=str(ROOT / "dft" / "au_hbn" / "labels_pw500.extxyz"),
                   help="dft.label --export file of D3 labels (default dft/au_hbn/labels_pw500.extxyz)")
    p.add_argument("--baseline", default=str(ROOT / "lammps_inputs" / "potentials" / "baseline_d3_au_hbn.in"),
                   help="the LAMMPS D3 overlay template (default lammps_inputs/potentials/baseline_d3_au_hbn.in)")
    p.add_argument("--results", default=str(ROOT / "bench" / "results" / "d3_au_hbn"),
                   help="writes RESULTS.json and RESULTS.md (default bench/results/d3_au_hbn)")
    p.add_argument("--cutoffs", default="",
                   help="also compare shorter cutoffs, 'PAIR/CN' in Å, space separated, e.g. '12/10 10/8' (a "
                        "shorter D3 runs faster in MD; the table shows what it leaves out) (default: none)")
    p.add_argument("--force", action="store_true", help="overwrite the results")
    a = p.parse_args(argv)
    labels = v.input_file(a.labels, "--labels", "labels file")
    baseline = v.input_file(a.baseline, "--baseline", "baseline file")
    out_json, out_md = Path(a.results + ".json"), Path(a.results + ".md")
    v.output_files([out_json, out_md], "--results", force=a.force, inputs=[labels, baseline], mkdir=True)
    from ase.io import read

    frames = [f for f in read(labels, index=":") if "energy_d3" in f.info and "forces_d3" in f.arrays]
    if not frames:
        raise UserError(f"{labels}: no frame carries energy_d3 and forces_d3 (labelled without dft.label --d3?)")
    cutoffs = [template_cutoffs(baseline)]
    for item in a.cutoffs.split():
        pair = v.csv_numbers("--cutoffs", item, float, count=2, sep="/")
        v.positive("--cutoffs", pair, "Å")
        cutoffs.append(pair)
    import tempfile

    tmpdir = tempfile.TemporaryDirectory()
    rows = compare(frames, with_cutoffs(baseline, *LABELLER_CUTOFFS_A, Path(tmpdir.name)))
    worst_e = max(r["abs_dE_eV"] for r in rows)
    worst_f = max(r["max_abs_dF_eV_per_A"] for r in rows)
    summary = {"labels": repo_path(a.labels), "baseline": repo_path(a.baseline), "n_frames": len(rows),
               "max_abs_dE_eV": worst_e, "max_abs_dF_eV_per_A": worst_f, "frames": rows}
    if cutoffs:
        summary["shorter_cutoffs"] = []
        md_cut = ["", "## The file's cutoffs (first row) and others, against the labeller", "",
                  "| pair / CN cutoff (Å) | largest abs ΔE (eV) | largest abs ΔE per atom (meV) | largest abs ΔF (eV/Å) "
                  "| largest abs ΔE_b of the scans (eV) |",
                  "|---|---|---|---|---|"]
        with tmpdir as tmp:
            for rc, rcn in cutoffs:
                r = compare(frames, with_cutoffs(baseline, rc, rcn, Path(tmp)))
                item = {"cutoff_A": rc, "cn_cutoff_A": rcn, "max_abs_dE_eV": max(x["abs_dE_eV"] for x in r),
                        "max_abs_dE_per_atom_meV": max(1000 * x["abs_dE_eV"] / x["n_atoms"] for x in r),
                        "max_abs_dF_eV_per_A": max(x["max_abs_dF_eV_per_A"] for x in r),
                        "binding": binding_left_out(frames, r)}
                summary["shorter_cutoffs"].append(item)
                b = item["binding"]
                b_txt = "–" if b is None else f"{b['max_abs_dE_b_eV']:.3g} (well {b['well_eV']:.3g})"
                md_cut.append(f"| {rc:g} / {rcn:g} | {item['max_abs_dE_eV']:.3g} | "
                              f"{item['max_abs_dE_per_atom_meV']:.3g} | {item['max_abs_dF_eV_per_A']:.3g} | {b_txt} |")
                print(f"cutoffs {rc:g}/{rcn:g} A: largest |dE| {item['max_abs_dE_eV']:.3g} eV, "
                      f"largest |dF| {item['max_abs_dF_eV_per_A']:.3g} eV/A")
    out_json.parent.mkdir(parents=True, exist_ok=True)
    write_json(out_json, summary)
    md = ["# LAMMPS dispersion/d3 against the labeller's D3 (dftd3)", "",
          f"`python -m bench.d3_lammps_vs_labeller --labels {repo_path(a.labels)}`: {len(rows)} labelled frames, "
          f"baseline `{repo_path(a.baseline)}`.", "",
          f"With the labeller's cutoffs (60 and 40 bohr): largest |ΔE| {worst_e:.2e} eV, largest |ΔF| "
          f"{worst_f:.2e} eV/Å.", "",
          "| frame | kind | atoms | E_D3 labeller (eV) | E_D3 LAMMPS (eV) | abs ΔE (eV) | max abs ΔF (eV/Å) |",
          "|---|---|---|---|---|---|---|"]
    md += [f"| {r['frame']} | {r['kind']} | {r['n_atoms']} | {r['energy_d3_labeller_eV']:.6f} | "
           f"{r['energy_d3_lammps_eV']:.6f} | {r['abs_dE_eV']:.1e} | {r['max_abs_dF_eV_per_A']:.1e} |" for r in rows]
    atomic_write(out_md, "\n".join(md + (md_cut if cutoffs else [])) + "\n")
    print(f"{len(rows)} frames: largest |dE| {worst_e:.2e} eV, largest |dF| {worst_f:.2e} eV/A; wrote {out_md}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
