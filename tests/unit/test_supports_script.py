"""scripts/supports.sh refuses bad arguments in one line, before it builds or runs anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers import one_line_error

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args, env, says", [
    (["0", "200", "2"], {}, "NVE_PS_TIO2 and NVE_PS_HBN must be positive numbers of ps, not '0'"),
    (["40", "-5"], {}, "not '-5'"),
    (["40", "200", "0"], {}, "SEEDS must be a whole number >= 1, not '0'"),
    (["40", "200", "2"], {"KSPACE": "fast"}, "KSPACE must be a relative accuracy like 1e-4, not 'fast'"),
    (["40", "200", "2"], {"BEAMHEAT_JOBS": "two"}, "BEAMHEAT_JOBS must be a whole number >= 1, not 'two'"),
])
def test_bad_arguments_are_one_line(tmp_path, args, env, says):
    out = tmp_path / "supports"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "supports.sh"), *args], capture_output=True, text=True,
                          env={**os.environ, "BEAMHEAT_SUPPORTS_OUT": str(out), **env}, timeout=120)
    assert proc.returncode == 2
    one_line_error(proc.stderr)
    assert says in proc.stderr and not out.exists()
