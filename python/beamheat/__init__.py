"""beamheat: beam-induced heating of metal nanoparticles in the TEM, modelled with NequIP potentials in LAMMPS.

Shared core: physical constants and units (`beamheat.units`), the LAMMPS plugin locator
(`beamheat.lammps_plugin`) and helpers for running LAMMPS (`beamheat.lammps_run`).
"""

__version__ = "0.1.0"
