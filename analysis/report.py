"""One report of a heat-transfer job: the system, k, the ensemble uncertainty σF, and ΔT under the beam.

    python -m analysis.report OUTDIR [--force]

The last step of scripts/demo.sh. OUTDIR holds what the earlier steps wrote:
  geometry.json                      the structure builder's geometry (label, atom counts, A, S, t, groups)
  heat_transfer_<i>/log.lammps       heat_transfer.in logs (the NVE block after "beamheat: stage nve_contact")
  heat_transfer_<i>/heat_transfer.dump   optional: dump custom with f_sf[1], the per-atom σF (eq. 2, eV/Å)
  k.json                             python -m analysis.fit_k
  heating_<E>keV.json                python -m analysis.heating predict, one per beam energy (300 and 80 keV)
  supports.json, supports.png        optional: python -m analysis.heating compare --out OUTDIR/supports (the same
                                     particle on several supports, Fig. 3/4): a section comparing them
and gets, written atomically (none overwritten without --force):
  report.md, report.json             the numbers, for people and for programs
  figures/dT_t.png                   ΔT(t) of the runs behind k, their mean, eq. 6 with the fitted k, and
                                     (dotted) the runs fit_k left out
  figures/sigma_f_t.png              σF(t): all atoms, interface atoms, worst 10 % (the paper's Fig. 2)
  figures/dT_dose.png                ΔT against dose rate per beam energy with its 68 % band (Fig. 3/4)
Interface atoms: those of one body (particle = geometry groups.np.types) with an atom of the other body within
5 Å in the first dump frame. A run halted when its log has fix halt's "Fix halt condition for fix-id ..." message.
A k or ΔT marked unreliable, or not determined by its 68 % interval (beamheat.reliability), puts a warning at the
top of report.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write, write_json
from beamheat.lammps_log import MissingColumnsError, read_messages, read_thermo
from beamheat.markers import HALT_TEXT, NVE_CONTACT
from beamheat.readers import interval, intervals, is_number, json_object, number, numbers
from beamheat.reliability import undetermined_reason
from beamheat.sigma import INTERFACE_CUTOFF_A, WORST_FRACTION, interface_mask, sigma_stats, worst_mean  # noqa: F401 - importable from here
from beamheat.units import EV_PER_NM2_PS_K_TO_MW_PER_M2_K, K_B_EV_PER_K

SIGMA_COLUMN = "f_sf[1]"                      # per-atom σF in heat_transfer.dump
LOG_SIGMA_MAX, LOG_SIGMA_MEAN = "c_nequip_pair[1]", "c_nequip_pair[2]"
OUTPUTS = ("report.md", "report.json", "figures/dT_t.png", "figures/sigma_f_t.png", "figures/dT_dose.png")
_HEATING_RE = re.compile(r"^heating_(\d+(?:\.\d+)?)keV\.json$")


# ------------------------------------------------------------------------------------------------ σF in the dumps
def read_dump_sigma(path: Path, np_types) -> dict:
    """Frames of a heat_transfer.dump: timestep, σF (n_frames, n_atoms, in atom-id order) and the interface mask
    of the first frame. sigma is None when the dump has no f_sf[1] column (no ensemble)."""
    import ase.io

    try:
        frames = ase.io.read(path, format="lammps-dump-text", index=":")
    except Exception as e:  # noqa: BLE001 - ASE raises many kinds; one line naming the file
        raise UserError(f"{path}: cannot read as a LAMMPS text dump ({e.__class__.__name__}: {e})") from None
    if not frames:
        raise UserError(f"{path}: no frames")
    steps = np.array([f.info.get("timestep", -1) for f in frames], float)
    if SIGMA_COLUMN not in frames[0].arrays:
        return {"steps": steps, "sigma": None, "interface": None}
    n = len(frames[0])
    if any(len(f) != n or SIGMA_COLUMN not in f.arrays for f in frames):
        raise UserError(f"{path}: frames differ in atom count or lack {SIGMA_COLUMN}")
    sigma = np.stack([np.asarray(f.arrays[SIGMA_COLUMN], float).reshape(n) for f in frames])
    first = frames[0]
    is_np = np.isin(np.asarray(first.arrays["type"]), list(np_types))
    mask = interface_mask(first.positions, is_np, first.cell, first.pbc)
    return {"steps": steps, "sigma": sigma, "interface": mask, "is_np": is_np}


# ------------------------------------------------------------------------------------------------ reading
def run_dirs(outdir: Path) -> list[Path]:
    """heat_transfer_<i>/ with a log.lammps, in order of i."""
    dirs = []
    for d in outdir.glob("heat_transfer_*"):
        m = re.fullmatch(r"heat_transfer_(\d+)", d.name)
        if m and d.is_dir():
            dirs.append((int(m.group(1)), d))
    dirs.sort()
    if not dirs:
        raise UserError(f"{outdir / 'heat_transfer_1' / 'log.lammps'}: LAMMPS log not found (no heat_transfer_<i>/ "
                        f"in {outdir})")
    for _, d in dirs:
        v.input_file(d / "log.lammps", "OUTDIR", "LAMMPS log")
    return [d for _, d in dirs]


def halt_lines(path: Path) -> list[str]:
    """fix halt's messages in a log (plain or gzipped): the runs it stopped."""
    return [line for _, line in read_messages(path, HALT_TEXT)]


