"""Labelled frames for training: reading (extxyz or ASE database), content hashes and the shared split.

    frames = read_labelled(["gen_000/labels.extxyz", "labels.db"])      # db: rows with status 'done' (dft.label)
    split = make_split(frames, test_fraction=0.2, val_fraction=0.15, fixed_test=None)
    # {"train": [uid...], "val": [...], "test": [...]} -- a frame's role depends only on its hash and the fixed test

The split is shared by all members of an ensemble. The test uids, once chosen, are passed back as `fixed_test` so
that the test split stays the same across generations (new frames only ever go to train or validation).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from beamheat.cli import UserError


class DataError(UserError):
    pass


def frame_uid(atoms) -> str:
    """Content hash of a configuration (species, positions to 1e-8 Å, cell, pbc)."""
    h = hashlib.sha256()
    h.update(np.asarray(atoms.numbers, np.int64).tobytes())
    h.update(np.round(np.asarray(atoms.positions, float), 8).tobytes())
    h.update(np.round(np.asarray(atoms.cell, float), 8).tobytes())
    h.update(np.asarray(atoms.pbc, bool).tobytes())
    return h.hexdigest()[:24]


def file_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def read_labelled(paths: str | Path | Sequence[str | Path]) -> list:
    """Frames with reference energy and forces from extxyz/ASE-readable files or ASE databases (dft.label's:
    only rows with status 'done'). Each frame gets info['uid'] (its content hash); duplicates are dropped."""
    from ase.io import read

    if isinstance(paths, (str, Path)):
        paths = [paths]
    out, seen = [], set()
    for path in map(Path, paths):
        if not path.exists():
            raise DataError(f"{path}: training data not found")
        try:
            if path.suffix == ".db":
                from ase.db import connect

                db = connect(str(path))
                rows = [r for r in db.select() if r.get("status", "done") == "done"]
                frames = [r.toatoms() for r in rows]
            else:
                frames = read(path, index=":")
        except Exception as e:  # ASE raises many kinds
            raise DataError(f"{path}: cannot read labelled frames ({e.__class__.__name__}: {str(e)[:100]})") from None
        for k, a in enumerate(frames):
            if a.calc is None or "forces" not in a.calc.results or "energy" not in a.calc.results:
                raise DataError(f"{path}: frame {k} has no reference energy and forces")
            uid = frame_uid(a)
            if uid in seen:
                continue
            seen.add(uid)
            a.info["uid"] = uid
            out.append(a)
    if not out:
        raise DataError(f"{', '.join(map(str, paths))}: no labelled frames")
    return out


def _rank(uids: Iterable[str], salt: str) -> list[str]:
    return sorted(uids, key=lambda u: hashlib.sha256((salt + u).encode()).hexdigest())


def make_split(frames, test_fraction: float = 0.1, val_fraction: float = 0.1,
               fixed_test: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Deterministic split by content hash. With `fixed_test`, exactly those uids (present in the data) are the
    test split; otherwise ceil(test_fraction * n) frames are. Validation: ceil(val_fraction * n_rest), >= 1."""
    uids = [f.info.get("uid") or frame_uid(f) for f in frames]
    if fixed_test is None:
        n_test = math.ceil(test_fraction * len(uids)) if test_fraction > 0 else 0
        test = _rank(uids, "test")[:n_test]
    else:
        present = set(uids)
        test = [u for u in fixed_test if u in present]  # in the order first chosen
    rest = [u for u in uids if u not in set(test)]
    n_val = max(1, math.ceil(val_fraction * len(rest))) if len(rest) > 1 else 0
    val = _rank(rest, "val")[:n_val]
    train = [u for u in rest if u not in set(val)]
    if len(train) < 1 or len(val) < 1:
        raise DataError(f"{len(uids)} frames are too few for a train/validation split (test {len(test)})")
    return {"train": train, "val": val, "test": test}


def write_frames(path: str | Path, frames) -> Path:
    from ase.io import write

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    frames = list(frames)
    if frames:
        write(tmp, frames, format="extxyz")
    else:
        tmp.write_text("")
    os.replace(tmp, path)
    return path
