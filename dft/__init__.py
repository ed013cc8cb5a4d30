"""DFT labelling of atomic configurations with GPAW through ASE.

- `dft.label`: the command line and the parallel labelling loop (`python -m dft.label`);
- `dft.settings`: the GPAW settings, their checks and hash, and a configuration's label id;
- `dft.calculation`: one calculation (GPAW, plus D3), its SCF checkpoints and its wall-time limit;
- `dft.database`: the label database (ASE db rows, reuse of earlier labels, export for training);
- `dft.gpaw_siteconfig`: the GPAW build configuration scripts/setup.sh uses.

Importing any of them selects GPAW's own MPI (GPAW_MPI_BACKEND=cgpaw, built against the MPICH that LAMMPS uses), so
that GPAW under mpirun, or beside mpi4py, runs on the real world rather than falling back to a serial one.
"""

import os
import sys

os.environ.setdefault("GPAW_MPI_BACKEND", "cgpaw")  # before gpaw is imported: its own MPI, also under mpirun
if getattr(sys.modules.get("gpaw"), "GPAW_MPI_BACKEND", "") is None:
    # gpaw's top level was imported already (ASE loads gpaw.ase_plugin) and read no backend: choose it before
    # gpaw.mpi is imported, which otherwise falls back to a serial world under mpirun
    sys.modules["gpaw"].GPAW_MPI_BACKEND = os.environ["GPAW_MPI_BACKEND"]
