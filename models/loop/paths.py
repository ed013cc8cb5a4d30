"""Where the loop finds its files: the repository, the LAMMPS inputs, and paths given in a loop YAML."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _inputs_dir() -> Path:
    """The source tree's lammps_inputs, else the installed copy (beamheat.lammps_plugin.inputs_dir): with the
    package installed, models/ lies in site-packages, where ROOT has no lammps_inputs."""
    if (ROOT / "lammps_inputs" / "explore.in").is_file():
        return ROOT / "lammps_inputs"
    from beamheat.lammps_plugin import inputs_dir

    return inputs_dir()


INPUTS = _inputs_dir()
EXPLORE_IN = INPUTS / "explore.in"


def resolve_path(p: str | Path, base: Path) -> Path:
    """P as given when absolute, else the first of BASE/P, ./P and ROOT/P that exists, else BASE/P."""
    p = Path(p)
    if p.is_absolute():
        return p
    for root in (base, Path.cwd(), ROOT):
        if (root / p).exists():
            return (root / p).resolve()
    return (base / p).resolve()
