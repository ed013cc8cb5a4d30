"""The loop YAML: its schema as dataclasses (keys, types, defaults, meaning, units), the loader that validates a
YAML against it, and the Markdown reference written from it (docs/loop-config.md).

    python -m models.loop.config --markdown          # the reference, as committed in docs/loop-config.md

`load_config` returns the configuration as a plain dict: every section key filled with its default, systems and
protocols as given (scan protocols with their scan keys filled). Stage input hashes are computed from that dict,
so its content is part of a run folder's identity: a default changed here changes the hashes of finished stages.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from beamheat.cli import UserError

from models.loop.paths import INPUTS, resolve_path


class LoopError(UserError):
    pass


def setting(default, meaning: str, units: str = ""):
    """A schema field: its default, what it means, its units ("" for none)."""
    meta = {"meaning": meaning, "units": units}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


# ------------------------------------------------------------------------------------------------ the schema
INITIAL_KINDS = ["bulk", "surface", "particle", "support", "particle_on_support"]
PROTOCOL_KINDS = ("anneal", "heat_transfer", "scan")
LABELLER_KINDS = ("emt", "lammps", "gpaw")
# protocol kind scan: rigid particle-support gaps (Å), compressed to beyond the paper's r_max (5 Å)
SCAN_GAPS_A = (2.6, 2.8, 3.0, 3.2, 3.4, 3.6, 3.9, 4.3, 4.8, 5.5, 6.5)
SCAN_DEFAULTS = {"shifts": 4, "rattle_A": 0.05, "rattle_support_A": 0.02}


@dataclass
class Initial:
    """Generation 0: a labelled data set, or builder structures (beamheat.build) that the labeller labels."""
    data: str | list[str] | None = setting(None, "labelled frames (extxyz) taken as generation 0 instead of builder "
                                                 "structures: a file or a list of files (for example the labels of "
                                                 "earlier run folders), paths relative to the YAML's folder")
    n_frames: int = setting(30, "builder structures labelled in generation 0")
    seed: int = setting(0, "random seed of the builder structures")
    support: str | None = setting(None, "support of the support and particle_on_support kinds: hbn, anatase101, "
                                        "rutile101 or rutile110; without one those kinds are left out")
    element: str | None = setting(None, "particle element (default: the first of type_names)")
    rattle_A: float = setting(0.12, "Gaussian displacement of the particle atoms", "Å")
    rattle_support_A: float = setting(0.03, "Gaussian displacement of the support atoms", "Å")
    kinds: list[str] = setting(INITIAL_KINDS, "structure kinds, taken in turn: bulk, surface, particle, support, "
                                              "particle_on_support")
    hold_out: list[dict] = setting([], "frames of initial.data whose info matches all the keys of one of these maps "
                                       "are never trained on (kept for bench.dft_validation), e.g. "
                                       "[{kind: scan, copy: 1}]")

    @staticmethod
    def check(d: dict, type_names: list, path: Path) -> None:
        for m in d["hold_out"]:
            if not isinstance(m, dict) or not m or not all(isinstance(x, (str, int, float)) for x in m.values()):
                raise LoopError(f"{path}: initial.hold_out: each entry must be a map of info keys to values, "
                                f"e.g. {{kind: scan, copy: 1}}, not {m!r}")
        if d["hold_out"] and not d["data"]:
            raise LoopError(f"{path}: initial.hold_out needs initial.data (it selects frames of that data set)")
        if d["data"]:
            files = d["data"] if isinstance(d["data"], list) else [d["data"]]
            if not all(isinstance(f, str) and f for f in files):
                raise LoopError(f"{path}: initial.data must be a file or a list of files, not {d['data']!r}")
            files = existing_files(files, path, "initial.data")
            d["data"] = files if isinstance(d["data"], list) else files[0]
            return
        check_elements(d["support"], d["element"] or type_names[0], type_names, "initial", path)


@dataclass
class System:
    """One entry of `systems`: a system explored by MD (a file, or a particle built on a support)."""
    name: str = setting(None, "required; names the exploration runs")
    file: str | None = setting(None, "a structure file (ASE-readable) instead of a built particle; path relative "
                                     "to the YAML's folder")
    element: str = setting("Au", "particle element")
    diameter_nm: float = setting(1.0, "particle diameter", "nm")
    height_ratio: float = setting(0.7, "particle height over diameter")
    support: str | None = setting(None, "support: hbn, anatase101, rutile101 or rutile110 (beamheat.build); none: "
                                        "a bare particle in a periodic box")
    margin_A: float = setting(5.0, "support beyond the particle on each side", "Å")
    layers: int = setting(1, "hbn: support layers")
    thickness_A: float | None = setting(None, "TiO2 supports: slab thickness (default: beamheat.build's, 8 Å)", "Å")
    gap_A: float | None = setting(None, "particle-support gap (default: beamheat.build's for the support)", "Å")
    vacuum_A: float = setting(10.0, "vacuum above and below", "Å")
    from_generation: int = setting(1, "explored from this generation on (entries added to a running loop leave "
                                      "finished generations as they were)")
    until_generation: int | None = setting(None, "explored up to this generation (default: every one; not an input of "
                                                 "the generations that explore it)")

    @staticmethod
    def check(entry: dict, k: int, type_names: list, path: Path) -> None:
        known_keys(entry, System, f"{path.name}.systems[{k}]")
        if "name" not in entry:
            raise LoopError(f"{path}: systems[{k}] needs a name")
        if "file" in entry:
            entry["file"] = str(resolve_path(entry["file"], path.resolve().parent))
            return
        sup = entry.get("support")
        check_elements(sup, entry.get("element", "Au"), type_names, f"systems[{k}] ({entry['name']})", path)
        if sup and sup != "hbn" and entry.get("layers", 1) != 1:
            raise LoopError(f"{path}: systems[{k}].layers applies to hbn only (thickness_A sets a TiO2 slab's)")
        if entry.get("thickness_A") is not None and sup in (None, "hbn"):
            raise LoopError(f"{path}: systems[{k}].thickness_A applies to TiO2 supports only (layers sets hbn's)")


@dataclass
class Protocol:
    """One entry of `protocols`: the MD (or rigid scan) each system is explored with."""
    name: str | None = setting(None, "names the runs (default: the kind)")
    kind: str = setting("anneal", "anneal (Langevin at T_K), heat_transfer (particle at T_K, support at "
                                  "T_support_K, then NVE) or scan (rigid particle-support gaps, no dynamics; every "
                                  "frame is labelled)")
    T_K: float | list[float] = setting(600, "temperature, or a list of them (one run each)", "K")
    T_support_K: float = setting(300, "heat_transfer: support temperature", "K")
    thermalise_steps: int = setting(500, "heat_transfer: Langevin steps before NVE")
    steps: int = setting(1000, "MD steps (heat_transfer: NVE steps)")
    dt_ps: float | None = setting(None, "time step (default: explore.dt_ps)", "ps")
    relax: bool = setting(False, "minimise first (the minimiser's path is explored too)")
    ensemble: str = setting("mean", "mean: the ensemble mean drives the MD; first: the member with the smallest "
                                    "validation error does (as in the main job), sigma_F from all")
    from_generation: int = setting(1, "used from this generation on")
    until_generation: int | None = setting(None, "used up to this generation (default: every one; not an input of the "
                                                 "generations that use it)")
    gaps_A: list[float] = setting(list(SCAN_GAPS_A), "scan: particle-support gaps, at least two", "Å")
    shifts: int = setting(SCAN_DEFAULTS["shifts"], "scan: rattled, laterally shifted copies of the system")
    rattle_A: float = setting(SCAN_DEFAULTS["rattle_A"], "scan: Gaussian displacement of the particle atoms", "Å")
    rattle_support_A: float = setting(SCAN_DEFAULTS["rattle_support_A"],
                                      "scan: Gaussian displacement of the support atoms", "Å")

    @staticmethod
    def check(pr: dict, k: int, path: Path) -> None:
        """Fills a scan's gaps_A, shifts, rattle_A and rattle_support_A with their defaults."""
        known_keys(pr, Protocol, f"{path.name}.protocols[{k}]")
        if pr.get("kind", "anneal") not in PROTOCOL_KINDS:
            raise LoopError(f"{path}: protocols[{k}].kind {pr.get('kind')!r}: choose anneal, heat_transfer or scan")
        if pr.get("kind") == "scan":
            gaps = pr.setdefault("gaps_A", list(SCAN_GAPS_A))
            if not isinstance(gaps, list) or len(gaps) < 2 or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in gaps):
                raise LoopError(f"{path}: protocols[{k}].gaps_A must list at least two gaps > 0 Å, not {gaps!r}")
            for key, dflt in SCAN_DEFAULTS.items():
                val = pr.setdefault(key, dflt)
                if not isinstance(val, (int, float)) or isinstance(val, bool) or val < 0 or (
                        key == "shifts" and (int(val) != val or val < 1)):
                    what = "a whole number >= 1" if key == "shifts" else "a number >= 0 (Å)"
                    raise LoopError(f"{path}: protocols[{k}].{key} must be {what}, not {val!r}")
        if pr.get("ensemble", "mean") not in ("mean", "first"):
            raise LoopError(f"{path}: protocols[{k}].ensemble {pr.get('ensemble')!r}: choose mean (the ensemble "
                            f"mean drives the MD) or first (the best member does, as in the main job)")
        if not isinstance(pr.get("relax", False), bool):
            raise LoopError(f"{path}: protocols[{k}].relax must be true or false, not {pr.get('relax')!r}")


