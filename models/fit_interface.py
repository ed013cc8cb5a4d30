"""Fit the Au-O and Au-Ti Lennard-Jones pairs of the classical Au/TiO2 reference to DFT binding energies.

    python -m models.fit_interface dft/au_tio2/labels_pw500.extxyz --out runs/fit_au_tio2
                                   [--potential lammps_inputs/potentials/classical_au_tio2.in] [--fit eps-sigma]
                                   [--force-weight-A2 1] [--max-binding-eV 2] [--relaxed-candidates] [--force]

LABELS: dft.label exports of models.candidates frames (dft/au_tio2/README.md): rigid scans of an Au particle over
TiO2 slabs and, for each system and scan copy, the particle alone and the slab alone in the same cell, so that
    E_b^DFT = E(particle on slab) - E(particle) - E(slab)                                      (eV)
The classical binding of the same frame is the energy of the potential's Au-X `lj/cut` pairs, computed by LAMMPS
with the potential include file itself (its Au-X pair_coeff lines overridden; models.interface_lj). The DFT
interaction force on each Au atom, F(frame) - F(particle alone), is the second target: the energies of a few
scans leave the split between Au-O and Au-Ti loose, the forces on atoms over different sites do not. The fit
minimises
    sum over points [ (E_b^classical - E_b^DFT)^2 + w <(F^classical - F^DFT)^2> ]
(<> the mean over the Au atoms' force components, w = --force-weight-A2 in Å^2; 0 fits energies alone) by scipy
least_squares, eps in 0-1 eV, sigma in 1.5-5 Å, from the file's own parameters and 16 other starts (the best one
kept): --fit eps-sigma fits eps and sigma of every Au-X pair, --fit eps only the eps (sigmas kept). Points whose
E_b^DFT is above --max-binding-eV (the steep repulsive wall a 12-6 form cannot follow) are listed but not fitted.
It refuses labels without both bodies of a scan, and fewer than 2 points per free parameter.
Writes into --out: fit.json (parameters, the file's own, every point), fit.md (the per-point table DFT / fitted /
file with the Au force errors, and per scan the deepest point of each), binding.png and binding.pdf (E_b against
the gap), pair_coeff.in (the fitted lines, to replace those of the potential file) and, with --relaxed-candidates,
relaxed.extxyz: per rigid scan, the particle relaxed over the fixed slab with the fitted pairs and that particle
alone, to label with dft.label and fit again (a pair fitted to rigid scans can bind a relaxed particle far more
than DFT does; those frames show it and teach the fit). Existing files are not overwritten without --force.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run

OUTPUT_FILES = ("fit.json", "fit.md", "binding.png", "binding.pdf", "pair_coeff.in", "relaxed.extxyz")
FIT_MODES = ("eps-sigma", "eps")
TYPES = {"Au": 1, "O": 2, "Ti": 3}  # beamheat.build's order, as classical_au_tio2.in expects


def _default_potential() -> Path:
    from beamheat.lammps_plugin import inputs_dir

    return inputs_dir() / "potentials" / "classical_au_tio2.in"


def shown(path: Path) -> str:
    """PATH as a record names it: relative to the working directory where it lies below it, else by file name (an
    installed package's copy of lammps_inputs/), so that records do not carry one machine's absolute paths."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def read_labels(paths) -> list:
    from ase.io import read

    frames = []
    for path in paths:
        try:
            got = read(path, index=":")
        except Exception as e:  # noqa: BLE001 - ASE raises many kinds
            raise UserError(f"{path}: cannot read labels ({e.__class__.__name__}: {str(e)[:100]})") from None
        for a in got:
            if a.calc is None or "energy" not in a.calc.results:
                raise UserError(f"{path}: frame {a.info.get('frame', '?')} has no energy (not a dft.label export)")
            extra = sorted(set(a.get_chemical_symbols()) - set(TYPES))
            if extra:
                raise UserError(f"{path}: frame {a.info.get('frame', '?')} holds {', '.join(extra)}; the Au/TiO2 "
                                f"fit knows {', '.join(TYPES)} only")
        frames += got
    return frames


def table_rows(points, fitted: np.ndarray, before: np.ndarray, used: np.ndarray, params=None, file_params=None) \
        -> list[dict]:
    """Per point: E_b of DFT, the fit and the file, and (points with DFT forces, given both parameter sets) the RMS
    error of the classical interaction forces on the Au atoms, eV/Å."""
    from models.interface_lj import force_rmse

    rows = []
    for p, f, b, u in zip(points, fitted, before, used):
        r = {"system": p.system, "copy": p.copy, "gap_A": p.gap_A, "frame": p.frame, "E_b_dft_eV": p.E_b_dft_eV,
             "E_b_fitted_eV": float(f), "E_b_file_eV": float(b), "fitted_on": bool(u)}
        if p.f_dft is not None and params is not None and file_params is not None:
            r["F_rms_dft_eV_per_A"] = float(np.sqrt(np.mean(p.f_dft ** 2)))
            r["F_err_fitted_eV_per_A"] = force_rmse([p], params)
            r["F_err_file_eV_per_A"] = force_rmse([p], file_params)
        rows.append(r)
    return rows


def wells(rows: list[dict]) -> list[dict]:
    """Per scan (system, copy): the deepest DFT point and the deepest of each classical curve, and their ratios."""
    out = []
    for key in sorted({(r["system"], r["copy"]) for r in rows}):
        rs = [r for r in rows if (r["system"], r["copy"]) == key]
        d = {"system": key[0], "copy": key[1]}
        for name in ("dft", "fitted", "file"):
            r = min(rs, key=lambda x: x[f"E_b_{name}_eV"])
            d[f"{name}_eV"], d[f"{name}_gap_A"] = r[f"E_b_{name}_eV"], r["gap_A"]
        for name in ("fitted", "file"):
            d[f"dft_over_{name}"] = d["dft_eV"] / d[f"{name}_eV"] if d[f"{name}_eV"] < 0 else None
        out.append(d)
    return out


def markdown(res: dict) -> str:
    f, b = res["fitted"], res["file_params"]
    lines = ["# Au-TiO2 Lennard-Jones pairs fitted to DFT binding energies", "",
             f"`{res['command']}`", "",
             f"{res['n_points']} binding energies ({res['n_fitted']} fitted) from {', '.join(res['labels'])}; "
             f"potential `{res['potential']}`; fit {res['fit']}, force weight {res['force_weight_A2']:g} Å² "
             f"({res['n_force_points']} points with DFT forces): E_b RMSE {1000 * res['rmse_eV']:.1f} meV (the "
             f"file's own parameters: {1000 * res['rmse_file_eV']:.1f} meV) over the fitted points"
             + (f"; Au interaction-force RMSE {res['force_rmse_eV_per_A']:.3f} eV/Å (file: "
                f"{res['force_rmse_file_eV_per_A']:.3f})" if res["force_rmse_eV_per_A"] is not None else "")
             + ".", "",
             "| pair | eps fitted (eV) | sigma fitted (Å) | eps file (eV) | sigma file (Å) |", "|---|---|---|---|---|"]
    lines += [f"| Au-{x} | {f[x][0]:.6g} | {f[x][1]:.5g} | {b[x][0]:.6g} | {b[x][1]:.5g} |" for x in f]
    lines += ["", "Deepest point of each scan (eV; ratio DFT / classical):", "",
              "| system | copy | DFT (eV) at gap (Å) | fitted | DFT/fitted | file | DFT/file |", "|---|---|---|---|---|---|---|"]
    for w in res["wells"]:
        r = [f"{x:.2f}" if x is not None else "–" for x in (w["dft_over_fitted"], w["dft_over_file"])]
        lines.append(f"| {w['system']} | {w['copy']} | {w['dft_eV']:.3f} at {w['dft_gap_A']:g} | "
                     f"{w['fitted_eV']:.3f} at {w['fitted_gap_A']:g} | {r[0]} | {w['file_eV']:.3f} at "
                     f"{w['file_gap_A']:g} | {r[1]} |")
    lines += ["", "Every point (E_b, eV; F: the RMS DFT interaction force on the Au atoms and the classical one's RMS "
              "error, eV/Å):", "",
              "| system | copy | gap (Å) | frame | DFT | fitted | file | F DFT | F err. fitted | F err. file | "
              "fitted on |", "|---|---|---|---|---|---|---|---|---|---|---|"]

    def f3(r, k):
        return f"{r[k]:.3f}" if r.get(k) is not None else "–"

    lines += [f"| {r['system']} | {r['copy']} | {r['gap_A']:g} | {r['frame']} | {r['E_b_dft_eV']:.4f} | "
              f"{r['E_b_fitted_eV']:.4f} | {r['E_b_file_eV']:.4f} | {f3(r, 'F_rms_dft_eV_per_A')} | "
              f"{f3(r, 'F_err_fitted_eV_per_A')} | {f3(r, 'F_err_file_eV_per_A')} | "
              f"{'yes' if r['fitted_on'] else 'no'} |" for r in res["points"]]
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], prefix: Path) -> list[str]:
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()
    scans = sorted({(r["system"], r["copy"]) for r in rows})
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for k, key in enumerate(scans):
        rs = sorted((r for r in rows if (r["system"], r["copy"]) == key), key=lambda r: r["gap_A"])
        g = [r["gap_A"] for r in rs]
        c = f"C{k % 10}"
        ax.plot(g, [r["E_b_dft_eV"] for r in rs], "o", color=c, label=f"{key[0]} copy {key[1]}: DFT")
        ax.plot(g, [r["E_b_fitted_eV"] for r in rs], "-", color=c, label="fitted LJ")
        ax.plot(g, [r["E_b_file_eV"] for r in rs], ":", color=c, label="the file's own LJ")
    ax.axhline(0.0, color="0.6", lw=0.8)
    lo = min(min(r["E_b_dft_eV"], r["E_b_fitted_eV"]) for r in rows)
    ax.set_ylim(1.3 * lo if lo < 0 else -0.1, max(0.5, -0.6 * lo))
    ax.set_xlabel("gap: lowest Au to highest support atom (Å)")
    ax.set_ylabel("binding energy E_b (eV)")
    ax.legend(fontsize=7)
    return save_figure(fig, prefix)


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.fit_interface", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("labels", nargs="+", help="dft.label --export extxyz files of models.candidates frames")
    p.add_argument("--out", required=True, help="output folder (fit.json, fit.md, binding.png/.pdf, pair_coeff.in)")
    p.add_argument("--potential", help="LAMMPS potential include file with Au-O and Au-Ti lj/cut pair_coeff lines "
                   "(default: lammps_inputs/potentials/classical_au_tio2.in)")
    p.add_argument("--fit", default="eps-sigma", help="free parameters: eps-sigma or eps (default eps-sigma)")
    p.add_argument("--force-weight-A2", type=float, default=1.0,
                   help="weight w of the Au atoms' mean squared interaction-force error beside the squared "
                   "binding-energy error of each frame, Å² (default 1; 0: energies alone)")
    p.add_argument("--max-binding-eV", type=float, help="fit only points with E_b^DFT at most this, eV "
                   "(default: all)")
    p.add_argument("--relaxed-candidates", action="store_true",
                   help="also write relaxed.extxyz: per scan, the particle relaxed on the slab with the fitted pairs "
                   "and that particle alone, the next frames to label")
    p.add_argument("--force", action="store_true", help="overwrite the outputs")
    a = p.parse_args(argv)
    from beamheat.io import atomic_write, write_json
    from models import interface_lj as lj

    labels = [v.input_file(x, "LABELS", "labels file") for x in a.labels]
    potential = v.input_file(a.potential or _default_potential(), "--potential", "potential file")
    v.choice("--fit", a.fit, FIT_MODES)
    v.finite("--max-binding-eV", a.max_binding_eV, "eV")
    v.nonnegative("--force-weight-A2", a.force_weight_A2, "Å²")
    out = v.output_dir(a.out, "--out", files=OUTPUT_FILES, force=a.force, inputs=labels)
    start = lj.read_pair_coeffs(potential, TYPES)
    missing = [x for x in ("O", "Ti") if x not in start]
    if missing:
        raise UserError(f"{potential}: no lj/cut pair_coeff line for Au-{' or Au-'.join(missing)} (types "
                        f"{', '.join(f'{t} {e}' for e, t in TYPES.items())})")
    source = ", ".join(map(str, labels))
    frames = read_labels(labels)
    points = lj.binding_points(frames, source=source)
    used = np.array([a.max_binding_eV is None or pt.E_b_dft_eV <= a.max_binding_eV for pt in points], bool)
    fitted_points = [pt for pt, u in zip(points, used) if u]
    lj.require_points(len(fitted_points), len(start), a.fit, source)
    lj.LammpsInterface(potential, TYPES).fill(points)
    result = lj.fit(fitted_points, start, a.fit, source=source, force_weight_A2=a.force_weight_A2)
    fitted, before = lj.predict(points, result["params"]), lj.predict(points, start)
    rows = table_rows(points, fitted, before, used, result["params"], start)
    target = np.array([pt.E_b_dft_eV for pt in fitted_points])
    res = {"command": "python -m models.fit_interface " + " ".join(argv if argv is not None else sys.argv[1:]),
           "labels": [shown(x) for x in labels], "potential": shown(potential), "fit": a.fit,
           "max_binding_eV": a.max_binding_eV, "force_weight_A2": a.force_weight_A2, "n_points": len(points),
           "n_fitted": int(used.sum()), "n_force_points": result["n_force_points"],
           "fitted": result["params"], "file_params": start, "rmse_eV": result["rmse_eV"],
           "rmse_file_eV": float(np.sqrt(np.mean((lj.predict(fitted_points, start) - target) ** 2))),
           "force_rmse_eV_per_A": result["force_rmse_eV_per_A"],
           "force_rmse_file_eV_per_A": lj.force_rmse(fitted_points, start),
           "optimizer": {"success": result["success"], "message": result["message"]},
           "wells": wells(rows), "points": rows}
    out.mkdir(parents=True, exist_ok=True)
    figure(rows, out / "binding")
    atomic_write(out / "pair_coeff.in", "".join(
        f"pair_coeff      {TYPES['Au']} {TYPES[x]} lj/cut {eps:.6g} {sigma:.5g}    # Au-{x}: eps (eV), sigma (A); "
        f"fitted to DFT binding energies and Au forces (models.fit_interface)\n" for x, (eps, sigma) in result["params"].items()))
    if a.relaxed_candidates:
        from ase.io import write

        first = 1 + max(int(x.info.get("frame", -1)) for x in frames)
        relaxed = lj.relaxed_candidates(points, potential, TYPES, result["params"], first_frame=first)
        atomic_write(out / "relaxed.extxyz", lambda f: write(f, relaxed, format="extxyz"))
        res["relaxed_candidates"] = [{k: x.info[k] for k in ("frame", "kind", "system", "copy", "gap_A",
                                                             "relaxed_from_frame", "E_b_fitted_eV")}
                                     for x in relaxed]
        for x in relaxed[::2]:
            print(f"relaxed {x.info['system']} copy {x.info['copy']} from frame {x.info['relaxed_from_frame']}: "
                  f"gap {x.info['gap_A']:.2f} Å, fitted E_b {x.info['E_b_fitted_eV']:.3f} eV")
    write_json(out / "fit.json", res)
    atomic_write(out / "fit.md", markdown(res))
    for x, (eps, sigma) in result["params"].items():
        print(f"Au-{x}: eps {eps:.6g} eV, sigma {sigma:.5g} Å (file: {start[x][0]:.6g} eV, {start[x][1]:.5g} Å)")
    forces = "" if res["force_rmse_eV_per_A"] is None else (
        f"; Au force RMSE {res['force_rmse_eV_per_A']:.3f} eV/Å over {res['n_force_points']} points (file's: "
        f"{res['force_rmse_file_eV_per_A']:.3f})")
    print(f"E_b RMSE {1000 * res['rmse_eV']:.1f} meV over {res['n_fitted']} points (file's parameters: "
          f"{1000 * res['rmse_file_eV']:.1f} meV){forces}; wrote {out}/fit.json, fit.md, binding.png, pair_coeff.in")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