def read_run(d: Path) -> dict:
    """The NVE segment of one heat_transfer_<i>/log.lammps (through beamheat.lammps_log)."""
    log = d / "log.lammps"
    want = ["Step", "Time", "v_T_np", "v_T_support"]
    optional = ["v_dT", LOG_SIGMA_MAX, LOG_SIGMA_MEAN]
    while True:
        try:
            th = read_thermo(log, want + optional)
            break
        except MissingColumnsError as e:
            if not set(e.missing) & set(optional) or not set(e.missing) <= set(optional):
                raise
            optional = [c for c in optional if c not in e.missing]
    blocks = [int(b) for b in np.unique(th.block)]
    nve = [b for b in blocks if th.stage_name(b) == NVE_CONTACT]
    if not nve:
        seen = ", ".join(dict.fromkeys(th.stage_name(b) or "unmarked" for b in blocks))
        raise UserError(f"{log}: no '{NVE_CONTACT}' segment (stages in this log: {seen}): the run stopped before "
                        f"contact; nothing to report")
    blk = nve[-1]
    m = th.block == blk
    t, step = th["Time"][m], th["Step"][m]
    dT = th["v_dT"][m] if "v_dT" in th.columns else th["v_T_np"][m] - th["v_T_support"][m]
    fields = th.stage_fields(blk)
    try:
        planned = float(fields["t_planned_ps"]) if "t_planned_ps" in fields else None
    except ValueError:
        planned = None
    halts = halt_lines(log)
    r = {"dir": d.name, "log": str(log), "t_contact_ps": float(t[0]), "t_nve_ps": float(t[-1] - t[0]),
         "t_planned_ps": planned, "segment_finished": blk not in th.unfinished, "halted": bool(halts),
         "halt_messages": halts, "dT0_K": float(dT[0]),
         "_t": t - t[0], "_step": step, "_dT": dT}
    if LOG_SIGMA_MAX in th.columns:
        r["log_sigma_f_max_eV_per_A"] = float(np.nanmax(th[LOG_SIGMA_MAX][m]))
    if LOG_SIGMA_MEAN in th.columns:
        r["log_sigma_f_mean_eV_per_A"] = float(np.nanmean(th[LOG_SIGMA_MEAN][m]))
    return r


def read_k(path: Path) -> dict:
    """k, its error and intervals, c_p and the support heat capacity from fit_k's JSON (one run or combined)."""
    kj = json_object(path, "fit_k result")
    if "k_eV_per_nm2_ps_K" not in kj:
        raise UserError(f"{path}: missing 'k_eV_per_nm2_ps_K' (not a fit_k JSON?)")
    runs = kj.get("runs") if isinstance(kj.get("runs"), list) else [kj]
    k = number(kj, "k_eV_per_nm2_ps_K", path, required=False)
    err = number(kj, "k_err_eV_per_nm2_ps_K", path, required=False)
    iv = interval(kj, "k_interval_eV_per_nm2_ps_K", path)
    iv95 = interval(kj, "k_interval95_eV_per_nm2_ps_K", path)
    reasons = list(kj.get("unreliable_reasons") or [])
    reliable = kj.get("reliable", True) is not False
    left_out = {}  # run folder -> why fit_k left it out of the combination (e.g. lost contact)
    for ex in kj.get("excluded_runs") or []:
        if isinstance(ex, dict) and ex.get("reasons"):
            left_out[Path(str(ex.get("log", "?"))).parent.name] = "; ".join(map(str, ex["reasons"]))
    reasons += [f"left out {d}: {why}" for d, why in left_out.items()]
    if k is None:
        reliable, reasons = False, reasons or ["no k (no reliable run)"]
    elif (why := undetermined_reason("k", k, err, iv)) is not None:
        reliable = False
        reasons.append(why)
    conv = EV_PER_NM2_PS_K_TO_MW_PER_M2_K
    out = {"file": str(path), "k_eV_per_nm2_ps_K": k, "k_err_eV_per_nm2_ps_K": err,
           "k_interval_eV_per_nm2_ps_K": iv, "k_interval95_eV_per_nm2_ps_K": iv95,
           "k_MW_per_m2_K": k * conv if k is not None else None,
           "k_err_MW_per_m2_K": err * conv if err is not None else None,
           "k_interval_MW_per_m2_K": [x * conv for x in iv] if iv else None,
           "k_method": kj.get("k_method"), "n_runs": int(kj.get("n_runs", len(runs))),
           "n_runs_reliable": kj.get("n_runs_reliable"), "reliable": reliable, "unreliable_reasons": reasons,
           "left_out": left_out}
    cps = [r["cp_eV_per_K"] for r in runs if isinstance(r, dict) and is_number(r.get("cp_eV_per_K"))]
    cs = [r["C_support_eV_per_K"] for r in runs if isinstance(r, dict) and is_number(r.get("C_support_eV_per_K"))]
    out["cp_eV_per_K"] = float(np.mean(cps)) if cps else None
    out["C_support_eV_per_K"] = float(np.mean(cs)) if cs else None
    return out