DEFAULT_PROTOCOLS = [{"name": "anneal", "kind": "anneal", "T_K": [600], "steps": 1000}]


@dataclass
class Explore:
    """LAMMPS MD with the previous generation's ensemble (lammps_inputs/explore.in)."""
    dump_every: int = setting(20, "steps between dumped frames (and thermo lines)")
    halt_fmax: float = setting(100.0, "halt when the largest |F| exceeds this", "eV/Å")
    halt_sigma: float | None = setting(None, "halt when the largest sigma_F exceeds this (default: select.hi)",
                                       "eV/Å")
    halt_frames: int = setting(3, "frames kept in the halt file, one every dump_every steps")
    seed: int = setting(1, "seed; run k of generation g uses seed + 1000 g + k + 1")
    dt_ps: float = setting(0.002, "time step", "ps")
    damp_ps: float = setting(0.2, "Langevin damping time", "ps")
    timeout_s: float = setting(3600, "wall-time limit of one run (serial route only)", "s")
    ranks_per_run: int = setting(1, "MPI ranks per run under mpirun (does not change results)")

    @staticmethod
    def fill(d: dict, select: dict) -> None:
        if d["halt_sigma"] is None:
            d["halt_sigma"] = select["hi"]


@dataclass
class Select:
    """Which explored frames are labelled (models.select)."""
    lo: float = setting(0.05, "trust window lower edge: frames with max sigma_F below it count as accurate", "eV/Å")
    hi: float = setting(0.5, "trust window upper edge", "eV/Å")
    budget: int = setting(20, "frames selected per generation at most")
    top_k: int | None = setting(None, "frames per source (a dump or a halt file) at most (none: no limit)")
    last_n: int = setting(3, "last frames of every halt that are selected")
    min_gap: int = setting(1, "frames of one source picked at least this many frames apart")

    @staticmethod
    def check(d: dict, path: Path) -> None:
        if not d["lo"] < d["hi"]:
            raise LoopError(f"{path}: select.lo {d['lo']} must be below select.hi {d['hi']}")


