"""Each generation's folder gen_NNN and its manifest.json: the state of every stage (pending, running, done), the
hash of the inputs it ran with, its outputs and wall time, and the rules for running a stage again."""

from __future__ import annotations

import datetime
import json
import os
import signal
import time
from pathlib import Path

from beamheat.hashing import stable_hash
from beamheat.io import write_json

from models.data import file_hash
from models.loop.config import LoopError

STAGES_G0 = ("label", "train", "deploy", "evaluate")
STAGES = ("explore", "select", "label", "train", "deploy", "evaluate")


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def content_hash(obj) -> str:
    """beamheat.hashing.stable_hash: stage input hashes and the emt/lammps labels' uids. Changing it changes every
    recorded hash."""
    return stable_hash(obj)


def yaml_hash(path) -> str:
    """Hash of a YAML file's content as parsed: an edited comment or layout is not a changed input."""
    import yaml

    return content_hash(yaml.safe_load(Path(path).read_text()))


def files_hash(paths) -> list[str]:
    return [file_hash(p) if Path(p).exists() else None for p in paths]


class Generation:
    """Generation G of the loop in WORK: its folder, and its manifest (read from manifest.json when there is one)."""

    def __init__(self, work: Path, g: int):
        self.g = g
        self.redo = False  # set by run_stage: the current stage is redone because its inputs changed
        self.dir = work / f"gen_{g:03d}"
        self.path = self.dir / "manifest.json"
        if self.path.exists():
            self.m = json.loads(self.path.read_text())
        else:
            stages = STAGES_G0 if g == 0 else STAGES
            self.m = {"generation": g, "created": now(), "stages": {s: {"state": "pending"} for s in stages},
                      "counts": {}, "metrics": {}}

    def save(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json(self.path, self.m)

    def stage(self, name: str) -> dict:
        return self.m["stages"][name]

    def done(self) -> bool:
        return all(s["state"] == "done" for s in self.m["stages"].values())


def run_stage(gen: Generation, name: str, inputs: dict, fn, force: bool, progress=print) -> dict:
    """Run one stage unless it is done with the same inputs; record its state, input hash, outputs and wall time.
    A done stage whose inputs changed is an error unless FORCE; a running (interrupted) stage resumes."""
    h = content_hash(inputs)
    st = gen.stage(name)
    # items a stage keeps between attempts (trained members) are redone only when its inputs changed: --force on
    # an unchanged, interrupted stage resumes it
    gen.redo = st["state"] in ("done", "running") and st.get("inputs_hash") not in (None, h)
    if st["state"] == "done":
        if st.get("inputs_hash") == h:
            progress(f"gen {gen.g} {name}: done ({st.get('wall_s', 0):.1f} s), skipped")
            return st["outputs"]
        if not force:
            raise LoopError(f"{gen.dir.name}: stage {name} finished with other inputs than now (edited loop YAML or "
                            f"data?); use --force to redo it and what depends on it")
        progress(f"gen {gen.g} {name}: inputs changed, redoing (--force)")
    resumed = st["state"] == "running"
    st.update({"state": "running", "inputs_hash": h, "started": now(), "attempts": st.get("attempts", 0) + 1})
    gen.save()
    progress(f"gen {gen.g} {name}: {'resuming' if resumed else 'starting'}")
    t0 = time.perf_counter()
    outputs = fn()
    wall = time.perf_counter() - t0
    st.update({"state": "done", "finished": now(), "wall_s": wall, "outputs": outputs,
               "inputs": {k: v for k, v in inputs.items() if isinstance(v, (str, int, float)) or k.endswith("hash")}})
    gen.save()
    progress(f"gen {gen.g} {name}: done in {wall:.1f} s")
    kill = os.environ.get("BEAMHEAT_LOOP_KILL_AFTER")  # test hook: a real SIGKILL right after a stage is recorded
    if kill and kill == f"{gen.g}:{name}":
        os.kill(os.getpid(), signal.SIGKILL)
    return outputs


def generation_models(work: Path, g: int) -> list[Path]:
    """The deployed members of generation g (its deploy stage's outputs)."""
    return [Path(p) for p in Generation(work, g).stage("deploy")["outputs"]["models"]]
