"""Pick configurations for DFT from ensemble disagreement (active learning, paper section on training).

    python -m models.select rerun.extxyz [halt.extxyz ...] --lo 0.05 --hi 0.5 [--top-k 20] [--last-n 3]
                            [--min-gap 5] [--cap 50] [--generation 1] --out candidates.extxyz

Inputs are extxyz files with a per-atom `sigma_f` array: the output of `python -m models.rerun` (from a LAMMPS
dump, extxyz or ASE trajectory) or the halt file fix nequip/frames writes when fix halt stops a run. Rules, in order:
1. trust window: frames with lo <= max sigma_F < hi (below lo the models agree: nothing to learn; at or above hi
   the configuration is usually unphysical);
2. the last --last-n frames of every halt file (the run stopped there: crash, |F| > limit or sigma_F > limit)
   are kept whatever their sigma_F (the paper keeps some very-large-force frames);
3. de-duplication: within one source, frames closer than --min-gap frames apart keep only the highest sigma_F;
4. --top-k per source, then --cap over all sources, highest sigma_F first.
The output extxyz holds positions, species and cell ready for `python -m dft.label`, with provenance in each
frame's info: source, frame, max_sigma_f, reason, generation.

From Python (models.loop does this):
    from models.select import SelectionRule, select_frames
    picked = select_frames([("run1/halt.extxyz", frames)], SelectionRule(0.05, 0.5, top_k=10, cap=30), generation=1)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run


@dataclass(frozen=True)
class SelectionRule:
    """The selection rules (module doc): trust window [lo, hi) of max sigma_F in eV/Å, at most top_k frames per
    source, the last last_n frames of every halt kept, picks at least min_gap frames apart, at most cap in all."""
    lo_eV_per_A: float
    hi_eV_per_A: float
    top_k: int | None = None
    last_n: int = 3
    min_gap: int = 1
    cap: int | None = None

    def check(self) -> SelectionRule:
        """One-line errors (named as the command-line options) for a rule that cannot select sensibly."""
        v.nonnegative("--lo", self.lo_eV_per_A, "eV/Å")
        v.positive("--hi", self.hi_eV_per_A, "eV/Å")
        v.ordered("--lo", self.lo_eV_per_A, "--hi", self.hi_eV_per_A, "eV/Å")
        v.integer("--top-k", self.top_k, 1)
        v.integer("--last-n", self.last_n, 0)
        v.integer("--min-gap", self.min_gap, 1)
        v.integer("--cap", self.cap, 1)
        return self


def pick_indices(max_sigma: np.ndarray, rule: SelectionRule, forced: np.ndarray | None = None) -> list[int]:
    """Indices of one source's frames to label (rules 1, 3 and the per-source top_k); `forced` frames (the end of a
    halt) bypass the window and the de-duplication."""
    s = np.asarray(max_sigma, float)
    forced = np.zeros(len(s), bool) if forced is None else np.asarray(forced, bool)
    window = (s >= rule.lo_eV_per_A) & (s < rule.hi_eV_per_A)
    cand = np.nonzero(window | forced)[0]
    # highest sigma first (forced first of all), greedy de-duplication in frame distance
    order = sorted(cand, key=lambda i: (not forced[i], -s[i]))
    chosen: list[int] = []
    for i in order:
        if forced[i] or all(abs(i - j) >= rule.min_gap for j in chosen):
            chosen.append(i)
    if rule.top_k is not None:
        keep_forced = [i for i in chosen if forced[i]]
        rest = [i for i in chosen if not forced[i]][: max(0, rule.top_k - len(keep_forced))]
        chosen = keep_forced + rest
    return sorted(chosen)


def picked_frame(frame, source, index: int, reason: str, generation: int, **info):
    """A frame chosen for labelling, as a new Atoms: positions, numbers and sigma_f only, and its provenance in info
    (source, frame, max_sigma_f, reason, generation, and any INFO that is not None)."""
    f = frame.copy()
    f.calc = None
    for key in list(f.arrays):
        if key not in ("numbers", "positions", "sigma_f"):
            del f.arrays[key]
    f.info = {"source": str(source), "frame": int(index), **info, "max_sigma_f": float(frame.arrays["sigma_f"].max()),
              "reason": reason, "generation": generation}
    f.info = {k: v for k, v in f.info.items() if v is not None}
    return f


def select_frames(sources, rule: SelectionRule, generation: int = 0) -> list:
    """The frames to label from several sources, as new Atoms with provenance in info (rules in the module doc).

    sources: (name, frames) pairs; every frame has a per-atom `sigma_f` array. A source whose frames carry
    `halt_reason` in info is a halt file: its last `rule.last_n` frames are kept whatever their sigma_F.
    """
    picked = []
    for name, frames in sources:
        if not frames or any("sigma_f" not in f.arrays for f in frames):
            raise UserError(f"{name}: frames lack a per-atom sigma_f array (run python -m models.rerun first)")
        s = np.array([f.arrays["sigma_f"].max() for f in frames])
        is_halt = any("halt_reason" in f.info for f in frames)
        forced = np.zeros(len(frames), bool)
        if is_halt and rule.last_n > 0:
            forced[-rule.last_n:] = True
        for i in pick_indices(s, rule, forced):
            picked.append(picked_frame(frames[i], name, int(frames[i].info.get("frame", i)),
                                       "halt" if forced[i] else "trust window", generation,
                                       step=frames[i].info.get("step")))
    picked.sort(key=lambda f: (f.info["reason"] != "halt", -f.info["max_sigma_f"]))
    if rule.cap is not None:
        picked = picked[:rule.cap]
    return picked


def read_sources(paths) -> list:
    """(name, frames) pairs from extxyz files, one-line errors for missing or unreadable files."""
    from ase.io import read

    sources = []
    for path in map(Path, paths):
        v.input_file(path, "INPUTS", "file")
        try:
            frames = read(path, index=":", format="extxyz")
        except Exception as e:  # ASE raises many kinds
            raise UserError(f"{path}: cannot read as extxyz ({e.__class__.__name__})") from None
        sources.append((str(path), frames))
    return sources


def select_files(paths, out, rule: SelectionRule, *, generation: int = 0, force: bool = False) -> list:
    """models.select as a function: read, pick (select_frames), write `out` atomically. An empty selection is
    an error (nothing written): the loop has nothing to label."""
    from ase.io import write

    from beamheat.io import atomic_write

    rule.check()
    v.integer("--generation", generation, 0)
    out = v.output_file(out, "--out", force=force, inputs=list(paths), mkdir=True)
    picked = select_frames(read_sources(paths), rule, generation)
    if not picked:
        raise UserError(f"no frames selected from {len(paths)} file(s): none has max sigma_F in "
                        f"[{rule.lo_eV_per_A:g}, {rule.hi_eV_per_A:g}) eV/Å and none is a halt file; {out} not "
                        f"written")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda f: write(f, picked, format="extxyz"))
    return picked


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.select", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("inputs", nargs="+", help="extxyz files with per-atom sigma_f (models.rerun output, halt files)")
    p.add_argument("--lo", type=float, required=True, help="lower end of the trust window, eV/Å (>= 0)")
    p.add_argument("--hi", type=float, required=True, help="upper end of the trust window, eV/Å (> --lo)")
    p.add_argument("--top-k", type=int, help="at most this many frames per source (default: no limit)")
    p.add_argument("--last-n", type=int, default=3, help="always keep the last N frames of halt files (default 3)")
    p.add_argument("--min-gap", type=int, default=1, help="minimum frame distance between picks (default 1)")
    p.add_argument("--cap", type=int, help="at most this many frames in total (default: no limit)")
    p.add_argument("--generation", type=int, default=0, help="active-learning generation, recorded (default 0)")
    p.add_argument("--out", required=True, help="output extxyz (never one of the inputs)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    a = p.parse_args(argv)
    rule = SelectionRule(a.lo, a.hi, a.top_k, a.last_n, a.min_gap, a.cap)
    picked = select_files(a.inputs, a.out, rule, generation=a.generation, force=a.force)
    n_halt = sum(f.info["reason"] == "halt" for f in picked)
    print(f"selected {len(picked)} frames ({n_halt} from halts) from {len(a.inputs)} file(s) -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