@dataclass
class Labeller:
    """What labels the selected frames."""
    kind: str = setting("emt", "emt (ASE EMT), lammps (a LAMMPS potential include file) or gpaw (dft.label)")
    potential: str | None = setting(None, "lammps: a name in lammps_inputs/potentials (e.g. classical_au_hbn) or a "
                                          "path; required")
    type_names: list[str] | None = setting(None, "lammps: the potential's type names (default: type_names)")
    settings: dict = setting({}, "gpaw: dft.label settings (e.g. {d3: true})")
    ranks_per_calc: int | None = setting(None, "gpaw under mpirun: ranks per calculation (default: all)")
    reuse: list[str] = setting([], "gpaw: label databases (dft.label's) whose finished labels of the same frames and "
                                   "settings are copied, not computed again (an earlier run folder's, archived); "
                                   "paths relative to the YAML's folder")

    @staticmethod
    def check(d: dict, path: Path) -> None:
        if d["kind"] not in LABELLER_KINDS:
            raise LoopError(f"{path}: labeller.kind {d['kind']!r}: choose emt, lammps or gpaw")
        if not isinstance(d["reuse"], list) or not all(isinstance(f, str) and f for f in d["reuse"]):
            raise LoopError(f"{path}: labeller.reuse must be a list of label databases, not {d['reuse']!r}")
        if d["reuse"] and d["kind"] != "gpaw":
            raise LoopError(f"{path}: labeller.reuse is for the gpaw labeller (dft.label's databases)")
        d["reuse"] = existing_files(d["reuse"], path, "labeller.reuse")
        if d["kind"] == "lammps":
            if not d["potential"]:
                raise LoopError(f"{path}: labeller.potential is required for the lammps labeller")
            d["potential"] = potential_file(d["potential"], path, "labeller.potential")


