"""beamheat: beam-induced heating of metal nanoparticles in the TEM, modelled with NequIP potentials in LAMMPS.

Shared core, one home per convention:
- `beamheat.units`: physical constants and unit conversions;
- `beamheat.cli`: the error contract (BeamheatError, one-line errors, --debug) and the argument parser;
- `beamheat.validate`: checks of user input (quantities with their units, input and output files, --force);
- `beamheat.io`: atomic writes and valid JSON; `beamheat.results`: typed results (dataclasses) and their JSON;
- `beamheat.readers`: reading results back (numbers, intervals: [lo, null] is unbounded above);
- `beamheat.reliability`: when a number with an interval is determined; `beamheat.hashing`: stable_hash;
- `beamheat.geometry`: the Geometry record (geometry.json) and V, S, A, t of a particle;
- `beamheat.build`: particle-on-support structures; `beamheat.lammps_log`: the LAMMPS log reader;
- `beamheat.markers`: the stage names and log markers Python reads from LAMMPS;
- `beamheat.lammps_plugin` / `beamheat.lammps_run`: the plugin locator and helpers for running LAMMPS in-process;
- `beamheat.lammps_command`: the `mpirun -np N lmp -in ... -var ...` command line; `beamheat._mpi_preload`:
  loading the mpich wheel's libmpi for liblammps;
- `beamheat.sigma`: the interface mask and the per-frame σF statistics (all, interface, worst 10 %);
- `beamheat.graph`: the nequip input graph (neighbour list) for Python;
- `beamheat.plotting`: headless figures; `beamheat.main`: the `beamheat` command with its subcommands.
"""

__version__ = "0.1.0"
