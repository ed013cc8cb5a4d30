"""An ensemble against DFT labels it never saw: forces per element and at the interface, energies, the particle's
binding curve, and how well σF ranks the errors (paper eq. 1-2, Fig. 1-2).

    python -m bench.dft_validation --models M1 M2 ... [--baseline FILE|none] [--labels dft/au_hbn/labels_pw500.extxyz]
                                   [--exclude TRAINING_LABELS ...] [--results bench/results/dft_validation_au_hbn]
                                   [--force]
    python -m bench.dft_validation --bundle models/bundled/au_hbn          # its members and its baseline.in

Predictions are what LAMMPS runs: each member (TorchScript, models.ensemble) plus the long-range baseline (a LAMMPS
overlay template, e.g. lammps_inputs/potentials/baseline_d3_au_hbn.in, evaluated by LAMMPS single points; the same
for every member). Frames found in --exclude files (the same configuration, models.data.frame_uid: the model's
training labels) are left out, so the numbers are on frames the models never saw.

Reported (all eV, Å):
  forces   RMSE per Cartesian component of the ensemble-mean force per element, at interface atoms (particle atoms
           within 5 Å of a support atom and support atoms within 5 Å of a particle atom, beamheat.sigma) and
           elsewhere; and each member's RMSE.
  energy   per atom, ensemble mean against DFT: the RMSE as is, and after one constant per element (least squares:
           a potential fitted to other data has other reference energies; that is the only number that means
           anything for it).
  binding  for each system and lateral position whose scan and both bodies are labelled (models.candidates frames,
           bench.lib.binding):
           E_b(gap) = E(scan at gap) - E(particle) - E(support), DFT against each member. The well depth is each
           curve's minimum over the labelled gaps; the ensemble's is the members' mean with their standard deviation.
           Criterion: |well_model / well_DFT - 1| <= 0.15.
  sigma_F  Spearman (and Pearson) correlation of the per-atom σF with the error dF = |F_mean - F_DFT| over all atoms of
           all frames (criterion >= 0.5), and the mean σF of interface atoms against all atoms on the frames that
           have an interface (the paper's Fig. 2: about twice).
Writes RESULTS.json, RESULTS.md and RESULTS.png/.pdf (binding curves, dF against σF, force parity); not overwritten
without --force.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np

from bench.lib.binding import binding_curves, contact_area_A2
from bench.lib.records import g, machine_info, repo_path, results_files
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write, write_json
from models.baseline import with_labels
from models.data import read_labelled

ROOT = Path(__file__).resolve().parents[1]
WELL_TOLERANCE = 0.15       # |well_model / well_DFT - 1| allowed
SPEARMAN_MIN = 0.5          # per-atom Spearman(σF, dF) wanted
SAME_GEOMETRY_A = 1e-3      # bodies alone further from a scan's atoms than this are another geometry


def held_out(frames, trained) -> list:
    """FRAMES whose configuration (models.data.frame_uid, as the loop's splits match frames) is not in TRAINED."""
    seen = {a.info["uid"] for a in trained}
    return [a for a in frames if a.info["uid"] not in seen]


def trained_bodies(frames, kept) -> list:
    """The particle and support alone (from FRAMES: the labels and the training labels) of every system with a
    held-out scan in KEPT whose bodies are not in KEPT: a held-out scan's binding needs them, and they are not what
    is validated. A body from a loop's training split (labels minus the baseline) comes with its labels restored."""
    have = {(a.info.get("system"), a.info.get("kind")) for a in kept}
    systems = {a.info.get("system") for a in kept if a.info.get("kind") == "scan"}
    out = []
    for a in frames:
        key = (a.info.get("system"), a.info.get("kind"))
        if key[0] in systems and key[1] in ("particle", "support") and key not in have:
            out.append(with_labels(a))
            have.add(key)
    return out


def predict(frames, members, baseline, type_names) -> list[dict]:
    """Per frame: every member's total energy (M,) and forces (M, N, 3), the network plus the baseline."""
    from models.baseline import baseline_values
    from models.ensemble import Ensemble

    ens = Ensemble(members)
    base = baseline_values(frames, baseline, type_names) if baseline else [(0.0, 0.0)] * len(frames)
    out = []
    for a, (eb, fb) in zip(frames, base):
        r = ens.evaluate(a)
        out.append({"energies": r["energies_eV"] + eb, "forces": r["forces"] + np.asarray(fb)})
    return out


def _rmse(x) -> float | None:
    x = np.asarray(x, float)
    return float(np.sqrt(np.mean(x ** 2))) if x.size else None


def force_metrics(frames, preds, np_element: str) -> dict:
    """Force RMSEs (component, eV/Å) of the ensemble mean per element and at/away from the interface, each member's,
    and the per-atom σF and dF arrays with the interface mask."""
    from beamheat.sigma import interface_mask
    from models.ensemble import sigma_f

    d_mean, d_members, symbols, inter, sig, delta = [], [], [], [], [], []
    for a, p in zip(frames, preds):
        ref = a.get_forces()
        mean = p["forces"].mean(axis=0)
        d_mean.append(mean - ref)
        d_members.append(p["forces"] - ref[None])
        sym = np.array(a.get_chemical_symbols())
        symbols.append(sym)
        inter.append(interface_mask(a.positions, sym == np_element, a.cell, a.pbc))
        sig.append(sigma_f(p["forces"]))
        delta.append(np.linalg.norm(mean - ref, axis=1))
    d, sym, m = np.concatenate(d_mean), np.concatenate(symbols), np.concatenate(inter)
    dm = np.concatenate(d_members, axis=1)
    out = {"n_atoms": int(len(d)),
           "rmse_all": _rmse(d),
           "rmse_by_element": {e: _rmse(d[sym == e]) for e in sorted(set(sym))},
           "rmse_interface": _rmse(d[m]), "n_interface": int(m.sum()),
           "rmse_not_interface": _rmse(d[~m]),
           "rmse_members": [_rmse(x) for x in dm],
           "rms_reference": _rmse(np.concatenate([a.get_forces() for a in frames]))}
    return out, {"sigma": np.concatenate(sig), "delta": np.concatenate(delta), "interface": m,
                 "frame_interface": inter, "frame_sigma": sig, "symbols": sym, "d": d,
                 "ref": np.concatenate([a.get_forces() for a in frames])}


def energy_metrics(frames, preds) -> dict:
    elements = sorted({e for a in frames for e in a.get_chemical_symbols()})
    counts = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in frames], float)
    n = counts.sum(axis=1)
    de = np.array([p["energies"].mean() - a.get_potential_energy() for a, p in zip(frames, preds)])
    mu = np.linalg.lstsq(counts, de, rcond=None)[0]
    return {"rmse_eV_per_atom": _rmse(de / n),
            "rmse_after_element_constants_eV_per_atom": _rmse((de - counts @ mu) / n),
            "element_constants_eV": dict(zip(elements, map(float, mu))),
            "note": "Constants fitted to these frames absorb the composition dependence; with few compositions "
                    "they absorb more" if len(frames) <= 2 * len(elements) else ""}