@dataclass
class Train:
    """The ensemble trained on the labels of generations 0..g (models.train)."""
    config: str = setting("models/configs/tiny.yaml", "nequip training config; path relative to the YAML's folder "
                                                      "or the repository")
    ensemble: int = setting(3, "ensemble members")
    overrides: list[str] = setting([], "nequip-train overrides (key=value)")
    seed: int = setting(1, "seed of the first member (member k: seed + k)")
    test_fraction: float = setting(0.2, "fraction of generation 0's frames in the fixed test split")
    val_fraction: float = setting(0.15, "fraction of the frames in each member's validation split")
    finetune: bool = setting(False, "start from the previous generation's members instead of from scratch")
    baseline: str | None = setting(None, "a LAMMPS overlay template (name in lammps_inputs/potentials, or a path): "
                                         "the members learn the labels minus it and run overlaid on it")
    energy_shifts: str = setting("config", "the members' per-type energy shifts: config (the nequip config's, e.g. "
                                           "the mean energy per atom) or lstsq (least squares on the train split's "
                                           "compositions: for types whose energies per atom differ by eV, as Au and "
                                           "B/N in DFT labels)")
    by_generation: list[dict] = setting([], "later generations' train settings: entries with from_generation and "
                                            "any keys above, each applied from its generation on, in order")

    @staticmethod
    def check(d: dict, path: Path) -> None:
        d["config"] = str(resolve_path(d["config"], path.resolve().parent))
        if d["baseline"]:
            d["baseline"] = baseline_path(d["baseline"], path, "train.baseline")
        if not Path(d["config"]).is_file():
            raise LoopError(f"{path}: train.config {d['config']}: file not found")
        Train.check_shifts(d.get("energy_shifts", "config"), "train.energy_shifts", path)

    @staticmethod
    def check_shifts(v, key: str, path: Path) -> None:
        from models.train import ENERGY_SHIFTS

        if v not in ENERGY_SHIFTS:
            raise LoopError(f"{path}: {key} {v!r}: choose {' or '.join(ENERGY_SHIFTS)}")

    @staticmethod
    def check_by_generation(later, path: Path) -> list[dict]:
        """train.by_generation checked and its paths resolved, sorted by from_generation."""
        if not isinstance(later, list):
            raise LoopError(f"{path}: train.by_generation must be a list of mappings with from_generation")
        train_keys = defaults(Train)
        for k, entry in enumerate(later):
            if not isinstance(entry, dict):
                raise LoopError(f"{path}: train.by_generation[{k}] must be a mapping")
            fg = entry.get("from_generation")
            if not _whole(fg):
                raise LoopError(f"{path}: train.by_generation[{k}].from_generation must be a whole number >= 1, "
                                f"not {fg!r}")
            merge(train_keys, {key: v for key, v in entry.items() if key != "from_generation"},
                  f"{path.name}.train.by_generation[{k}]")
            if "config" in entry:
                entry["config"] = str(resolve_path(entry["config"], path.resolve().parent))
                if not Path(entry["config"]).is_file():
                    raise LoopError(f"{path}: train.by_generation[{k}].config {entry['config']}: file not found")
            if entry.get("baseline"):
                entry["baseline"] = baseline_path(entry["baseline"], path, f"train.by_generation[{k}].baseline")
            if "energy_shifts" in entry:
                Train.check_shifts(entry["energy_shifts"], f"train.by_generation[{k}].energy_shifts", path)
        return sorted(later, key=lambda e: e["from_generation"])


