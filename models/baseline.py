"""A long-range baseline under a NequIP model (Δ-learning): the model learns labels minus the baseline, and runs with
it (pair_style hybrid/overlay nequip ... + the baseline's styles).

A baseline is a LAMMPS overlay template (lammps_inputs/potentials/baseline_lj_au_hbn.in explains the format); its
energies and forces come from LAMMPS single points (beamheat.lammps_run), the same code that runs it in MD.

    from models.baseline import residual_frames
    targets = residual_frames(labelled_frames, "lammps_inputs/potentials/baseline_lj_au_hbn.in", ["Au", "B", "N"])
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from models.data import file_hash, read_labelled, write_frames


def baseline_values(frames, baseline: str | Path, type_names: Sequence[str], comm=None) -> list[tuple]:
    """(energy eV, forces eV/Å) of the baseline alone for each frame, in order."""
    from beamheat.lammps_run import baseline_commands, single_point

    style, coeffs = baseline_commands(baseline)
    out = []
    for a in frames:
        r = single_point(a, style, coeffs, list(type_names), comm=comm)
        out.append((float(r["energy_eV"]), np.asarray(r["forces_eV_per_A"], float)))
    return out


def with_labels(a):
    """A residual frame (residual_frames: labels minus the baseline, whose own values info['baseline_energy_eV'] and
    arrays['baseline_forces'] keep) as a copy with its labels restored and those keys gone; any other frame as it
    is."""
    if "baseline_energy_eV" not in a.info:
        return a
    from ase.calculators.singlepoint import SinglePointCalculator

    b = a.copy()
    b.calc = SinglePointCalculator(b, energy=a.get_potential_energy() + float(b.info.pop("baseline_energy_eV")),
                                   forces=a.get_forces() + b.arrays.pop("baseline_forces"))
    return b


def residual_frames(frames, baseline: str | Path, type_names: Sequence[str], comm=None) -> list:
    """Copies of labelled FRAMES with energy and forces minus the baseline's (the model's training targets). The
    baseline's own values are kept in info['baseline_energy_eV'] and arrays['baseline_forces']. Frames that are
    such targets already (a split of a training set) get their labels back first: the result is always the labels
    minus BASELINE."""
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for a, (eb, fb) in zip(frames, baseline_values(frames, baseline, type_names, comm)):
        a = with_labels(a)
        e, f = a.get_potential_energy(), a.get_forces()
        b = a.copy()
        b.calc = None
        b.info["baseline_energy_eV"] = eb
        b.arrays["baseline_forces"] = fb
        b.calc = SinglePointCalculator(b, energy=float(e) - eb, forces=np.asarray(f) - fb)
        out.append(b)
    return out


def residual_file(labels: Path, baseline: str | Path, type_names: Sequence[str], cache: Path, comm=None) -> Path:
    """LABELS (an extxyz of labelled frames) minus the baseline, written once into CACHE under a name made of the
    hashes of both files and the type names, and read from there afterwards."""
    import hashlib

    key = hashlib.sha256(repr((file_hash(labels), file_hash(baseline), list(type_names))).encode()).hexdigest()[:16]
    out = Path(cache) / f"{Path(labels).parent.name}_{key}.extxyz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        write_frames(out, residual_frames(read_labelled(labels), baseline, type_names, comm))
    return out
