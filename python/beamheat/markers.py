"""The text that beamheat's LAMMPS inputs and pair style print and Python reads back: one home for each name.

The inputs print `beamheat: stage NAME key=value ...` before each run (beamheat.lammps_log gives every thermo block
the last such NAME); LAMMPS's fix halt prints `Fix halt condition for fix-id ID met on step N with value V` when it
stops a run (lammps_inputs/nequip_halt.in sets the NequIP halts up). The inputs and LAMMPS keep their own text;
tests/unit/test_markers.py checks that the inputs still print these, and the integration tests that LAMMPS does.

    from beamheat.markers import NVE_CONTACT, HALT_TEXT
    blocks = [b for b in blocks if th.stage_name(b) == NVE_CONTACT]
"""

from __future__ import annotations

import re

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

HALT_TEXT = "Fix halt condition for fix-id "  # LAMMPS's fix halt message when it stops a run
HALT_RE = re.compile(re.escape(HALT_TEXT) + r"(\S+) met on step (\d+) with value (\S+)")  # fix ID, step, value


def stage_line(name: str) -> str:
    """The line an input prints before stage NAME (without its key=value pairs)."""
    return STAGE_PREFIX + name