@dataclass
class Stop:
    """When the loop stops."""
    generations: int = setting(3, "generations, counting generation 0")
    accurate_fraction: float | None = setting(None, "stop earlier when this fraction of the exploration frames has "
                                                    "max sigma_F < select.lo")

    @staticmethod
    def check(d: dict, path: Path) -> None:
        if d["generations"] is None or int(d["generations"]) < 1:
            raise LoopError(f"{path}: stop.generations must be >= 1")


@dataclass
class LoopConfig:
    """The loop YAML. Paths are relative to the YAML's folder, the current folder, or the repository."""
    out: str = setting("runs/loop", "work folder (relative to the current folder; --out overrides it)")
    type_names: list[str] | None = setting(None, "model types, required; the first is the particle element "
                                                 "(LAMMPS type 1)")
    initial: Initial = setting(None, "generation 0")
    systems: list[System] = setting([], "the explored systems")
    protocols: list[Protocol] = setting(DEFAULT_PROTOCOLS, "the exploration protocols (every system x protocol x "
                                                           "temperature is one run)")
    explore: Explore = setting(None, "exploration")
    select: Select = setting(None, "selection")
    labeller: Labeller = setting(None, "labelling")
    train: Train = setting(None, "training")
    stop: Stop = setting(None, "stopping")


SECTIONS = {"initial": Initial, "explore": Explore, "select": Select, "labeller": Labeller, "train": Train,
            "stop": Stop}
ENTRIES = {"systems": System, "protocols": Protocol}
FREE_MAPPINGS = {"settings"}  # section keys whose mapping is passed on as given, not merged with a default


def defaults(cls) -> dict:
    """The defaults of a schema dataclass as a dict, in field order (sections nested). Train.by_generation is
    not a stored key (load_config moves it to train_by_generation)."""
    out = {}
    for f in dataclasses.fields(cls):
        if cls is Train and f.name == "by_generation":
            continue
        if cls is LoopConfig and f.name in SECTIONS:
            out[f.name] = defaults(SECTIONS[f.name])
        else:
            out[f.name] = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return out


# ------------------------------------------------------------------------------------------------ validation
def merge(base: dict, user: dict, where: str) -> dict:
    """BASE (defaults) updated by USER; unknown keys and non-mappings for sections are errors named by WHERE."""
    out = copy.deepcopy(base)
    for k, v in (user or {}).items():
        if k not in base:
            raise LoopError(f"{where}: unknown key {k!r}; known: {', '.join(base)}")
        if isinstance(base[k], dict) and base[k] and k not in FREE_MAPPINGS:
            if not isinstance(v, dict):
                raise LoopError(f"{where}.{k}: expected a mapping")
            out[k] = merge(base[k], v, f"{where}.{k}")
        else:
            out[k] = v
    return out


def _whole(v, lo: int = 1) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def existing_files(files: list[str], path: Path, key: str) -> list[str]:
    """FILES resolved from the YAML's folder (resolve_path), each an existing file; KEY names the YAML key in the
    error."""
    out = [str(resolve_path(f, path.resolve().parent)) for f in files]
    for f in out:
        if not Path(f).is_file():
            raise LoopError(f"{path}: {key} {f}: file not found")
    return out


def potential_file(name, path: Path, key: str) -> str:
    """A LAMMPS potential include file given by name (lammps_inputs/potentials/NAME.in) or by path (resolve_path
    from the YAML's folder); KEY names the YAML key in the error when there is none."""
    pot = str(name)
    cand = INPUTS / "potentials" / f"{pot}.in"
    out = cand if cand.exists() and "/" not in pot else resolve_path(pot, path.resolve().parent)
    if not out.is_file():
        raise LoopError(f"{path}: {key} {pot}: file not found")
    return str(out)


