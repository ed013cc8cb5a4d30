"""Check (not a test): which device each MPI rank of `pair_style nequip` uses, and that 2 ranks give 1 rank's forces.

    python -m bench.gpu_ranks --model FILE [--device auto] [--ranks 2] [--steps 300]

The rule checked: with GPUs, rank r uses GPU (local rank mod GPUs). The plugin logs the device of rank 0 only
(`pair nequip: loaded ... device = cuda:0`), so this script looks at the rank processes from outside while
`mpirun -np RANKS lmp` runs a short MD: for each rank (PMI_RANK of the process) the NVIDIA device files it holds
open (/proc/PID/fd -> /dev/nvidia*) and its line in `nvidia-smi --query-compute-apps` (pid, GPU, memory).
Then it compares the forces of the 1-rank and the RANKS-rank runs at step 0 (same device request), and of the
1-rank run on the requested device against `device cpu`.

System: Au19 on a 10x10x5 B2 CuPd slab (1019 atoms, p p f, `processors * * 1`), rattled; the model must know
Au, Cu and Pd (the tests' tiny model). Prints everything; writes nothing but its temporary folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.lib.systems import TYPES, write_system

from beamheat.lammps_command import lmp_command  # noqa: E402

TAG = "BEAMHEAT_GPU_RANKS_CHECK"


def lmp_input(model: str, device: str, steps: int) -> str:
    return f"""units metal
atom_style atomic
boundary p p f
processors * * 1
read_data sys.data
pair_style nequip device {device}
pair_coeff * * {model} {' '.join(TYPES)}
dump d all custom 1 forces.dump id fx fy fz
dump_modify d sort id format float %.17g
run 0
undump d
velocity all create 300 12345 mom yes rot yes loop geom
timestep 0.002
fix nve all nve
thermo 100
run {steps}
"""


def rank_processes(tag: str) -> dict[int, dict]:
    """Processes started under our tag, by PMI_RANK: pid, command and the /dev/nvidia* files they hold open."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            env = dict(kv.split("=", 1) for kv in
                       Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0") if "=" in kv)
            if env.get(TAG) != tag or "PMI_RANK" not in env:
                continue
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            fds = set()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("/dev/nvidia"):
                    fds.add(target)
        except (OSError, ValueError):
            continue
        r = int(env["PMI_RANK"])
        if fds or r not in out:  # prefer the process that holds the GPU (lmp's Python wrapper may sit above it)
            out[r] = {"pid": int(pid), "cmd": cmd[:80], "nvidia_files": sorted(fds),
                      "CUDA_VISIBLE_DEVICES": env.get("CUDA_VISIBLE_DEVICES"),
                      "MPI_LOCALRANKID": env.get("MPI_LOCALRANKID"), "MPI_LOCALNRANKS": env.get("MPI_LOCALNRANKS")}
    return out


def nvidia_smi_apps() -> list[str]:
    try:
        p = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,gpu_bus_id,used_memory", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=20)
        return [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"nvidia-smi: {e}"]


def run(workdir: Path, model: str, device: str, ranks: int, steps: int, watch: bool) -> tuple[str, np.ndarray, dict]:
    d = workdir / f"np{ranks}_{device.replace(':', '_')}"
    d.mkdir()
    (d / "sys.data").write_bytes((workdir / "sys.data").read_bytes())
    (d / "in.check").write_text(lmp_input(model, device, steps))
    tag = f"{os.getpid()}-{d.name}"
    env = dict(os.environ, OMP_NUM_THREADS="1", **{TAG: tag})
    proc = subprocess.Popen(lmp_command("in.check", nprocs=ranks, log="log.lammps"), cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    seen: dict[int, dict] = {}
    smi: list[str] = []
    t0 = time.time()
    while proc.poll() is None:
        if watch:
            for r, info in rank_processes(tag).items():
                if info["nvidia_files"] or r not in seen:
                    seen[r] = info
            if not smi and all(seen.get(r, {}).get("nvidia_files") for r in range(ranks)) and time.time() - t0 > 2:
                smi = nvidia_smi_apps()
        time.sleep(0.2)
    text = proc.stdout.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{d.name} failed:\n{text[-3000:]}")
    frame = (d / "forces.dump").read_text().split("ITEM: TIMESTEP")[1].strip().splitlines()[8:]
    forces = np.array([[float(v) for v in ln.split()] for ln in frame])
    return text, forces, {"ranks": seen, "nvidia_smi": smi}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_ranks", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="compiled model with types Au Cu Pd (TorchScript)")
    p.add_argument("--device", default="auto", help="pair_style nequip device for the multi-rank run (default auto)")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--steps", type=int, default=300, help="MD steps after the single point (keeps ranks up to look at)")
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="gpu_ranks_"))
    n = write_system(tmp / "sys.data", (10, 10, 5))
    model = str(Path(a.model).resolve())
    print(f"system: {n} atoms; model {model}; pair_style nequip device {a.device}; {a.ranks} ranks vs 1", flush=True)
    try:
        import torch

        print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, GPUs visible: {torch.cuda.device_count()}")
    except ImportError:
        pass
    results = {}
    for ranks, device in ((a.ranks, a.device), (1, a.device), (1, "cpu")):
        t0 = time.time()
        # the CPU reference needs only its single point; the others run on so that their processes can be looked at
        text, forces, procs = run(tmp, model, device, ranks, 0 if device == "cpu" else a.steps, watch=device != "cpu")
        results[(ranks, device)] = forces
        print(f"\n=== mpirun -np {ranks} lmp, pair_style nequip device {device} ({time.time() - t0:.1f} s)")
        for ln in text.splitlines():
            if ln.startswith("pair nequip") or "MPI processor grid" in ln or ln.startswith("Loop time"):
                print("  log: " + ln)
        for r in sorted(procs["ranks"]):
            info = procs["ranks"][r]
            print(f"  rank {r}: pid {info['pid']} ({info['cmd']}), launcher's local rank {info['MPI_LOCALRANKID']} of "
                  f"{info['MPI_LOCALNRANKS']}, CUDA_VISIBLE_DEVICES={info['CUDA_VISIBLE_DEVICES']}, "
                  f"NVIDIA device files open: {', '.join(info['nvidia_files']) or 'none'}")
        for ln in procs["nvidia_smi"]:
            print(f"  nvidia-smi compute app (pid, GPU bus id, memory): {ln}")
    ref = results[(1, a.device)]
    many = results[(a.ranks, a.device)]
    cpu = results[(1, "cpu")]
    assert np.array_equal(ref[:, 0], many[:, 0]) and np.array_equal(ref[:, 0], cpu[:, 0])
    print(f"\nmax |F| {np.abs(ref[:, 1:]).max():.3f} eV/A")
    print(f"max |dF| {a.ranks} ranks vs 1 rank (both device {a.device}): {np.abs(many[:, 1:] - ref[:, 1:]).max():.3g} eV/A")
    print(f"max |dF| 1 rank device {a.device} vs device cpu: {np.abs(ref[:, 1:] - cpu[:, 1:]).max():.3g} eV/A")
    return 0


if __name__ == "__main__":
    sys.exit(main())
