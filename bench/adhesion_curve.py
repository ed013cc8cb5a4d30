"""Particle-support binding curve, NequIP ensemble against its classical teacher.

    python -m bench.adhesion_curve [--system lammps_inputs/data/au45_hbn/system.data] [--model "F1 F2 ..."]
                                   [--gaps-A 2.8 3.0 ...] [--results bench/results/adhesion_au45_hbn] [--force]

Heat crosses a particle-support interface only through the forces between the two bodies, so a student whose
binding curve differs from its teacher's cannot give the teacher's k, however well it conducts heat inside each
body. This is the cheapest test of that: the particle (LAMMPS type 1) is moved rigidly along z over the support,
from the built geometry, and the energy at each gap (lowest particle atom to highest support atom, Å) is taken
relative to the particle 15 Å further away than the largest gap:
    E_b(gap) = E(gap) - E(separated), eV
for the teacher (lammps_inputs/potentials/classical_au_hbn.in) and for each member of the student (pair_style
nequip, one member at a time: the bundled ensemble models/bundled/au_hbn by default), all as LAMMPS single points
(beamheat.lammps_run). A student trained on labels minus a long-range baseline runs overlaid on it (--baseline:
the bundle's baseline.in by default, as potentials/nequip.in does); the baseline's own curve is listed beside, so
the table shows what the network adds. The well depth is min over the gaps of E_b. Verdict on the ensemble mean's well depth:
"agree" when within 20 % of the teacher's, else "disagree"; the members' spread is reported beside it.

Writes RESULTS.json and RESULTS.md (not overwritten without --force) and prints the table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write, write_json

ROOT = Path(__file__).resolve().parents[1]

TEACHER = ROOT / "lammps_inputs" / "potentials" / "classical_au_hbn.in"
BUNDLED = ROOT / "models" / "bundled" / "au_hbn"
TOL = 0.2


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m bench.adhesion_curve", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--system", type=Path, default=ROOT / "lammps_inputs" / "data" / "au45_hbn" / "system.data",
                   help="LAMMPS data file of particle (type 1) on support (default: the main job's Au45/hBN)")
    p.add_argument("--elements", default="Au B N", help='element of each LAMMPS type (default "Au B N")')
    p.add_argument("--model", help='student model file(s), space separated (default: models/bundled/au_hbn, all '
                                   'members)')
    p.add_argument("--baseline",
                   help="long-range baseline (overlay template) the student runs on; 'none' for the network alone "
                        "(default: the bundle's baseline.in with the bundled members, none with --model)")
    p.add_argument("--gaps-A", type=float, nargs="+", metavar="GAP",
                   default=[2.8, 3.0, 3.2, 3.4, 3.6, 3.8, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0],
                   help="particle-support gaps, Å (default 2.8 ... 8.0)")
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "adhesion_au45_hbn",
                   help="RESULTS.json and RESULTS.md are written (default bench/results/adhesion_au45_hbn)")
    p.add_argument("--force", action="store_true", help="overwrite existing results")
    return p.parse_args(argv)


def curve(atoms, particle, gaps, pair_style: str, pair_coeff, type_names) -> np.ndarray:
    """E_b at each gap (eV), relative to the particle 15 Å beyond the largest gap."""
    from beamheat.build import rigid_gap
    from beamheat.lammps_run import single_point

    def energy(a):
        return single_point(a, pair_style, pair_coeff, type_names)["energy_eV"]

    far = energy(rigid_gap(atoms, particle, max(gaps) + 15.0))
    return np.array([energy(rigid_gap(atoms, particle, g)) - far for g in gaps])


def well(gaps, e) -> dict:
    k = int(np.argmin(e))
    return {"depth_eV": float(e[k]), "gap_A": float(gaps[k])}


def markdown(res: dict) -> str:
    t, s = res["teacher"], res["student"]
    lines = ["# Particle-support binding curve: student against teacher", "",
             f"System `{res['system']}`; student {len(s['members'])} member(s): "
             + ", ".join(f"`{Path(m).name}`" for m in s["members"]) + ".",
             f"Command: `{res['command']}`", "",
             f"Baseline: `{s['baseline']}` (the student runs overlaid on it)." if s["baseline"] else
             "Baseline: none (the network alone).", "",
             "| gap (Å) | teacher E_b (eV) | student mean E_b (eV) | baseline alone (eV) | student members (eV) |",
             "|---|---|---|---|---|"]
    for k, g in enumerate(res["gaps_A"]):
        mem = ", ".join(f"{c[k]:+.3f}" for c in s["curves_eV"])
        bl = f"{s['baseline_curve_eV'][k]:+.3f}" if s["baseline"] else "-"
        lines.append(f"| {g:.2f} | {t['curve_eV'][k]:+.3f} | {s['mean_curve_eV'][k]:+.3f} | {bl} | {mem} |")
    lines += ["", f"Well: teacher {t['well']['depth_eV']:+.3f} eV at {t['well']['gap_A']:.2f} Å; student mean "
                  f"{s['well']['depth_eV']:+.3f} eV at {s['well']['gap_A']:.2f} Å "
                  f"(members {', '.join(f'{w:+.3f}' for w in s['member_depths_eV'])}).",
              f"Verdict: **{res['verdict']}** (student well depth within {TOL:.0%} of the teacher's: "
              f"ratio {res['depth_ratio']:.2f}).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    a = parse_args(argv)
    from beamheat.geometry import read_typed_data
    from beamheat.lammps_run import baseline_commands, potential_commands

    v.input_file(a.system, "--system")
    names = a.elements.split()
    files = [Path(f) for f in a.model.split()] if a.model else sorted(BUNDLED.glob("member_*.nequip.pth"))
    if not files:
        raise UserError(f"{BUNDLED}: no member_*.nequip.pth (give --model)")
    for f in files:
        v.input_file(f, "--model")
    baseline = None
    if a.baseline and a.baseline != "none":
        v.input_file(Path(a.baseline), "--baseline")
        baseline = Path(a.baseline)
    elif a.baseline is None and not a.model and (BUNDLED / "baseline.in").is_file():
        baseline = BUNDLED / "baseline.in"
    if baseline is not None:
        try:
            baseline_alone = baseline_commands(baseline)
        except ValueError as e:
            raise UserError(str(e)) from None
    if len(a.gaps_A) < 2 or min(a.gaps_A) <= 0:
        raise UserError("--gaps-A: give at least two gaps, all > 0 Å")
    out_json, out_md = a.results.with_suffix(".json"), a.results.with_suffix(".md")
    v.output_files([out_json, out_md], "--results", force=a.force)
    atoms, types = read_typed_data(a.system, names)
    particle = types == 1
    if not particle.any() or particle.all():
        raise UserError(f"{a.system}: needs particle atoms (type 1) and support atoms (other types)")
    gaps = np.array(sorted(a.gaps_A))
    style, coeffs = potential_commands(TEACHER)
    print(f"teacher ({TEACHER.name}) ...", flush=True)
    t = curve(atoms, particle, gaps, style, coeffs, names)
    curves, b_curve = [], None
    if baseline is not None:
        print(f"baseline ({baseline}) ...", flush=True)
        b_curve = curve(atoms, particle, gaps, *baseline_alone, names)
    for f in files:
        print(f"student {f.name} ...", flush=True)
        if baseline is None:
            style, coeffs = "pair_style nequip", f"pair_coeff * * {f} {' '.join(names)}"
        else:
            style, coeffs = baseline_commands(baseline, "nequip", f"nequip {f} {' '.join(names)}")
        curves.append(curve(atoms, particle, gaps, style, coeffs, names))
    curves = np.array(curves)
    mean = curves.mean(axis=0)
    tw, sw = well(gaps, t), well(gaps, mean)
    ratio = sw["depth_eV"] / tw["depth_eV"] if tw["depth_eV"] < 0 else float("nan")
    verdict = "agree" if abs(ratio - 1) <= TOL else "disagree"
    cmd = " ".join(["python -m bench.adhesion_curve", *(argv if argv is not None else sys.argv[1:])])
    res = {"system": str(a.system), "command": cmd,
           "gaps_A": gaps.tolist(),
           "teacher": {"potential": str(TEACHER), "curve_eV": t.tolist(), "well": tw},
           "student": {"members": [str(f) for f in files], "curves_eV": curves.tolist(),
                       "baseline": str(baseline) if baseline else None,
                       "baseline_curve_eV": b_curve.tolist() if b_curve is not None else None,
                       "mean_curve_eV": mean.tolist(), "well": sw,
                       "member_depths_eV": [float(c.min()) for c in curves]},
           "depth_ratio": ratio, "tolerance": TOL, "verdict": verdict}
    write_json(out_json, res)
    text = markdown(res)
    atomic_write(out_md, text)
    print(text)
    print(f"wrote {out_json} and {out_md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
