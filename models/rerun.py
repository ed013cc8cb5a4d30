"""Rerun a trajectory with an ensemble of compiled NequIP models: per-atom force spread sigma_F (and error dF).

    python -m models.rerun TRAJ MODEL MODEL [MODEL ...] [--types Au,B,N] [--out rerun] [--interface-A 4.0]

TRAJ: a LAMMPS dump (`--types` maps LAMMPS types to elements unless the dump has an element column), extxyz or an
ASE trajectory/database. Where frames carry reference forces (DFT-labelled extxyz or db; a LAMMPS dump's forces
are the MD's own and are ignored), the ensemble-mean error dF_k = |F_k - F_k^ref| (eq. 1) and the RMSE of its
magnitude are computed too.
Outputs: OUT.npz (per-frame, per-atom arrays), OUT.extxyz (frames with sigma_f, forces_ensemble_mean, delta_f and
provenance), OUT.json (summary), OUT_sigma_time.png/.pdf (mean sigma_F vs time for all atoms, the NP/support
interface and the worst 10 %; paper Fig. 2) and, with reference forces, OUT_error_vs_sigma.png/.pdf (2-D histogram
of dF against sigma_F with column mean and std; paper Fig. 1).
Interface atoms: particle atoms (--np-elements, default the first model type) within --interface-A of a support
atom, and support atoms within --interface-A of a particle atom.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import write_json
from beamheat.sigma import interface_mask, worst_mean
from models.ensemble import Ensemble, ModelFileError, force_error


def read_frames(path: Path, types: list[str] | None, index: str = ":"):
    from ase.io import read

    if not path.exists():
        raise UserError(f"{path}: trajectory not found")
    is_dump = path.suffix in (".dump", ".lammpstrj") or "dump" in path.name
    try:
        if is_dump:
            kwargs = {"format": "lammps-dump-text"}
            if types:
                kwargs["specorder"] = types
            frames = read(path, index=index, **kwargs)
        else:
            frames = read(path, index=index)
    except Exception as e:  # ASE raises many kinds
        raise UserError(f"{path}: cannot read frames ({e.__class__.__name__}: {str(e)[:120]})") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise UserError(f"{path}: no frames")
    return frames, is_dump


def atoms_interface_mask(atoms, np_elements: set[str], cutoff_A: float) -> np.ndarray:
    """Interface atoms of a frame (beamheat.sigma.interface_mask), the particle being the atoms of NP_ELEMENTS."""
    is_np = np.isin(atoms.get_chemical_symbols(), list(np_elements))
    return interface_mask(atoms.positions, is_np, atoms.cell, atoms.pbc, cutoff_A)


def rerun(frames, ensemble: Ensemble, use_reference: bool, np_elements: set[str], interface_A: float,
          progress: bool = True):
    from tqdm import tqdm

    rows = []
    for k, atoms in enumerate(tqdm(frames, desc="rerun", unit="frame", disable=not progress)):
        r = ensemble.evaluate(atoms)
        ref = None
        if use_reference and atoms.calc is not None and "forces" in atoms.calc.results:
            ref = atoms.calc.results["forces"]
        rows.append({
            "sigma_f": r["sigma_f"], "mean_forces": r["mean_forces"], "energies_eV": r["energies_eV"],
            "delta_f": force_error(r["mean_forces"], ref) if ref is not None else None,
            "interface": atoms_interface_mask(atoms, np_elements, interface_A),
        })
    return rows


def summarize(rows, times) -> dict:
    sig = [r["sigma_f"] for r in rows]
    out = {
        "n_frames": len(rows),
        "max_sigma_f_eV_per_A": float(max(s.max() for s in sig)),
        "mean_sigma_f_eV_per_A": float(np.mean(np.concatenate(sig))),
        "frame_max_sigma_f_eV_per_A": [float(s.max()) for s in sig],
        "frame_mean_sigma_f_eV_per_A": [float(s.mean()) for s in sig],
        "frame_interface_mean_sigma_f_eV_per_A": [float(s[r["interface"]].mean()) if r["interface"].any()
                                                  else None for s, r in zip(sig, rows)],
        "frame_worst10_mean_sigma_f_eV_per_A": [float(worst_mean(s)[0]) for s in sig],
        "time": list(times),
    }
    inter = np.concatenate([s[r["interface"]] for s, r in zip(sig, rows)])
    rest = np.concatenate([s[~r["interface"]] for s, r in zip(sig, rows)])
    out["interface_mean_sigma_f_eV_per_A"] = float(inter.mean()) if inter.size else None
    out["non_interface_mean_sigma_f_eV_per_A"] = float(rest.mean()) if rest.size else None
    if all(r["delta_f"] is not None for r in rows):
        d = np.concatenate([r["delta_f"] for r in rows])
        s = np.concatenate(sig)
        out["force_error_rmse_eV_per_A"] = float(np.sqrt(np.mean(d**2)))  # RMSE of |dF| (paper)
        out["force_error_mean_eV_per_A"] = float(d.mean())
        out["corr_delta_f_sigma_f"] = float(np.corrcoef(d, s)[0, 1]) if len(d) > 2 else None
    return out


def figures(rows, summary, prefix: Path) -> list[str]:
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()
    paths = []
    t = summary["time"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(t, summary["frame_mean_sigma_f_eV_per_A"], label="all atoms")
    inter = [v if v is not None else np.nan for v in summary["frame_interface_mean_sigma_f_eV_per_A"]]
    ax.plot(t, inter, label="interface atoms")
    ax.plot(t, summary["frame_worst10_mean_sigma_f_eV_per_A"], label="worst 10 %")
    ax.set_xlabel(summary.get("time_label", "frame"))
    ax.set_ylabel("mean σF (eV/Å)")
    ax.legend(fontsize=8)
    paths += save_figure(fig, prefix.with_name(prefix.name + "_sigma_time"))
    if "force_error_rmse_eV_per_A" in summary:
        s = np.concatenate([r["sigma_f"] for r in rows])
        d = np.concatenate([r["delta_f"] for r in rows])
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        h = ax.hist2d(s, d, bins=50, cmin=1, cmap="viridis")
        fig.colorbar(h[3], ax=ax, label="atoms")
        edges = np.linspace(s.min(), s.max(), 16)
        centre, mean, std = [], [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (s >= lo) & (s < hi)
            if sel.sum() >= 3:
                centre.append(0.5 * (lo + hi))
                mean.append(d[sel].mean())
                std.append(d[sel].std())
        ax.errorbar(centre, mean, yerr=std, color="C3", fmt="o-", ms=3, label="column mean ± std")
        lim = max(s.max(), d.max())
        ax.plot([0, lim], [0, lim], "k--", lw=0.8, label="δF = σF")
        ax.set_xlabel("σF (eV/Å)")
        ax.set_ylabel("δF = |F̄ − F_ref| (eV/Å)")
        ax.set_title(f"RMSE of δF = {summary['force_error_rmse_eV_per_A']:.3f} eV/Å", fontsize=10)
        ax.legend(fontsize=8)
        paths += save_figure(fig, prefix.with_name(prefix.name + "_error_vs_sigma"))
    return paths


def write_outputs(frames, rows, summary, prefix: Path, source: str):
    from ase.io import write

    arrays = {"sigma_f": [r["sigma_f"] for r in rows], "mean_forces": [r["mean_forces"] for r in rows],
              "energies_eV": np.array([r["energies_eV"] for r in rows]),
              "interface": [r["interface"] for r in rows]}
    if rows[0]["delta_f"] is not None:
        arrays["delta_f"] = [r["delta_f"] for r in rows]
    same = len({len(a) for a in frames}) == 1
    npz = {k: (np.stack(v) if same and isinstance(v, list) else np.array(v, dtype=object) if isinstance(v, list) else v)
           for k, v in arrays.items()}
    np.savez(str(prefix.with_suffix(".npz")) + ".part.npz", **npz)
    Path(str(prefix.with_suffix(".npz")) + ".part.npz").replace(prefix.with_suffix(".npz"))
    out_frames = []
    for k, (atoms, r) in enumerate(zip(frames, rows)):
        a = atoms.copy()
        a.calc = None
        a.arrays["sigma_f"] = r["sigma_f"]
        a.arrays["forces_ensemble_mean"] = r["mean_forces"]
        if r["delta_f"] is not None:
            a.arrays["delta_f"] = r["delta_f"]
        a.info.update({"source": source, "frame": k, "max_sigma_f": float(r["sigma_f"].max()),
                       "time": summary["time"][k]})
        out_frames.append(a)
    write(str(prefix.with_suffix(".extxyz")) + ".part", out_frames, format="extxyz")
    Path(str(prefix.with_suffix(".extxyz")) + ".part").replace(prefix.with_suffix(".extxyz"))
    write_json(prefix.with_suffix(".json"), summary)


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.rerun", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("traj", help="LAMMPS dump, extxyz, ASE .traj or .db")
    p.add_argument("models", nargs="+", help="compiled models (.nequip.pth), the same as in LAMMPS")
    p.add_argument("--types", help="element of each LAMMPS type for dumps, comma separated (e.g. Au,B,N)")
    p.add_argument("--index", default=":", help="frames to read, ASE slice syntax (default ':')")
    p.add_argument("--dt-ps", type=float, help="time between frames, ps (default: frame index)")
    p.add_argument("--np-elements", help="particle elements, comma separated (default: the first model type)")
    p.add_argument("--interface-A", type=float, default=4.0, help="interface distance, Å (default 4)")
    p.add_argument("--out", default="rerun", help="output prefix (default rerun)")
    p.add_argument("--no-plot", action="store_true", help="no figures")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs (PREFIX.npz/.extxyz/.json, "
                   "figures)")
    a = p.parse_args(argv)
    if len(a.models) < 2:
        raise UserError(f"{a.models[0]}: one model gives no sigma_F (eq. 2 is the spread of an ensemble): give two "
                        f"or more, trained alike with different seeds")
    for m in a.models:
        v.input_file(m, "MODELS", "model file")
    src = v.input_file(a.traj, "TRAJ", "trajectory")
    v.positive("--dt-ps", a.dt_ps, "ps")
    v.positive("--interface-A", a.interface_A, "Å", hi=50.0)
    prefix = Path(a.out)
    outs = [prefix.with_suffix(x) for x in (".npz", ".extxyz", ".json")]
    if not a.no_plot:
        outs += [prefix.with_name(prefix.name + n).with_suffix(x) for n in ("_sigma_time", "_error_vs_sigma")
                 for x in (".png", ".pdf")]
    v.output_files(outs, "--out", force=a.force, inputs=[src, *a.models], mkdir=True)
    if a.device != "cpu":
        from models.deploy import check_device

        check_device(a.device)
    try:
        ens = Ensemble(a.models, a.device)
    except ModelFileError as e:
        raise UserError(str(e)) from None
    types = [t.strip() for t in a.types.split(",")] if a.types else None
    if types and not all(t in ens.type_names for t in types):
        raise UserError(f"--types {a.types}: every type must be one of the models' elements {ens.type_names}")
    frames, is_dump = read_frames(src, types, a.index)
    if is_dump and types:
        n_types = max(int(f.arrays["type"].max()) if "type" in f.arrays else 0 for f in frames)
        if n_types and len(types) < n_types:
            raise UserError(f"--types {a.types}: {len(types)} element(s) for a dump with {n_types} atom types")
    np_el = set(a.np_elements.split(",")) if a.np_elements else {ens.type_names[0]}
    try:
        rows = rerun(frames, ens, not is_dump, np_el, a.interface_A)
    except ModelFileError as e:
        raise UserError(f"{a.traj}: {e}") from None
    times = [k * a.dt_ps for k in range(len(frames))] if a.dt_ps else list(range(len(frames)))
    summary = summarize(rows, times)
    summary.update({"trajectory": a.traj, "models": a.models, "np_elements": sorted(np_el),
                    "interface_A": a.interface_A, "time_label": "time (ps)" if a.dt_ps else "frame"})
    prefix.parent.mkdir(parents=True, exist_ok=True)
    if not a.no_plot:
        summary["figures"] = figures(rows, summary, prefix)
    write_outputs(frames, rows, summary, prefix, a.traj)
    print(f"{a.traj}: {len(frames)} frames, {len(ens.models)} models: max σF = {summary['max_sigma_f_eV_per_A']:.4g} "
          f"eV/Å, mean σF = {summary['mean_sigma_f_eV_per_A']:.4g} eV/Å (interface "
          f"{summary['interface_mean_sigma_f_eV_per_A'] or float('nan'):.4g}, elsewhere "
          f"{summary['non_interface_mean_sigma_f_eV_per_A'] or float('nan'):.4g})")
    if "force_error_rmse_eV_per_A" in summary:
        print(f"  RMSE of δF = |F̄ − F_ref|: {summary['force_error_rmse_eV_per_A']:.4g} eV/Å")
    print(f"  wrote {prefix.with_suffix('.npz')}, {prefix.with_suffix('.extxyz')}, {prefix.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
