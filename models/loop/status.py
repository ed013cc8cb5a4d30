"""The loop's progress read back from the generations' manifests: one row per generation (history), and the table
`python -m models.loop --status DIR` prints."""

from __future__ import annotations

from pathlib import Path

from models.loop.config import LoopError
from models.loop.manifest import Generation

LETTER = {"explore": "E", "select": "S", "label": "L", "train": "T", "deploy": "D", "evaluate": "V"}


def history(work: Path, upto: int | None = None) -> list[dict]:
    """One row per generation of WORK (up to UPTO): counts, test errors, exploration fractions, Spearman(sigma_F, dF)
    on the new frames, stage states and wall times."""
    rows = []
    g = 0
    while (work / f"gen_{g:03d}" / "manifest.json").exists() and (upto is None or g <= upto):
        gen = Generation(work, g)
        m = gen.m.get("metrics") or {}
        ex = (gen.m["stages"].get("explore", {}).get("outputs") or {})
        test = (m.get("test") or {}).get("ensemble") or {}
        new = (m.get("new_frames_previous_ensemble") or {}).get("ensemble") or {}
        tr = gen.m["stages"]["train"].get("outputs") or {}
        lab = gen.m["stages"]["label"].get("outputs") or {}
        sel = gen.m["stages"].get("select", {}).get("outputs") or {}
        rows.append({"generation": g, "n_train": tr.get("n_train"), "n_new": lab.get("n_labelled"),
                     "labelling": labelling(gen.dir, sel.get("n_selected"))
                     if gen.m["stages"]["label"]["state"] == "running" else None,
                     "test_force_rmse": test.get("force_rmse_eV_per_A"),
                     "test_force_error_rmse": test.get("force_error_rmse_eV_per_A"),
                     "halted_fraction": ex.get("halted_fraction"), "accurate_fraction": ex.get("accurate_fraction"),
                     "spearman_new": new.get("spearman_sigma_delta"),
                     "spearman_new_frames": new.get("spearman_frame_max_sigma_delta"),
                     "states": {s: v["state"] for s, v in gen.m["stages"].items()},
                     "wall_s": {s: v.get("wall_s") for s, v in gen.m["stages"].items()}})
        g += 1
    return rows


def labelling(gen_dir: Path, n_selected: int | None) -> str | None:
    """"K/N" while a generation's label stage runs (or was interrupted): the frames finished in its labels.db (done
    or failed) against the frames selected; None before the database exists."""
    db_path = gen_dir / "labels.db"
    if n_selected is None or not db_path.is_file():
        return None
    from ase.db import connect

    return f"{connect(str(db_path), serial=True).count()}/{n_selected}"


def status_table(work: Path) -> str:
    """history(WORK) as a text table, with a legend."""
    rows = history(work)
    if not rows:
        raise LoopError(f"{work}: no generations (gen_000/manifest.json not found)")

    def f(v, fmt):
        return format(v, fmt) if v is not None else "-"

    head = (f"{'gen':>3}  {'stages':<7} {'new':>5} {'train':>5} {'F RMSE':>8} {'|dF| RMSE':>9} {'halted':>6} "
            f"{'accur.':>6} {'rho atom':>8} {'rho frame':>9} {'wall s':>7}")
    lines = [f"{work}: stages E explore, S select, L label, T train, D deploy, V evaluate (letter done, * running "
             f"or interrupted, . pending); F RMSE on the fixed test split (eV/Å); halted/accur. from the exploration "
             f"with the previous generation's ensemble; rho: Spearman(sigma_F, dF) on the new frames, per atom and "
             f"per frame (max over its atoms); new: frames labelled (K/N while labelling)", head]
    for r in rows:
        st = "".join(LETTER[s] if v == "done" else "*" if v == "running" else "." for s, v in r["states"].items())
        wall = sum(v for v in r["wall_s"].values() if v)
        new = r["labelling"] or f(r["n_new"], "d")
        lines.append(f"{r['generation']:>3}  {st:<7} {new:>5} {f(r['n_train'], 'd'):>5} "
                     f"{f(r['test_force_rmse'], '.4f'):>8} {f(r['test_force_error_rmse'], '.4f'):>9} "
                     f"{f(r['halted_fraction'], '.2f'):>6} {f(r['accurate_fraction'], '.2f'):>6} "
                     f"{f(r['spearman_new'], '.3f'):>8} {f(r['spearman_new_frames'], '.3f'):>9} {wall:>7.1f}")
    return "\n".join(lines)
