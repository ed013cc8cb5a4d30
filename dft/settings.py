"""GPAW settings for dft.label: the defaults (the paper's), their checks, their hash, and the id of one label.

A label's id hashes the configuration (numbers, positions, cell, periodicity, per-frame overrides) and the settings'
hash, so that a finished label is recognised wherever it is found (dft.database.reuse_finished) and never computed
twice.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import UserError
from beamheat.hashing import stable_hash

DEFAULT_SETTINGS = {
    "ecut_eV": 500.0,         # plane-wave cutoff (mode pw)
    "mode": "pw",             # pw: plane waves at ecut_eV (the paper); lcao: atomic orbitals of `basis`
    "basis": "dzp",           # LCAO basis set (mode lcao; gpaw-data ships dzp)
    "xc": "PBE",
    "kpts": [1, 1, 1],        # Gamma point
    "smearing_width_eV": 0.05,  # Fermi-Dirac
    "d3": False,              # Grimme D3(BJ) two-body dispersion (for hBN); LAMMPS's dispersion/d3 bj is the same
    "maxiter": 333,           # SCF iterations before giving up
    "vacuum_A": 6.0,          # box around non-periodic configurations that come without a cell
    "min_distance_A": 0.5,    # closer atoms are refused as overlapping
}
OVERRIDES = ("charge", "magmom", "ecut_eV")  # per-frame keys in atoms.info


def settings_hash(settings: dict) -> str:
    return stable_hash(settings)


def config_id(atoms, settings: dict) -> str:
    h = hashlib.sha256()
    h.update(np.asarray(atoms.numbers, np.int64).tobytes())
    h.update(np.round(atoms.positions, 8).tobytes())
    h.update(np.round(np.asarray(atoms.cell), 8).tobytes())
    h.update(np.asarray(atoms.pbc, bool).tobytes())
    h.update(json.dumps({k: atoms.info.get(k) for k in OVERRIDES}, sort_keys=True).encode())
    h.update(settings_hash(settings).encode())
    return h.hexdigest()[:24]


def describe(settings: dict) -> str:
    """The settings in one phrase, e.g. "PBE, PW 500 eV, k (1, 1, 1), D3(BJ)"."""
    mode = f"PW {settings['ecut_eV']:g} eV" if settings["mode"] == "pw" else f"LCAO {settings['basis']}"
    return f"{settings['xc']}, {mode}, k {tuple(settings['kpts'])}{', D3(BJ)' if settings['d3'] else ''}"


def check_settings(s: dict, where: str = "settings") -> dict:
    """GPAW settings that cannot hang or fail cryptically: a positive cutoff and smearing, a k-point grid of three
    positive integers, a positive iteration limit. One-line error naming the key."""
    def num(key, lo, hi, unit=""):
        x = s[key]
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise UserError(f"{where}: {key} {x!r}: must be a number{' in ' + unit if unit else ''}")
        v.in_range(f"{where}: {key}", float(x), lo, hi, unit, lo_open=True)

    num("ecut_eV", 50.0, 5000.0, "eV")
    num("smearing_width_eV", 0.0, 5.0, "eV")
    num("vacuum_A", 0.0, 100.0, "Å")
    num("min_distance_A", 0.0, 5.0, "Å")
    k = s["kpts"]
    if not (isinstance(k, (list, tuple)) and len(k) == 3 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                  and 1 <= x <= 64 for x in k)):
        raise UserError(f"{where}: kpts {k!r}: must be three integers from 1 to 64")
    m = s["maxiter"]
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 100000:
        raise UserError(f"{where}: maxiter {m!r}: must be a whole number from 1 to 100000")
    if not isinstance(s["xc"], str) or not s["xc"].strip():
        raise UserError(f"{where}: xc {s['xc']!r}: must be a functional name such as PBE")
    try:
        from gpaw.xc import XC

        XC(s["xc"])
    except ImportError:
        pass  # no GPAW here: nothing can be computed anyway, and the label step says so
    except Exception as e:  # noqa: BLE001 - GPAW raises NameError, KeyError, ... for names it does not know
        raise UserError(f"{where}: xc {s['xc']!r}: GPAW does not know this functional "
                        f"({str(e).splitlines()[0] if str(e) else e.__class__.__name__})") from None
    if s["mode"] not in ("pw", "lcao"):
        raise UserError(f"{where}: mode {s['mode']!r}: must be pw or lcao")
    if not isinstance(s["basis"], str) or not s["basis"].strip():
        raise UserError(f"{where}: basis {s['basis']!r}: must be a basis set name such as dzp")
    if not isinstance(s["d3"], bool):
        raise UserError(f"{where}: d3 {s['d3']!r}: must be true or false")
    return s


def load_settings(settings_file: str | Path | None = None, *, ecut_ev: float | None = None, xc: str | None = None,
                  kpts: str | list | None = None, width_ev: float | None = None, maxiter: int | None = None,
                  d3: bool = False, mode: str | None = None, basis: str | None = None) -> dict:
    """DEFAULT_SETTINGS, then the YAML file, then the values given (command-line options), checked."""
    s = dict(DEFAULT_SETTINGS)
    if settings_file:
        import yaml

        p = Path(settings_file)
        if not p.exists():
            raise UserError(f"{p}: settings file not found")
        try:
            user = yaml.safe_load(p.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise UserError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(user, dict):
            raise UserError(f"{p}: expected a mapping of settings, got {type(user).__name__}")
        unknown = sorted(set(user) - set(DEFAULT_SETTINGS))
        if unknown:
            raise UserError(f"{p}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_SETTINGS)}")
        s.update(user)
        check_settings(s, str(p))
    for key, val in (("ecut_eV", ecut_ev), ("xc", xc), ("smearing_width_eV", width_ev), ("maxiter", maxiter),
                     ("mode", mode), ("basis", basis)):
        if val is not None:
            s[key] = val
    if kpts:
        s["kpts"] = v.csv_numbers("--kpts", kpts, int, count=3) if isinstance(kpts, str) else list(kpts)
    if d3:
        s["d3"] = True
    return check_settings(s, "settings")