def sigma_metrics(arrays) -> dict:
    from models.metrics import correlations

    frames_with = [(s, m) for s, m in zip(arrays["frame_sigma"], arrays["frame_interface"]) if m.any()]
    out = correlations(arrays["sigma"], arrays["delta"])
    out["mean_sigma_all_eV_per_A"] = float(arrays["sigma"].mean())
    if frames_with:
        s_int = float(np.mean([s[m].mean() for s, m in frames_with]))
        s_all = float(np.mean([s.mean() for s, _ in frames_with]))
        out.update({"n_frames_with_interface": len(frames_with), "mean_sigma_interface_eV_per_A": s_int,
                    "mean_sigma_all_on_those_frames_eV_per_A": s_all, "interface_over_all": s_int / s_all})
    return out


def binding_metrics(frames, preds) -> dict:
    index = {id(a): k for k, a in enumerate(frames)}
    curves = {}
    for copy in sorted({int(a.info["copy"]) for a in frames if a.info.get("kind") == "scan"}):
        curves.update({f"{s} (scan {copy})": c for s, c in binding_curves(frames, copy).items()})
    out = {}
    for s, c in curves.items():
        p_part, p_sup = (preds[index[id(x)]]["energies"] for x in c["_bodies"])
        members = np.array([preds[index[id(a)]]["energies"] - p_part - p_sup for a in c["_scan"]]).T  # (M, gaps)
        wells = members.min(axis=1)
        dft_well = min(c["E_b_eV"])
        ratio = float(wells.mean() / dft_well) if dft_well < 0 else None
        out[s] = {"gap_A": c["gap_A"], "E_b_dft_eV": c["E_b_eV"], "E_b_members_eV": members.tolist(),
                  "E_b_mean_eV": members.mean(axis=0).tolist(), "E_b_std_eV": members.std(axis=0).tolist(),
                  "well_dft_eV": dft_well, "well_dft_gap_A": c["gap_A"][int(np.argmin(c["E_b_eV"]))],
                  "well_model_eV": float(wells.mean()), "well_model_std_eV": float(wells.std()),
                  "well_ratio": ratio, "contact_area_A2": contact_area_A2(c),
                  "bodies_mismatch_A": c["bodies_mismatch_A"],
                  "within_tolerance": None if ratio is None else bool(abs(ratio - 1) <= WELL_TOLERANCE)}
    return out


