"""beamheat.markers names what Python reads from LAMMPS: the inputs print every stage it defines, and the pair
style still writes the halting warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from beamheat import markers

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ROOT / "lammps_inputs"


def printed_stages(name: str) -> list[str]:
    """The stage names an input prints (`print "beamheat: stage NAME ..."`), the inputs it includes
    (${inputs}/FILE) followed."""
    text = (INPUTS / name).read_text()
    stages = re.findall(r'^\s*print\s+"' + re.escape(markers.STAGE_PREFIX) + r'(\w+)', text, flags=re.M)
    for inc in re.findall(r"include \$\{inputs\}/(\S+?\.in)", text):
        stages += printed_stages(inc)
    return stages


@pytest.mark.parametrize("name, stages", [("heat_transfer.in", markers.HEAT_TRANSFER_STAGES),
                                          ("steady_state.in", markers.STEADY_STATE_STAGES)])
def test_every_stage_name_is_printed_by_its_input(name, stages):
    printed = printed_stages(name)
    assert set(stages) == set(printed), (name, sorted(printed))


def test_every_stage_the_module_defines_is_in_an_input():
    defined = {v for k, v in vars(markers).items() if k.isupper() and isinstance(v, str)
               and k not in ("STAGE_PREFIX", "HALT_TEXT")}
    assert defined == set(markers.HEAT_TRANSFER_STAGES) | set(markers.STEADY_STATE_STAGES)
    assert markers.stage_line(markers.NVE_CONTACT) == "beamheat: stage nve_contact"


def test_pair_style_still_writes_the_halting_warning():
    src = (ROOT / "lammps_plugin" / "pair_nequip.cpp").read_text()
    assert re.search(r'error->warning\(FLERR,\s*"' + re.escape(markers.HALT_TEXT) + " at step", src)
