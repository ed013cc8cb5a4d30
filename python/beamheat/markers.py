"""The text that beamheat's LAMMPS inputs and pair style print and Python reads back: one home for each name.

The inputs print `beamheat: stage NAME key=value ...` before each run (beamheat.lammps_log gives every thermo block
the last such NAME); pair_style nequip warns `pair nequip: halting at step N: ...` when it halts a run. The inputs
and the C++ keep their own text; tests/unit/test_markers.py checks that they still print these.

    from beamheat.markers import NVE_CONTACT, HALT_TEXT
    blocks = [b for b in blocks if th.stage_name(b) == NVE_CONTACT]
"""

from __future__ import annotations

STAGE_PREFIX = "beamheat: stage "   # followed by the stage name and, for some stages, key=value pairs

# lammps_inputs/relax.in (included by heat_transfer.in and steady_state.in unless -var relax no)
RELAX_APART = "relax_apart"         # each body relaxed apart
RELAX_CONTACT = "relax_contact"     # the two bodies relaxed in contact
# lammps_inputs/heat_transfer.in
THERMALISE = "thermalise"           # each body thermostatted to its own temperature
CONTACT = "contact"                 # the particle brought into contact
NVE_CONTACT = "nve_contact"         # NVE after contact: the segment fit_k and report read
# lammps_inputs/steady_state.in
START = "start"                     # the particle brought to its starting temperature
HEAT = "heat"                       # the particle heated at constant power: fit_k --steady's segment
# both
DONE = "done"                       # printed after the last run: the job finished

HEAT_TRANSFER_STAGES = (RELAX_APART, RELAX_CONTACT, THERMALISE, CONTACT, NVE_CONTACT, DONE)
STEADY_STATE_STAGES = (RELAX_APART, RELAX_CONTACT, START, HEAT, DONE)

HALT_TEXT = "pair nequip: halting"  # lammps_plugin/pair_nequip.cpp's warning when it halts a run


def stage_line(name: str) -> str:
    """The line an input prints before stage NAME (without its key=value pairs)."""
    return STAGE_PREFIX + name