def read_heating(outdir: Path, allow_missing: bool = False) -> list[dict]:
    """heating_<E>keV.json files, by beam energy (none is an error unless allow_missing: k not positive)."""
    found = []
    for p in outdir.iterdir():
        m = _HEATING_RE.match(p.name)
        if m:
            found.append((float(m.group(1)), p))
    if not found and allow_missing:
        return []
    if not found:
        raise UserError(f"{outdir / 'heating_300keV.json'}: heating result file not found (no heating_<E>keV.json "
                        f"in {outdir}; write it with python -m analysis.heating predict --json)")
    out = []
    for e, p in sorted(found, reverse=True):
        h = json_object(p, "heating result")
        inputs = h.get("inputs")
        if not isinstance(inputs, dict):
            raise UserError(f"{p}: missing 'inputs' (not an analysis.heating predict JSON?)")
        dose = numbers(h, "dose_rate_e_per_A2_s", p)
        dT = numbers(h, "dT_K", p)
        if len(dose) != len(dT):
            raise UserError(f"{p}: 'dose_rate_e_per_A2_s' and 'dT_K' must be lists of the same length")
        iv = intervals(h, "dT_interval_K", p, len(dT))
        iv95 = intervals(h, "dT_interval95_K", p, len(dT))
        reasons = [str(w) for w in h.get("warnings") or []]
        reliable = h.get("reliable", True) is not False
        for d, x, i in zip(dose, dT, iv):
            why = undetermined_reason(f"ΔT at {d:g} e⁻/(Å² s)", x, interval=i, unit="K") if i else None
            if why:
                reliable = False
                reasons.append(why)
                break
        out.append({"file": str(p), "beam_keV": e, "lambda_nm": number(inputs, "lambda_nm", p),
                    "E_eV": number(inputs, "E", p), "k_eV_per_nm2_ps_K": number(inputs, "k", p, required=False),
                    "S_nm2": number(inputs, "S_nm2", p, required=False),
                    "A_nm2": number(inputs, "A_nm2", p, required=False),
                    "t_nm": number(inputs, "t_nm", p, required=False),
                    "dose_rate_e_per_A2_s": dose, "dT_K": dT,
                    "dT_err_K": h.get("dT_err_K"), "dT_interval_K": iv, "dT_interval95_K": iv95,
                    "relative_uncertainty": h.get("relative_uncertainty"), "reliable": reliable,
                    "warnings": reasons})
    return out