def baseline_path(name, path: Path, key: str) -> str:
    """potential_file, which must be an overlay template (beamheat.lammps_run.baseline_commands)."""
    from beamheat.lammps_run import baseline_commands

    out = potential_file(name, path, key)
    try:
        baseline_commands(out)
    except ValueError as e:
        raise LoopError(f"{path}: {key}: {e}") from None
    return out


def check_elements(support, element, type_names: list, where: str, path: Path) -> None:
    """SUPPORT (None or one of beamheat.build's) and the particle ELEMENT must be made of TYPE_NAMES' elements
    (WHERE names the YAML key in the error)."""
    from beamheat.build import SUPPORT_ELEMENTS, SUPPORTS

    if support is not None and support not in SUPPORTS:
        raise LoopError(f"{path}: {where}: support {support!r}: choose {', '.join(SUPPORTS)}")
    need = [element] + list(SUPPORT_ELEMENTS[support] if support else ())
    missing = [e for e in need if e not in type_names]
    if missing:
        what = f"the particle {element}" + (f" on {support} ({', '.join(SUPPORT_ELEMENTS[support])})" if support
                                             else "")
        raise LoopError(f"{path}: {where}: {what} needs type_names with {', '.join(missing)}, not "
                        f"[{', '.join(map(str, type_names))}]")


def known_keys(entry, cls, where: str) -> None:
    """An entry of systems or protocols may hold only CLS's keys."""
    known = [f.name for f in dataclasses.fields(cls)]
    for name in entry if isinstance(entry, dict) else ():
        if name not in known:
            raise LoopError(f"{where}: unknown key {name!r}; known: {', '.join(known)}")


def load_config(path: Path, out: str | None = None) -> dict:
    """The loop YAML at PATH checked against the schema, as a dict (module docstring); OUT overrides its `out`.
    Bad input: LoopError, one line naming the file and the key."""
    import yaml

    if not path.is_file():
        raise LoopError(f"{path}: loop config not found")
    try:
        user = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise LoopError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(user, dict):
        raise LoopError(f"{path}: expected a mapping at the top level")
    later = (user.get("train") or {}).pop("by_generation", []) if isinstance(user.get("train"), dict) else []
    cfg = merge(defaults(LoopConfig), user, path.name)
    cfg["train_by_generation"] = Train.check_by_generation(later, path)
    cfg["out"] = str(Path(out or cfg["out"]).resolve())  # relative to the current folder
    if not cfg["type_names"]:
        raise LoopError(f"{path}: type_names is required (model types; the first is the particle element)")
    Select.check(cfg["select"], path)
    Explore.fill(cfg["explore"], cfg["select"])
    Labeller.check(cfg["labeller"], path)
    Train.check(cfg["train"], path)
    if not isinstance(cfg["type_names"], list) or not all(isinstance(t, str) for t in cfg["type_names"]):
        raise LoopError(f"{path}: type_names must be a list of element names, not {cfg['type_names']!r}")
    lab_types = cfg["labeller"]["type_names"] or cfg["type_names"]
    if cfg["labeller"]["kind"] == "lammps" and not set(cfg["type_names"]) <= set(lab_types):
        raise LoopError(f"{path}: labeller.type_names [{', '.join(map(str, lab_types))}] must hold every element of "
                        f"type_names [{', '.join(cfg['type_names'])}] (in the potential's type order)")
    Initial.check(cfg["initial"], cfg["type_names"], path)
    for k, entry in enumerate(cfg["systems"]):
        System.check(entry, k, cfg["type_names"], path)
    for k, entry in enumerate(cfg["protocols"]):
        Protocol.check(entry, k, path)
    for key in ENTRIES:
        for k, entry in enumerate(cfg[key]):
            fg = entry.get("from_generation", 1)
            if not _whole(fg):
                raise LoopError(f"{path}: {key}[{k}].from_generation must be a whole number >= 1, not {fg!r}")
            ug = entry.get("until_generation")
            if ug is not None and not (_whole(ug) and ug >= fg):
                raise LoopError(f"{path}: {key}[{k}].until_generation must be a whole number >= from_generation "
                                f"({fg}), not {ug!r}")
    Stop.check(cfg["stop"], path)
    return cfg


