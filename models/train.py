"""Train one NequIP model with nequip's own trainer (`nequip-train`, Hydra config).

    python -m models.train CONFIG.yaml --data FRAMES.extxyz --out RUN_DIR [hydra.key=value ...]

The run directory receives nequip's checkpoint; `RUN_DIR/model.ckpt` always points at the final one, ready for
`python -m models.deploy`. Extra `key=value` arguments are passed to Hydra unchanged (e.g. `trainer.max_epochs=5`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from beamheat.cli import UserError, run


class TrainError(UserError):
    pass


def train(config: str | Path, data: str | Path, out: str | Path, overrides: list[str] = ()) -> Path:
    """Train with `nequip-train`; return the path of the final checkpoint (`OUT/model.ckpt`)."""
    config = Path(config).resolve()
    data = Path(data).resolve()
    out = Path(out).resolve()
    if not config.is_file():
        raise TrainError(f"{config}: config file not found")
    if not data.is_file():
        raise TrainError(f"{data}: training data not found")
    out.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("nequip-train", path=str(Path(sys.executable).parent)) or shutil.which("nequip-train")
    if exe is None:
        raise TrainError("nequip-train not found: is nequip installed in this environment?")
    cmd = [exe, "-cp", str(config.parent), "-cn", config.stem,
           f"data_file={data}", f"hydra.run.dir={out}", *overrides]
    print("+", " ".join(cmd), flush=True)
    with open(out / "train.log", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=out)
    if proc.returncode != 0:
        tail = (out / "train.log").read_text().splitlines()[-15:]
        raise TrainError(f"nequip-train failed (exit {proc.returncode}); see {out / 'train.log'}:\n" + "\n".join(tail))
    ckpts = sorted(out.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    ckpts = [c for c in ckpts if c.name != "model.ckpt"]
    if not ckpts:
        raise TrainError(f"{out}: nequip-train finished but wrote no checkpoint")
    final = out / "model.ckpt"
    tmp = out / "model.ckpt.part"
    shutil.copyfile(ckpts[-1], tmp)
    tmp.replace(final)
    return final


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="nequip Hydra YAML config (e.g. models/configs/tiny.yaml)")
    p.add_argument("--data", required=True, help="labelled frames (extxyz or any ASE-readable file)")
    p.add_argument("--out", required=True, help="run directory (checkpoint written to OUT/model.ckpt)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="Hydra overrides, passed to nequip-train")
    a, rest = p.parse_known_args(argv)
    bad = [r for r in rest if "=" not in r]
    if bad:
        p.error(f"unrecognized arguments: {' '.join(bad)}")
    ckpt = train(a.config, a.data, a.out, a.overrides + rest)
    print(f"checkpoint: {ckpt}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
