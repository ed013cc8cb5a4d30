"""scripts/supports.sh and scripts/demo.sh (the main job) refuse bad arguments in one line, before they build or
run anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers import one_line_error

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script, out_var, args, env, says", [
    ("supports.sh", "BEAMHEAT_SUPPORTS_OUT", ["0", "200", "2"], {},
     "NVE_PS_TIO2 and NVE_PS_HBN must be positive numbers of ps, not '0'"),
    ("supports.sh", "BEAMHEAT_SUPPORTS_OUT", ["40", "-5"], {}, "not '-5'"),
    ("supports.sh", "BEAMHEAT_SUPPORTS_OUT", ["40", "200", "0"], {}, "SEEDS must be a whole number >= 1, not '0'"),
    ("supports.sh", "BEAMHEAT_SUPPORTS_OUT", ["40", "200", "2"], {"KSPACE": "fast"},
     "KSPACE must be a relative accuracy like 1e-4, not 'fast'"),
    ("supports.sh", "BEAMHEAT_SUPPORTS_OUT", ["40", "200", "2"], {"BEAMHEAT_JOBS": "two"},
     "BEAMHEAT_JOBS must be a whole number >= 1, not 'two'"),
    ("demo.sh", "BEAMHEAT_DEMO_OUT", [], {"BEAMHEAT_BUNDLE": "no/such/bundle"},
     "BEAMHEAT_BUNDLE=no/such/bundle is not a bundle (no member_0.nequip.pth)"),
    ("demo.sh", "BEAMHEAT_DEMO_OUT", ["-5"], {}, "NVE_PS and THERM_PS must be positive numbers of ps, not '-5'"),
    ("demo.sh", "BEAMHEAT_DEMO_OUT", ["10", "0"], {}, "SEEDS must be a whole number >= 1, not '0'"),
])
def test_bad_arguments_are_one_line(tmp_path, script, out_var, args, env, says):
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / script), *args], capture_output=True, text=True,
                          env={**os.environ, out_var: str(out), **env}, timeout=120)
    assert proc.returncode == 2
    one_line_error(proc.stderr)
    assert says in proc.stderr and not out.exists()