def other_geometry(b: dict) -> str:
    return (f"the bodies alone are not this scan's geometry (atoms up to {b['bodies_mismatch_A']:.3f} Å apart): "
            "E_b also holds their deformation energy")


def figure(result: dict, arrays: dict, prefix: Path) -> list[str]:
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    for s, b in result["binding"].items():
        line = ax[0].plot(b["gap_A"], b["E_b_dft_eV"], "o", label=f"{s} DFT")[0]
        ax[0].errorbar(b["gap_A"], b["E_b_mean_eV"], yerr=b["E_b_std_eV"], color=line.get_color(), capsize=3,
                       label=f"{s} ensemble (members' spread)")
    ax[0].axhline(0, color="0.6", lw=0.8)
    ax[0].set(xlabel="gap (Å)", ylabel="E_b (eV)", title="binding on the support")
    if result["binding"]:
        ax[0].legend(fontsize=7)
    ax[1].loglog(np.maximum(arrays["sigma"], 1e-5), np.maximum(arrays["delta"], 1e-5), ".", ms=2, alpha=0.4)
    ax[1].loglog(arrays["sigma"][arrays["interface"]].clip(1e-5), arrays["delta"][arrays["interface"]].clip(1e-5),
                 ".", ms=2, alpha=0.6, label="interface atoms")
    rho = result["sigma_f"].get("spearman_sigma_delta")
    ax[1].set(xlabel="σF (eV/Å)", ylabel="|F̄ − F_DFT| (eV/Å)",
              title=f"error against σF (Spearman {g(rho, 2)})")
    ax[1].legend(fontsize=7)
    pred = arrays["ref"] + arrays["d"]
    for e in sorted(set(arrays["symbols"])):
        m = arrays["symbols"] == e
        ax[2].plot(arrays["ref"][m].ravel(), pred[m].ravel(), ".", ms=2, label=e)
    lim = np.abs(arrays["ref"]).max() * 1.05
    ax[2].plot([-lim, lim], [-lim, lim], color="0.6", lw=0.8)
    ax[2].set(xlabel="F DFT (eV/Å)", ylabel="F ensemble mean (eV/Å)", title="forces")
    ax[2].legend(fontsize=7)
    return save_figure(fig, prefix)


