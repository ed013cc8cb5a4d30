"""scripts/demo.sh (the main job) refuses bad arguments in one line, before it builds or runs anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers import one_line_error

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args, env, says", [
    ([], {"BEAMHEAT_BUNDLE": "no/such/bundle"}, "BEAMHEAT_BUNDLE=no/such/bundle is not a bundle (no member_0.nequip.pth)"),
    (["-5"], {}, "NVE_PS and THERM_PS must be positive numbers of ps, not '-5'"),
    (["10", "0"], {}, "SEEDS must be a whole number >= 1, not '0'"),
])
def test_bad_arguments_are_one_line(tmp_path, args, env, says):
    out = tmp_path / "demo"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), *args], capture_output=True, text=True,
                          env={**os.environ, "BEAMHEAT_DEMO_OUT": str(out), **env}, timeout=120)
    assert proc.returncode == 2
    one_line_error(proc.stderr)
    assert says in proc.stderr and not out.exists()
