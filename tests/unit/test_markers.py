"""beamheat.markers names what Python reads from LAMMPS: the inputs print every stage it defines, and the NequIP
inputs halt through fix halt, whose message HALT_RE reads."""

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
               and k not in ("STAGE_PREFIX", "HALT_TEXT", "HALT_RE")}
    assert defined == set(markers.HEAT_TRANSFER_STAGES) | set(markers.STEADY_STATE_STAGES)
    assert markers.stage_line(markers.NVE_CONTACT) == "beamheat: stage nve_contact"


def test_the_nequip_inputs_halt_through_fix_halt():
    text = (INPUTS / "nequip_halt.in").read_text()
    halts = re.findall(r"fix (nequip_halt_\w+) all halt 1 v_\w+ > \$\{halt_\w+\} error continue", text)
    assert halts == ["nequip_halt_fmax", "nequip_halt_sigma"]
    # fix nequip/frames must come before the fix halts (it sees their forced time-out in its post_run first)
    assert text.index("nequip/frames") < text.index("all halt 1")
    for name in ("potentials/nequip.in", "explore.in"):
        assert "include         ${inputs}/nequip_halt.in" in (INPUTS / name).read_text(), name
    line = "Fix halt condition for fix-id nequip_halt_fmax met on step 12 with value 101.5"
    assert line.startswith(markers.HALT_TEXT)
    assert markers.HALT_RE.search(line).groups() == ("nequip_halt_fmax", "12", "101.5")