def markdown(result: dict, command: str) -> str:
    f, e, s = result["forces"], result["energy"], result["sigma_f"]
    md = [f"# {result['what']} against DFT labels it never saw", "", f"`{command}`", "",
          f"Machine: {result['machine'].get('cpu_count')}-core CPU ({result['machine'].get('cpu', 'unknown')}); "
          f"single points, deterministic. Labels: `{result['labels']}` ({result['n_frames']} frames, "
          f"{f['n_atoms']} atoms; {result['n_excluded']} frames left out as training labels). Members: "
          f"{len(result['members'])}; baseline: `{result['baseline']}`.", "",
          "## Forces (eV/Å, RMSE per component of the ensemble mean)", "",
          "| atoms | RMSE |", "|---|---|",
          f"| all ({f['n_atoms']}) | {g(f['rmse_all'], 3)} |"]
    md += [f"| {el} | {g(x, 3)} |" for el, x in f["rmse_by_element"].items()]
    md += [f"| interface ({f['n_interface']}) | {g(f['rmse_interface'], 3)} |",
           f"| not at the interface | {g(f['rmse_not_interface'], 3)} |", "",
           f"Members: {', '.join(g(x, 3) for x in f['rmse_members'])}. RMS of the DFT forces: "
           f"{g(f['rms_reference'], 3)}.", "",
           "## Energies (ensemble mean)", "",
           f"RMSE {g(1000 * e['rmse_eV_per_atom'], 3)} meV/atom as is; "
           f"{g(1000 * e['rmse_after_element_constants_eV_per_atom'], 3)} meV/atom after one constant per element "
           f"({', '.join(f'{k} {x:.3f} eV' for k, x in e['element_constants_eV'].items())}). {e['note']}", "",
           "## Binding of the particle on the support", ""]
    if not result["binding"]:
        md += ["No system has a scan and both bodies among these frames.", ""]
    elif result.get("n_binding_bodies_from_training"):
        md += [f"The scans are held out; {result['n_binding_bodies_from_training']} of the bodies alone (particle, "
               "support) are training labels, taken for E_b = E(scan) - E(particle) - E(support).", ""]
    for name, b in result["binding"].items():
        verdict = {True: "within", False: "NOT within", None: "not judged (no DFT well)"}[b["within_tolerance"]]
        md += [f"### {name} (contact area {b['contact_area_A2']:.1f} Å²)", "",
               f"Well depth: DFT {b['well_dft_eV']:.3f} eV at {b['well_dft_gap_A']:g} Å, ensemble "
               f"{b['well_model_eV']:.3f} ± {b['well_model_std_eV']:.3f} eV (members' mean ± std): ratio "
               f"{g(b['well_ratio'], 3)}, {verdict} {100 * WELL_TOLERANCE:.0f} %.", "",
               "| gap (Å) | E_b DFT (eV) | E_b ensemble (eV) | members' std (eV) |", "|---|---|---|---|"]
        if b["bodies_mismatch_A"] > SAME_GEOMETRY_A:
            md[-2:-2] = [f"WARNING: {other_geometry(b)}.", ""]
        md += [f"| {gap:g} | {d:.4f} | {m:.4f} | {sd:.4f} |"
               for gap, d, m, sd in zip(b["gap_A"], b["E_b_dft_eV"], b["E_b_mean_eV"], b["E_b_std_eV"])]
        md.append("")
    rho = s.get("spearman_sigma_delta")
    md += ["## σF against the error (eq. 1-2)", "",
           f"Per atom over all frames: Spearman {g(rho, 3)} (wanted ≥ {SPEARMAN_MIN}: "
           f"{'yes' if rho is not None and rho >= SPEARMAN_MIN else 'no'}), Pearson {g(s.get('pearson_sigma_delta'), 3)}. "
           f"Mean σF {g(s['mean_sigma_all_eV_per_A'], 3)} eV/Å."]
    if "interface_over_all" in s:
        md += ["", f"On the {s['n_frames_with_interface']} frames with an interface: mean σF "
                   f"{g(s['mean_sigma_interface_eV_per_A'], 3)} eV/Å at interface atoms against "
                   f"{g(s['mean_sigma_all_on_those_frames_eV_per_A'], 3)} eV/Å for all atoms "
                   f"(ratio {g(s['interface_over_all'], 3)}; the paper's Fig. 2: about 2)."]
    md += ["", f"Figure: `{result['figure']}`.", ""]
    return "\n".join(md)


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m bench.dft_validation", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--models", nargs="+", help="the members' TorchScript files (.nequip.pth)")
    src.add_argument("--bundle", help="a bundle folder: its member_*.nequip.pth and, if present, baseline.in")
    p.add_argument("--baseline", help="LAMMPS overlay template the members run on (e.g. "
                                      "lammps_inputs/potentials/baseline_d3_au_hbn.in), or 'none' (default: the "
                                      "bundle's baseline.in; with --models, none)")
    p.add_argument("--labels", default=str(ROOT / "dft" / "au_hbn" / "labels_pw500.extxyz"),
                   help="DFT labels (dft.label --export; default dft/au_hbn/labels_pw500.extxyz)")
    p.add_argument("--exclude", nargs="*", default=[], help="labels the models were trained on: left out")
    p.add_argument("--types", default="Au,B,N", help="type names the baseline template maps (default Au,B,N)")
    p.add_argument("--what", help="name of the ensemble in the results' title (default: the bundle or the first "
                                  "model's folder)")
    p.add_argument("--results", default=str(ROOT / "bench" / "results" / "dft_validation_au_hbn"),
                   help="prefix of RESULTS.json/.md/.png/.pdf (default bench/results/dft_validation_au_hbn)")
    p.add_argument("--force", action="store_true", help="overwrite the results")
    a = p.parse_args(argv)
    if a.bundle:
        bundle = v.input_dir(a.bundle, "--bundle", "bundle folder")
        members = sorted(bundle.glob("member_*.nequip.pth"))
        if len(members) < 2:
            raise UserError(f"{bundle}: fewer than two member_*.nequip.pth files (σF needs an ensemble)")
        baseline = a.baseline or (str(bundle / "baseline.in") if (bundle / "baseline.in").exists() else "none")
    else:
        members = [v.input_file(m, "--models", "model file") for m in a.models]
        if len(members) < 2:
            raise UserError("--models: give at least two members (σF needs an ensemble)")
        baseline = a.baseline or "none"
    baseline = None if baseline == "none" else v.input_file(baseline, "--baseline", "baseline template")
    labels = v.input_file(a.labels, "--labels", "labels file")
    excludes = [v.input_file(x, "--exclude", "labels file") for x in a.exclude]
    res_json, res_md = results_files(a.results, a.force)
    types = [t for t in a.types.split(",") if t]
    if not types:
        raise UserError(f"--types {a.types!r}: give the baseline's type names in order, e.g. Au,B,N")
    frames = read_labelled(labels)
    for k, a_ in enumerate(frames):
        a_.info.setdefault("frame", k)
    trained = read_labelled(excludes) if excludes else []
    kept = held_out(frames, trained)
    if not kept:
        raise UserError(f"{labels}: every frame is in the --exclude labels; nothing left to validate on")
    print(f"{len(kept)} frames ({len(frames) - len(kept)} left out as training labels); "
          f"{len(members)} members; baseline {baseline or 'none'}", flush=True)
    bodies = trained_bodies(frames + trained, kept)
    if bodies:
        print(f"{len(bodies)} bodies alone from the training labels, for the binding of held-out scans", flush=True)
    preds = predict(kept + bodies, members, baseline, types)
    body_preds, preds = preds[len(kept):], preds[:len(kept)]
    forces, arrays = force_metrics(kept, preds, types[0])
    result = {"what": a.what or (Path(a.bundle).name if a.bundle else Path(members[0]).parent.name),
              "labels": repo_path(labels), "n_frames": len(kept), "n_excluded": len(frames) - len(kept),
              "members": [repo_path(m) for m in members], "baseline": repo_path(baseline) if baseline else "none",
              "machine": machine_info(), "forces": forces, "energy": energy_metrics(kept, preds),
              "sigma_f": sigma_metrics(arrays), "binding": binding_metrics(kept + bodies, preds + body_preds),
              "n_binding_bodies_from_training": len(bodies),
              "figure": repo_path(a.results) + ".png"}
    result["figure_files"] = [repo_path(x) for x in figure(result, arrays, Path(a.results))]
    for name, b in result["binding"].items():
        if b["bodies_mismatch_A"] > SAME_GEOMETRY_A:
            print(f"WARNING: {name}: {other_geometry(b)}", file=sys.stderr)
    command = "python -m bench.dft_validation " + shlex.join(argv if argv is not None else sys.argv[1:])
    write_json(res_json, result)
    atomic_write(res_md, markdown(result, command))
    print(f"forces RMSE {g(forces['rmse_all'], 3)} eV/A (interface {g(forces['rmse_interface'], 3)}); Spearman "
          f"{g(result['sigma_f'].get('spearman_sigma_delta'), 3)}; wells: "
          + ", ".join(f"{s} {b['well_model_eV']:.3f} vs DFT {b['well_dft_eV']:.3f} eV"
                      for s, b in result["binding"].items()))
    print(f"wrote {res_md}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
