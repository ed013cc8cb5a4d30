"""analysis.eels configures nothing process-wide: importing it leaves the warning filters and the root, hyperspy and
exspy loggers as they were, and hyperspy is quieted only inside the calls that use it (quiet_hyperspy).

Each check runs in a fresh interpreter: the test session may have imported analysis.eels, hyperspy or exspy already.
Pure Python: no LAMMPS, no training.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STATE = r'''
import importlib, json, logging, sys, warnings

LOGGERS = ["", "hyperspy", "hyperspy.decorators", "exspy"]


def state():
    return {"warning_filters": [repr(f) for f in warnings.filters],
            "loggers": {name: [logging.getLogger(name).level, [repr(f) for f in logging.getLogger(name).filters],
                               len(logging.getLogger(name).handlers)] for name in LOGGERS}}
'''


def python(code: str) -> dict:
    """Run code in a fresh interpreter with this checkout first on the path; its last stdout line, as JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", STATE + code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_changes_no_global_state():
    # what analysis.eels imports from elsewhere (numpy, beamheat) may set filters of its own when first imported:
    # import exactly those first, so that the comparison sees only what the package's own modules do
    deps = python('import analysis.eels\n'
                  'print(json.dumps(sorted(m for m in sys.modules if not m.startswith("analysis.eels"))))')
    assert "hyperspy" not in deps and "exspy" not in deps  # imported inside the calls that need them
    out = python(f'''
for name in {deps!r}:
    try:
        importlib.import_module(name)
    except Exception:  # private or aliased entries of sys.modules
        pass
before = state()
import analysis.eels
print(json.dumps({{"before": before, "after": state(), "hyperspy": "hyperspy" in sys.modules}}))
''')
    assert out["after"] == out["before"]
    assert not out["hyperspy"]


def test_quiet_hyperspy_restores_what_it_changed():
    out = python('''
import hyperspy.api, exspy
from analysis.eels import lambda_iakoubovskii_nm, quiet_hyperspy
before = state()
with quiet_hyperspy():
    inside = state()
    with quiet_hyperspy():
        logging.getLogger("hyperspy").warning("dropped inside")
lam = lambda_iakoubovskii_nm(19.3, 300.0)
print(json.dumps({"before": before, "inside": inside, "after": state(), "lam": lam}))
''')
    assert out["after"] == out["before"]
    assert out["inside"]["loggers"]["hyperspy"][0] == out["inside"]["loggers"]["exspy"][0] == 40  # ERROR
    assert out["inside"]["warning_filters"] != out["before"]["warning_filters"]
    assert abs(out["lam"] - 105.9) < 0.05


def test_command_line_prints_only_its_result():
    """hyperspy, first imported inside the call, adds nothing to the output (its "Numba is not installed" notice
    included)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "analysis.eels", "lambda", "--density", "19.3", "--beam-kev", "300"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "lambda = 105.9 nm (density 19.3 g/cm³, 300 keV, collection 20 mrad)\n"
    assert proc.stderr == ""