# ------------------------------------------------------------------------------------------------ by generation
def for_generation(cfg: dict, g: int) -> dict:
    """The configuration generation g explores: systems and protocols with from_generation <= g (default 1) <=
    until_generation (default: none), so that entries added to a running loop leave the finished generations'
    inputs as they were. until_generation is left out of the entries: ending an entry does not change what the
    generations before its end explore."""
    def active(entries):
        return [{k: v for k, v in e.items() if k != "until_generation"} for e in entries
                if e.get("from_generation", 1) <= g <= (e.get("until_generation") or g)]
    return {**cfg, "systems": active(cfg["systems"]), "protocols": active(cfg["protocols"])}


def train_for_generation(cfg: dict, g: int) -> dict:
    """The train settings of generation g: train, updated by every train.by_generation entry with from_generation
    <= g in order (so a running loop can train later generations longer, or fine-tuned, without touching the
    finished ones' inputs)."""
    t = copy.deepcopy(cfg["train"])
    for entry in cfg.get("train_by_generation", []):
        if entry["from_generation"] <= g:
            t.update({k: copy.deepcopy(v) for k, v in entry.items() if k != "from_generation"})
    return t


def entry_defaults(cls) -> dict:
    """The schema defaults of a systems or protocols entry (System, Protocol): entries are stored as given, and
    read as {**entry_defaults(cls), **entry}."""
    return {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            for f in dataclasses.fields(cls)}


# ------------------------------------------------------------------------------------------------ reference page
def _show(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items()) + "}"
    return str(v)


def _table(cls, prefix: str) -> list[str]:
    rows = ["| key | type | default | units | meaning |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name in SECTIONS or (cls is LoopConfig and f.name in ENTRIES):
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        shown = "required" if f.name in ("type_names", "name") and default is None else f"`{_show(default)}`"
        cells = [f"`{prefix}{f.name}`", f"`{f.type}`", shown, f.metadata["units"] or "-", f.metadata["meaning"]]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return rows


def markdown() -> str:
    """The loop YAML reference (docs/loop-config.md), written from the schema above."""
    lines = ["# Loop YAML reference", "",
             "<!-- Written by `python -m models.loop.config --markdown` from models/loop/config.py; "
             "tests/unit/test_loop_config.py fails when this file is stale. -->", "",
             f"{LoopConfig.__doc__} Units are in the key names too (`_A` Å, `_K` K, `_ps` ps, `_s` s). "
             "An unknown key is an error.", "",
             "## Top level", "", *_table(LoopConfig, "")]
    for key, cls in ENTRIES.items():
        lines += ["", f"## `{key}` (a list)", "", cls.__doc__, "", *_table(cls, "")]
        if cls is Protocol:
            lines += ["", f"Default `protocols`: `{_show(DEFAULT_PROTOCOLS)}`."]
    for key, cls in SECTIONS.items():
        lines += ["", f"## `{key}`", "", cls.__doc__, "", *_table(cls, f"{key}.")]
    return "\n".join(lines) + "\n"


def text_reference() -> str:
    """The loop YAML's keys as plain text for --help: key, default, units and meaning, one line each."""
    lines = ["The loop YAML (keys, defaults, units; docs/loop-config.md has the full reference):"]
    groups = [("", LoopConfig)] + [(f"{k}[]", c) for k, c in ENTRIES.items()] + \
        [(k, c) for k, c in SECTIONS.items()]
    for prefix, cls in groups:
        for f in dataclasses.fields(cls):
            if f.name in SECTIONS or (cls is LoopConfig and f.name in ENTRIES):
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            units = f" {f.metadata['units']}" if f.metadata["units"] else ""
            key = f"{prefix}.{f.name}" if prefix else f.name
            lines.append(f"  {key} = {_show(default)}{units}: {f.metadata['meaning']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.loop.config", description="The loop YAML reference.")
    p.add_argument("--markdown", action="store_true", help="print the reference as Markdown (docs/loop-config.md)")
    a = p.parse_args(argv)
    if not a.markdown:
        p.print_help()
        return 0
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