# ------------------------------------------------------------------------------------------------ combining
def common_mean(ts: list[np.ndarray], ys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of several series on the first one's time grid, up to the shortest series' end."""
    t_end = min(t[-1] for t in ts)
    grid = ts[0][ts[0] <= t_end + 1e-9]
    return grid, np.mean([np.interp(grid, t, y) for t, y in zip(ts, ys)], axis=0)


def frame_times(steps: np.ndarray, run: dict) -> np.ndarray:
    """Time since contact of dump frames, from the log's Step -> Time (linear: a fixed timestep)."""
    st, t = run["_step"], run["_t"]
    if len(st) > 1 and st[-1] != st[0]:
        slope = (t[-1] - t[0]) / (st[-1] - st[0])
        return t[0] + (steps - st[0]) * slope
    return np.zeros(len(steps))


def sigma_summary(dumps: list[dict], runs: list[dict]) -> dict:
    """σF statistics over every frame of every run with σF (runs without a dump or without f_sf[1] are skipped)."""
    series, per_run = [], []
    for dump, r in zip(dumps, runs):
        if dump is None or dump["sigma"] is None:
            continue
        keep = dump["steps"] >= r["_step"][0]
        if not keep.any():
            continue
        st = sigma_stats(dump["sigma"][keep], dump["interface"])
        t = frame_times(dump["steps"][keep], r)
        series.append((t, st))
        per_run.append({"dir": r["dir"], "n_frames": int(keep.sum()),
                        "n_interface_atoms": int(dump["interface"].sum()),
                        "mean_all_eV_per_A": float(st["all"].mean()),
                        "mean_interface_eV_per_A": _nanmean(st["interface"]),
                        "mean_worst10_eV_per_A": float(st["worst10"].mean()),
                        "max_eV_per_A": float(st["max"].max())})
    log_max = [r["log_sigma_f_max_eV_per_A"] for r in runs if "log_sigma_f_max_eV_per_A" in r]
    out = {"available": bool(series), "interface_cutoff_A": INTERFACE_CUTOFF_A, "worst_fraction": WORST_FRACTION,
           "runs": per_run, "log_max_eV_per_A": max(log_max) if log_max else None}
    if series:
        cat = {k: np.concatenate([s[k] for _, s in series]) for k in ("all", "interface", "worst10", "max")}
        out.update(mean_all_eV_per_A=float(cat["all"].mean()), mean_interface_eV_per_A=_nanmean(cat["interface"]),
                   mean_worst10_eV_per_A=float(cat["worst10"].mean()), max_eV_per_A=float(cat["max"].max()))
        ts = [t for t, _ in series]
        out["_curves"] = {k: common_mean(ts, [s[k] for _, s in series]) for k in ("all", "interface", "worst10")}
    return out


def _nanmean(x) -> float | None:
    x = np.asarray(x, float)
    return float(np.nanmean(x)) if np.isfinite(x).any() else None


# ------------------------------------------------------------------------------------------------ figures
def _save_png(fig, path: Path) -> str:
    """The figure as PNG, written atomically (temporary file, then rename)."""
    from beamheat.plotting import pyplot

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.part.png")
    try:
        fig.savefig(tmp, dpi=150, format="png")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        pyplot().close(fig)
    return str(path)


def beside_paper(k: dict, system: dict) -> dict:
    """k in the paper's authors' area convention (A = the convex hull of the bottom-layer atom centres, A_hull:
    k scales as 1/A, so k A / A_hull) and the paper's k for the support (analysis.heating.REFERENCE_K, Table 3)."""
    from analysis.heating import REFERENCE_K

    out = {"paper_k_eV_per_nm2_ps_K": REFERENCE_K.get(system.get("support") or ""),
           "k_hull_eV_per_nm2_ps_K": None, "k_hull_interval_eV_per_nm2_ps_K": None}
    a, a_hull, kk = system.get("A_nm2"), system.get("A_hull_nm2"), k.get("k_eV_per_nm2_ps_K")
    if a and a_hull and kk is not None:
        f = a / a_hull
        out["k_hull_eV_per_nm2_ps_K"] = kk * f
        iv = k.get("k_interval_eV_per_nm2_ps_K")
        out["k_hull_interval_eV_per_nm2_ps_K"] = [x * f for x in iv] if iv else None
    return out


def plot_dT_t(path: Path, runs: list[dict], model: dict, left_out: list[dict] = ()) -> str:
    """ΔT(t) of RUNS (those behind k), their mean and eq. 6; LEFT_OUT runs dotted, outside the mean."""
    from beamheat.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r in runs:
        ax.plot(r["_t"], r["_dT"], lw=0.5, alpha=0.5, color="0.55")
    for j, r in enumerate(left_out):
        ax.plot(r["_t"], r["_dT"], ":", lw=0.8, color="C1",
                label=f"left out of k: {', '.join(x['dir'] for x in left_out)}" if j == 0 else None)
    grid, mean = common_mean([r["_t"] for r in runs], [r["_dT"] for r in runs])
    ax.plot(grid, mean, color="C0", lw=1.5, label=f"mean of the {len(runs)} run(s) behind k (thin: each run)")
    if model.get("tau_ps"):
        tt = np.linspace(0, grid[-1], 300)
        ax.plot(tt, model["dT0_K"] * np.exp(-tt / model["tau_ps"]), "--", color="C3", lw=1.5,
                label=f"eq. 6: ΔT0 exp(−t/τ), τ = {model['tau_ps']:.4g} ps\n"
                      f"k = {model['k_eV_per_nm2_ps_K']:.3g} eV/(nm² ps K); C_sub: {model['C_support_source']}")
    ax.set_xlabel("time since contact (ps)")
    ax.set_ylabel("ΔT = T_np − T_support (K)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _save_png(fig, path)


def plot_sigma_t(path: Path, sig: dict) -> str:
    from beamheat.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    if sig.get("available"):
        labels = {"all": "all atoms (mean)", "interface": f"interface atoms (mean, < {INTERFACE_CUTOFF_A:g} Å)",
                  "worst10": "worst 10 % of atoms (mean)"}
        for i, (key, label) in enumerate(labels.items()):
            t, y = sig["_curves"][key]
            if np.isfinite(y).any():
                ax.plot(t, y, "o-", ms=3, color=f"C{i}", label=label)
        ax.legend(fontsize=8)
        ax.set_title(f"runs averaged ({len(sig['runs'])})", fontsize=9)
    else:
        ax.text(0.5, 0.5, "no per-atom σF in the dumps (f_sf[1]):\nnot an ensemble run", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("time since contact (ps)")
    ax.set_ylabel("σF (eV/Å)")
    ax.grid(True, alpha=0.3)
    return _save_png(fig, path)


def plot_dT_dose(path: Path, heating: list[dict]) -> str:
    from beamheat.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    if not heating:
        ax.text(0.5, 0.5, "ΔT not predicted: k is not positive", ha="center", va="center", transform=ax.transAxes)
    for i, h in enumerate(heating):
        d = np.array(h["dose_rate_e_per_A2_s"])
        y = np.array(h["dT_K"])
        order = np.argsort(d)
        ax.loglog(d[order], y[order], "o-", color=f"C{i}",
                  label=f"{h['beam_keV']:g} keV (λ = {h['lambda_nm']:.4g} nm)")
        iv = h["dT_interval_K"]
        if all(x is not None for x in iv):
            lo = np.array([x[0] for x in iv])[order]
            hi = np.array([x[1] for x in iv])[order]
            hi = np.where(np.isfinite(hi), hi, 1e3 * y.max())   # unbounded: the band runs off the top
            ax.fill_between(d[order], np.maximum(lo, 1e-300), hi, color=f"C{i}", alpha=0.2, lw=0)
    ax.set_xlabel("dose rate (e⁻/(Å² s))")
    ax.set_ylabel("ΔT (K)")
    ax.set_title("steady-state ΔT (eq. 5); bands: 68 % interval", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    if heating:  # without a curve the panel carries its note instead
        ax.legend(fontsize=8)
    return _save_png(fig, path)


# ------------------------------------------------------------------------------------------------ the report
def _g(x, fmt=".3g", none="–"):
    return none if x is None else format(x, fmt)


def markdown(rep: dict) -> str:
    s, k = rep["system"], rep["k"]
    lines = []
    for w in rep["warnings"]:
        lines.append(f"> **WARNING: {w}**")
    if lines:
        lines.append("")
    lines += [f"# beamheat report: {s['label'] or 'system'}", "",
              "## System", "",
              "| quantity | value |", "|---|---|",
              f"| label | {s['label']} |", f"| N particle atoms | {s['n_atoms_np']} |",
              f"| N support atoms | {_g(s['n_atoms_support'], 'd')} |",
              f"| contact area A | {_g(s['A_nm2'], '.4g')} nm² |",
              f"| projected area S | {_g(s['S_nm2'], '.4g')} nm² |",
              f"| mean thickness t | {_g(s['t_nm'], '.4g')} nm |", "",
              "## Heat-transfer runs", "",
              f"{rep['n_runs']} run(s); NVE after contact:", "",
              "| run | NVE time (ps) | planned (ps) | finished | halted | ΔT at contact (K) | in k |",
              "|---|---|---|---|---|---|---|"]
    for r in rep["runs"]:
        lines.append(f"| {r['dir']} | {r['t_nve_ps']:.4g} | {_g(r['t_planned_ps'], '.4g')} | "
                     f"{'yes' if r['segment_finished'] else 'NO'} | {'YES' if r['halted'] else 'no'} | "
                     f"{r['dT0_K']:.4g} | "
                     f"{'NO: ' + r['left_out_of_k'] if r.get('left_out_of_k') else 'yes'} |")
    iv, ivm = k["k_interval_eV_per_nm2_ps_K"], k["k_interval_MW_per_m2_K"]
    lines += ["", "## Interfacial conductance k", ""]
    if k["k_eV_per_nm2_ps_K"] is None:
        lines.append("k: not determined (no reliable run).")
    else:
        lines += [f"k = {k['k_eV_per_nm2_ps_K']:.3g} ± {_g(k['k_err_eV_per_nm2_ps_K'], '.2g')} eV/(nm² ps K)"
                  + (f" (68 % interval {iv[0]:.3g} – {iv[1]:.3g})" if iv else ""), "",
                  f"k = {k['k_MW_per_m2_K']:.3g} ± {_g(k['k_err_MW_per_m2_K'], '.2g')} MW/(m² K)"
                  + (f" (68 % interval {ivm[0]:.3g} – {ivm[1]:.3g})" if ivm else ""), "",
                  f"method: {k['k_method'] or '–'}; from {k['n_runs']} run(s)"
                  + (f", {k['n_runs_reliable']} reliable" if k["n_runs_reliable"] is not None else "")
                  + f"; {'reliable' if k['reliable'] else 'NOT reliable'}"]
        if k["k_hull_eV_per_nm2_ps_K"] is not None:
            ivh = k["k_hull_interval_eV_per_nm2_ps_K"]
            lines += ["", f"In the paper's area convention (A = convex hull of the bottom-layer atom centres, "
                          f"{s['A_hull_nm2']:.4g} nm² against the package's {s['A_nm2']:.4g} nm²): "
                          f"k = {k['k_hull_eV_per_nm2_ps_K']:.3g} eV/(nm² ps K)"
                          + (f" (68 % interval {ivh[0]:.3g} – {ivh[1]:.3g})" if ivh else "")]
        if k["paper_k_eV_per_nm2_ps_K"] is not None:
            lines += ["", f"The paper (Table 3, DFT-trained NequIP) on {s['support']}: "
                          f"k = {k['paper_k_eV_per_nm2_ps_K']:.3g} eV/(nm² ps K), for particles of 341–1489 atoms "
                          f"on a multilayer support; this system: {s['n_atoms_np']} particle atoms, "
                          f"{_g(s['n_atoms_support'], 'd')} support atoms."]
    hc = rep["heat_capacity"]
    lines += ["", f"c_p (particle, per atom): {_g(hc['cp_eV_per_K'], '.4g')} eV/K ({hc['cp_source']})",
              "", f"C_support: {_g(hc['C_support_eV_per_K'], '.4g')} eV/K ({hc['C_support_source']})"]
    m = rep["model"]
    if m.get("tau_ps"):
        lines += ["", f"eq. 6 with these: ΔT0 = {m['dT0_K']:.4g} K (mean at contact), τ = {m['tau_ps']:.4g} ps"]
    elif m.get("no_curve_because"):
        lines += ["", f"no eq. 6 curve: {m['no_curve_because']}"]
    lines += ["", "![ΔT(t)](figures/dT_t.png)", "", "## Ensemble uncertainty σF", ""]
    sig = rep["sigma_f"]
    if sig["available"]:
        lines += [(f"Over the NVE, all frames of {len(sig['runs'])} run(s); interface: atoms with an atom of the "
                   f"other body within {INTERFACE_CUTOFF_A:g} Å in the first frame."), "",
                  "| subset | mean σF (eV/Å) |", "|---|---|",
                  f"| all atoms | {sig['mean_all_eV_per_A']:.4g} |",
                  f"| interface atoms | {_g(sig['mean_interface_eV_per_A'], '.4g')} |",
                  f"| worst 10 % | {sig['mean_worst10_eV_per_A']:.4g} |", "",
                  f"max σF (any atom, any frame): {sig['max_eV_per_A']:.4g} eV/Å"]
    else:
        lines.append("No per-atom σF in the dumps (no f_sf[1] column): not an ensemble run.")
    if sig["log_max_eV_per_A"] is not None:
        lines += ["", f"max σF in the thermo output: {sig['log_max_eV_per_A']:.4g} eV/Å"]
    halted = [r["dir"] for r in rep["runs"] if r["halted"]]
    lines += ["", f"Halted runs: {', '.join(halted) if halted else 'none'}"]
    lines += ["", "![σF(t)](figures/sigma_f_t.png)", "", "## Beam heating ΔT (eq. 5)", ""]
    for h in rep["heating"]:
        lines += [f"### {h['beam_keV']:g} keV", "",
                  (f"EELS parameters: ⟨E⟩ = {h['E_eV']:.4g} eV, λ = {h['lambda_nm']:.4g} nm; "
                   f"k = {_g(h['k_eV_per_nm2_ps_K'])} eV/(nm² ps K); "
                   f"{'reliable' if h['reliable'] else 'NOT reliable'}"), "",
                  "| dose rate (e⁻/(Å² s)) | ΔT (K) | 68 % interval (K) |", "|---|---|---|"]
        for d, x, i in zip(h["dose_rate_e_per_A2_s"], h["dT_K"], h["dT_interval_K"]):
            hi = (f"{i[1]:.3g}" if np.isfinite(i[1]) else "unbounded (k may be zero)") if i else ""
            lines.append(f"| {d:.3g} | {x:.3g} | {f'{i[0]:.3g} – {hi}' if i else '–'} |")
        lines.append("")
    lines += ["![ΔT against dose rate](figures/dT_dose.png)", ""]
    if rep.get("supports"):
        c = rep["supports"]
        first = c["supports"][0]["support"]
        lines += ["## Supports compared (Fig. 3/4)", "",
                  f"The same particle (S/A = {c['S_nm2'] / c['A_nm2']:.2f}) on each support, with that support's k "
                  f"(`{c['file']}`); ΔT at {c['reference_dose_rate_e_per_A2_s']:g} e⁻/(Å² s) and 300 keV.", "",
                  f"| support | k (eV/(nm² ps K)) | paper's k | ΔT (K) | 68 % interval (K) | ΔT / ΔT({first}) | "
                  f"the same from the paper's k |", "|---|---|---|---|---|---|---|"]
        for x in c["supports"]:
            i = x["beam_keV"].index(300.0) if 300.0 in x["beam_keV"] else -1
            lo, hi = x["dT_at_dose_rate_interval_K"][i]
            hi_s = f"{hi:.3g}" if hi is not None and np.isfinite(hi) else "unbounded"
            lines.append(f"| {x['support']}{'' if x['reliable'] else ' (NOT reliable)'} | "
                         f"{x['k_eV_per_nm2_ps_K']:.3g} | {_g(x['paper_k_eV_per_nm2_ps_K'])} | "
                         f"{x['dT_at_dose_rate_K'][i]:.3g} | {lo:.3g} – {hi_s} | "
                         f"{c['dT_ratio_to_first'][x['support']]:.3g} | "
                         f"{_g(c['dT_ratio_to_first_paper'][x['support']])} |")
        lines += ["", "![supports](supports.png)", ""]
    return "\n".join(lines)


def _public(x):
    """Drop the private (_-prefixed) keys that hold arrays for the figures."""
    if isinstance(x, dict):
        return {k: _public(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, list):
        return [_public(v) for v in x]
    return x


def make_report(outdir: Path, force: bool = False) -> dict:
    """Read OUTDIR, write report.md, report.json and the three figures; returns the report's JSON dict."""
    outdir = Path(outdir)
    v.input_dir(outdir, "OUTDIR", "output directory")
    outputs = [outdir / o for o in OUTPUTS]
    v.output_files(outputs, "OUTDIR", force=force, mkdir=True)
    geo_path = outdir / "geometry.json"
    geo = json_object(geo_path, "geometry")
    n_np = number(geo, "n_atoms_np", geo_path)
    n_sub = number(geo, "n_atoms_support", geo_path, required=False)
    np_types = ((geo.get("groups") or {}).get("np") or {}).get("types")
    if np_types is None:
        tm = geo.get("type_map") or {}
        np_types = [tm[geo["element_np"]]] if geo.get("element_np") in tm else [1]
    system = {"label": geo.get("label", ""), "support": geo.get("support"), "n_atoms_np": int(n_np),
              "n_atoms_support": int(n_sub) if n_sub is not None else None,
              "A_nm2": number(geo, "A_nm2", geo_path), "S_nm2": number(geo, "S_nm2", geo_path, required=False),
              "t_nm": number(geo, "t_nm", geo_path, required=False), "geometry": str(geo_path),
              "A_hull_nm2": number(geo, "A_hull_nm2", geo_path, required=False)}
    k = read_k(outdir / "k.json")
    k.update(beside_paper(k, system))
    k_pos = bool(k["k_eV_per_nm2_ps_K"]) and k["k_eV_per_nm2_ps_K"] > 0
    heating = read_heating(outdir, allow_missing=not k_pos)
    dirs = run_dirs(outdir)
    runs = [read_run(d) for d in dirs]
    dumps = [read_dump_sigma(d / "heat_transfer.dump", np_types) if (d / "heat_transfer.dump").is_file() else None
             for d in dirs]
    sig = sigma_summary(dumps, runs)
    for r, ps in zip(runs, dumps):
        r["has_sigma_f"] = bool(ps is not None and ps["sigma"] is not None)
        r["left_out_of_k"] = k["left_out"].get(r["dir"])
    kept = [r for r in runs if not r["left_out_of_k"]] or runs  # the runs behind k: ΔT(t) and ΔT0 average them

    # heat capacities and eq. 6
    cp = k["cp_eV_per_K"]
    cp_source = "mean of the runs' cp_eV_per_K in k.json" if cp is not None else "3k_B (no cp_eV_per_K in k.json)"
    if cp is None:
        cp = 3 * K_B_EV_PER_K
    C_np = system["n_atoms_np"] * cp
    if k["C_support_eV_per_K"] is not None:
        C_sub, C_sub_source = k["C_support_eV_per_K"], "from k.json"
    elif n_sub:
        C_sub, C_sub_source = n_sub * 3 * K_B_EV_PER_K, "N_support·3k_B"
    else:
        C_sub, C_sub_source = None, "infinite bath"
    model = {"dT0_K": float(np.mean([r["dT0_K"] for r in kept])), "C_np_eV_per_K": C_np,
             "C_support_eV_per_K": C_sub, "C_support_source": C_sub_source,
             "k_eV_per_nm2_ps_K": k["k_eV_per_nm2_ps_K"], "tau_ps": None}
    if not (k["k_eV_per_nm2_ps_K"] and k["k_eV_per_nm2_ps_K"] > 0):
        model["no_curve_because"] = f"k = {_g(k['k_eV_per_nm2_ps_K'], '.3g')} is not positive"
    elif not (C_np and C_np > 0):
        model["no_curve_because"] = (f"the particle's heat capacity {_g(C_np, '.3g')} eV/K is not positive (its "
                                     f"energy did not rise with its temperature in the runs)")
    else:
        inv = 1.0 / C_np + (1.0 / C_sub if C_sub else 0.0)
        model["tau_ps"] = 1.0 / (k["k_eV_per_nm2_ps_K"] * system["A_nm2"] * inv)

    warnings = []
    if not k["reliable"]:
        why = "; ".join(k["unreliable_reasons"]) or "marked reliable: false"
        warnings.append(f"k is NOT reliable ({k['file']}: {why})")
    for h in heating:
        if not h["reliable"]:
            warnings.append(f"ΔT at {h['beam_keV']:g} keV is NOT reliable ({h['file']}: "
                            f"{'; '.join(h['warnings']) or 'marked reliable: false'})")
    if not heating:
        warnings.append("ΔT under the beam NOT predicted: k is not positive (eq. 5 needs k > 0)")
    halted = [r["dir"] for r in runs if r["halted"]]
    if halted:
        warnings.append(f"run(s) halted by fix halt (σF or force limit): {', '.join(halted)}")
    unfinished = [r["dir"] for r in runs if not r["segment_finished"]]
    if unfinished:
        warnings.append(f"NVE segment not finished (killed?): {', '.join(unfinished)}")

    supports = None
    if (outdir / "supports.json").exists():
        supports = json_object(outdir / "supports.json", "support comparison (analysis.heating compare)")
        if not isinstance(supports.get("supports"), list) or not supports["supports"]:
            raise UserError(f"{outdir / 'supports.json'}: no supports listed (not an analysis.heating compare "
                            f"result)")
        supports["file"] = "supports.json"
        for x in supports["supports"]:
            if not x.get("reliable", True):
                warnings.append(f"ΔT on {x.get('support')} in supports.json is NOT reliable")
    rep = {"outdir": str(outdir), "system": system, "n_runs": len(runs), "runs": runs,
           "t_nve_ps": [r["t_nve_ps"] for r in runs], "k": k,
           "heat_capacity": {"cp_eV_per_K": cp, "cp_source": cp_source, "C_np_eV_per_K": C_np,
                             "C_support_eV_per_K": C_sub, "C_support_source": C_sub_source},
           "model": model, "sigma_f": sig, "heating": heating, "supports": supports,
           "reliable": not warnings, "warnings": warnings,
           "figures": [str(p.relative_to(outdir)) for p in outputs[2:]]}
    # everything read and computed: now write (figures first, the summaries last)
    plot_dT_t(outputs[2], kept, model, left_out=[r for r in runs if r["left_out_of_k"]])
    plot_sigma_t(outputs[3], sig)
    plot_dT_dose(outputs[4], heating)
    public = _public(rep)
    write_json(outputs[1], public)
    atomic_write(outputs[0], markdown(public))
    return public


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m analysis.report", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("outdir", metavar="OUTDIR", help="the job's output directory (runs/demo)")
    p.add_argument("--force", action="store_true", help="overwrite an existing report.md, report.json or figures")
    a = p.parse_args(argv)
    rep = make_report(Path(a.outdir), force=a.force)
    print(f"wrote {Path(a.outdir) / 'report.md'}, report.json and {', '.join(rep['figures'])}")
    for w in rep["warnings"]:
        print(f"WARNING: {w}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
