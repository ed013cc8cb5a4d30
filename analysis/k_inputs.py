"""What fit_k reads from a LAMMPS heat-transfer log: the columns, the segment to fit, the window, the geometry.

Functions take paths and values (no argparse) and raise UserError naming the file when a log cannot be fitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beamheat.cli import UserError
from beamheat.geometry import Geometry, read_geometry
from beamheat.lammps_log import MissingColumnsError, read_thermo


@dataclass
class Columns:
    """Thermo column names (heat_transfer.in's by default); '+' sums columns."""
    time: str = "Time"
    t_np: str = "v_T_np"
    t_support: str = "v_T_support"
    e_np: str = "v_E_np"
    e_support: str = "v_E_support"
    power: str = "v_P_np"
    separation: str = "v_sep_A"


def load_geometry(log_path: Path, geometry: str | Path | None = None, *, area_nm2: float | None = None,
                  n_atoms_np: int | None = None, support: str | None = None, label: str | None = None) -> Geometry:
    """geometry.json (given, or next to the log) with options overriding its values (beamheat.geometry's record)."""
    path = Path(geometry) if geometry else Path(log_path).parent / "geometry.json"
    if geometry and not path.exists():
        raise UserError(f"{path}: geometry file not found")
    return read_geometry(path, A_nm2=area_nm2, n_atoms_np=n_atoms_np, support=support, label=label,
                         options={"A_nm2": "--area", "n_atoms_np": "--natoms"})


def column_terms(expr: str) -> list[str]:
    """The thermo columns a column expression sums ('c_ke_np+c_pe_np')."""
    return [c for c in expr.split("+") if c]


def column_values(th, expr: str) -> np.ndarray:
    """The values of a column expression: the sum of its columns."""
    return sum(th[c] for c in column_terms(expr))


def has_columns(th, expr: str) -> bool:
    return all(c in th.columns for c in column_terms(expr))


def read_columns(paths, want, optional=()):
    """Thermo with the wanted columns, and the optional ones where the log has them."""
    optional = [c for c in optional if c not in want]
    while True:
        try:
            return read_thermo(paths, list(dict.fromkeys([*want, *optional])))
        except MissingColumnsError as e:
            if not optional or not set(e.missing) & set(optional) or not set(e.missing) <= set(optional):
                raise
            optional = [c for c in optional if c not in e.missing]


def check_finite(th, mask: np.ndarray, columns: Columns, exprs, path) -> None:
    """Every value the analysis will use is a number: a `nan` or `inf` in a thermo column (a lost atom, a
    division by zero in a variable) is named, with its time, instead of failing inside a fit."""
    t = th[columns.time] if columns.time in th.columns and np.isfinite(th[columns.time][mask]).all() else None
    for expr in exprs:
        if not has_columns(th, expr):
            continue
        vals = column_values(th, expr)[mask]
        bad = ~np.isfinite(vals)
        if bad.any():
            k = int(np.nonzero(bad)[0][0])
            when = f" at t = {t[mask][k]:g} ps" if t is not None else ""
            raise UserError(f"{path}: column {expr} holds {int(bad.sum())} non-finite value(s) (nan/inf) in the "
                            f"analysed window{when}; the run went wrong there")


# ------------------------------------------------------------------------------------------------ segments
def pick_stage_block(th, path: Path, stage: str, block: int | None) -> int:
    """The thermo block to analyse: the last block of stage marker `stage` (printed by beamheat's inputs), or
    block number `block` when given. Refuses a log whose stages never reach `stage` (e.g. a killed run)."""
    blocks = [int(b) for b in np.unique(th.block)]
    if block is not None:
        try:
            return blocks[block]
        except IndexError:
            raise UserError(f"{path}: --block {block}: the log has {len(blocks)} thermo block(s) with the needed "
                            f"columns") from None
    names = [th.stage_name(b) for b in blocks]
    if not any(names):
        raise UserError(f"{path}: no 'beamheat: stage' markers, so the segment to fit is unknown (not a log of "
                        f"beamheat's inputs?); give --block N for the thermo block to fit (0..{len(blocks) - 1}, "
                        f"-1 = last)")
    require_stage(names, path, stage)
    return [b for b, n in zip(blocks, names) if n == stage][-1]


def require_stage(names: list[str | None], path: Path, stage: str) -> None:
    """Refuse a log whose stage markers (one name per thermo block) never reach `stage`: the run stopped before."""
    if stage not in names:
        seen = ", ".join(dict.fromkeys(n or "unmarked" for n in names))
        raise UserError(f"{path}: no '{stage}' segment (stages in this log: {seen}): the run stopped before it "
                        f"(killed?); nothing to fit")


def transient_window(th, blk, columns: Columns, start_ps, stop_temp_K, path, notes) -> tuple[np.ndarray, dict]:
    """The rows of block `blk` to fit: from start_ps (default: the block's start, i.e. contact) until the smoothed
    T_np falls below stop_temp_K (when given). Returns the row mask and the stop_temp_K / stop_temp_reached keys;
    a stop temperature never reached is added to `notes`."""
    t = th[columns.time]
    mask = th.block == blk
    if start_ps is not None:
        mask &= t >= start_ps
    if not mask.any():
        raise UserError(f"{path}: no thermo rows in the window (block {blk}, start {start_ps} ps)")
    check_finite(th, mask, columns, (columns.time, columns.t_np, columns.t_support, columns.e_np,
                                     columns.e_support), path)
    t0 = t[mask][0]
    info = {"stop_temp_K": stop_temp_K, "stop_temp_reached": None}
    if stop_temp_K is not None:
        from scipy.ndimage import uniform_filter1d

        T_np = column_values(th, columns.t_np)
        idx = np.nonzero(mask)[0]
        smooth = uniform_filter1d(T_np[idx], size=11, mode="nearest")  # ignore single hot/cold rows
        below = idx[(smooth < stop_temp_K) & (t[idx] > t0)]
        info["stop_temp_reached"] = bool(below.size)
        if below.size:
            mask &= np.arange(len(t)) < below[0]
        else:
            notes.append(f"--stop-temp {stop_temp_K:g} K never reached: T_np (smoothed) stayed at or above "
                         f"{smooth.min():.0f} K, so the window runs to the end of the segment")
    if mask.sum() < 5:
        raise UserError(f"{path}: only {int(mask.sum())} thermo rows in the window "
                        f"(block {blk}, start {start_ps}, stop-temp {stop_temp_K})")
    return mask, info


def segment_info(th, blk, t_last, path, notes) -> dict:
    """Was the segment completed as planned? (a killed NVE run is still fitted, but says so in `notes`).
    Keys: stage, segment_finished and, when the stage marker states them readably, t_planned_ps, t_ran_ps."""
    fields = th.stage_fields(blk)
    info = {"stage": th.stages.get(blk), "segment_finished": blk not in th.unfinished}
    planned, t_start = fields.get("t_planned_ps"), fields.get("t_start_ps")
    try:
        ran = t_last - float(t_start) if t_start is not None else None
        info.update(t_planned_ps=float(planned) if planned else None, t_ran_ps=ran)
    except ValueError:
        ran = None
    if blk in th.unfinished:
        extra = f"; ran {ran:.4g} of the planned {float(planned):.4g} ps" if ran is not None and planned else ""
        notes.append(f"{path}: the segment has no 'Loop time' line: the run was killed or is still running{extra}")
    return info
