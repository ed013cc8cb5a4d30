"""The label database of dft.label: one ASE database row per configuration (energy, forces, the D3 share, the
settings, GPAW's version, wall time, status), written in one transaction; labels copied from earlier databases;
candidates read and finished labels exported as extxyz for training.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import UserError
from dft.settings import settings_hash

# row keys of dft.label's own, and names ASE's database keeps for itself: never copied from a frame's info
RESERVED_KEYS = ("uid", "status", "settings_hash", "gpaw_version", "converged", "wall_time_s", "error", "energy_d3",
                 "energy", "forces", "stress", "id", "natoms", "calculator", "magmom", "charge", "ctime", "mtime",
                 "user", "unique_id", "numbers", "positions", "cell", "pbc", "free_energy", "fmax", "smax", "volume",
                 "mass", "resumed_at_iteration")


def write_row(db, atoms, uid, status, settings, info, result=None, error=None, info_keys=("source", "frame")):
    from ase.calculators.singlepoint import SinglePointCalculator
    import gpaw

    atoms = (result or {}).get("atoms", atoms).copy()
    if result and "energy" in result:
        atoms.calc = SinglePointCalculator(atoms, energy=result["energy"], forces=result["forces"],
                                           **({"stress": result["stress"]} if result["stress"] is not None else {}))
    kvp = {"uid": uid, "status": status, "settings_hash": settings_hash(settings), "gpaw_version": gpaw.__version__,
           "converged": bool(result and result.get("converged")),
           "wall_time_s": float(result["wall_time_s"]) if result else 0.0}
    for key in info_keys:
        if key in info:
            v = info[key].item() if isinstance(info[key], np.generic) else info[key]  # extxyz gives numpy scalars
            kvp[key] = v if isinstance(v, (int, float, str)) else str(v)
    if result and "resumed_at_iteration" in result:
        kvp["resumed_at_iteration"] = result["resumed_at_iteration"]
    if error:
        kvp["error"] = error[:500]
    data = {"settings": settings}
    if result and "d3" in result:
        kvp["energy_d3"] = result["d3"]["energy"]
        data["forces_d3"] = np.asarray(result["d3"]["forces"], float)
    with db:  # one transaction: the row is there completely or not at all
        if db.count(uid=uid) == 0:
            db.write(atoms, key_value_pairs=kvp, data=data)


def row_statuses(db) -> dict[str, str]:
    """{uid: status ("done" or "failed")} of every row of DB (none when it is empty)."""
    return {r.uid: r.get("status") for r in db.select(columns=["key_value_pairs"])} if len(db) else {}


def wait_for_rows(db, uids, poll_s: float = 5.0) -> None:
    """Return once DB holds a row (done or failed) of every uid in UIDS, checking every POLL_S seconds: a rank group
    that has finished its share waits here, asleep, for the others, where MPI's collectives would spin a core
    (MPICH polls with sched_yield) that the groups still computing need."""
    want = set(uids)
    while want - row_statuses(db).keys():
        time.sleep(poll_s)


def reuse_finished(db, uids, sources) -> int:
    """Rows of the ASE databases SOURCES (dft.label's) that finished one of UIDS, copied into DB where it has no row
    of that uid: a uid hashes the atoms and the settings, so the copy is the label this run would compute. The
    number copied."""
    from ase.db import connect

    want = set(uids) - row_statuses(db).keys()
    n = 0
    for src in sources:
        if not want:
            break
        for row in connect(str(src), serial=True).select(status="done"):
            if row.uid in want:
                db.write(row.toatoms(), key_value_pairs=dict(row.key_value_pairs), data=dict(row.data))
                want.discard(row.uid)
                n += 1
    return n


def read_candidates(path: Path):
    from ase.io import read

    if not path.exists():
        raise UserError(f"{path}: file not found")
    try:
        if path.suffix == ".db":
            from ase.db import connect

            frames = []
            for row in connect(str(path), serial=True).select():
                a = row.toatoms()
                a.info.update({k: v for k, v in row.key_value_pairs.items()})
                frames.append(a)
        else:
            frames = read(path, index=":")
    except Exception as e:  # ASE raises many kinds for unreadable files
        raise UserError(f"{path}: cannot read configurations ({e.__class__.__name__}: {str(e)[:100]})") from None
    for k, a in enumerate(frames):
        a.info.setdefault("source", str(path))
        a.info.setdefault("frame", k)
    return frames


def export(db, path: Path) -> int:
    from ase.io import write

    from beamheat.io import atomic_write

    frames = []
    for row in db.select(status="done"):
        a = row.toatoms(add_additional_information=False)
        a.info.update({k: v for k, v in row.key_value_pairs.items() if k != "status"})
        if "forces_d3" in row.data:  # the D3 share of the forces beside the total (energy_d3 is in info)
            a.arrays["forces_d3"] = np.asarray(row.data["forces_d3"], float)
        frames.append(a)
    if not frames:
        raise UserError(f"{path}: the database holds no finished labels; nothing exported")
    atomic_write(path, lambda f: write(f, frames, format="extxyz", parallel=False))
    return len(frames)


def check_label_db(path: Path, what: str) -> Path:
    """PATH must be an SQLite file (an ASE database): one-line error naming WHAT otherwise."""
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise UserError(f"{path}: not an SQLite database ({what})")
    return path


def open_db(name: str):
    """The ASE database (SQLite file or URL), checked to be one before anything is computed."""
    from ase.db import connect

    is_url = "://" in name
    if not is_url:
        p = Path(name)
        if p.is_dir():
            raise UserError(f"{p}: is a directory, expected a database file (--db)")
        if p.exists() and p.stat().st_size:
            check_label_db(p, "--db; give a new file name or an ASE .db")
        if not p.exists():
            v.output_file(p, "--db")
    try:
        db = connect(name, serial=True)  # not ASE's collective mode: only group masters write
        return db
    except Exception as e:  # noqa: BLE001 - ASE raises many kinds
        raise UserError(f"{name}: cannot open as an ASE database ({e.__class__.__name__}: {str(e)[:100]})") from None
