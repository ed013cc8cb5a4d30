"""What a log of lammps_inputs/heat_transfer.in must hold, shared by the tests that run it on one rank and on
several: its inputs, the shortened protocol they run, and the check of the log."""

from __future__ import annotations

import numpy as np
import pytest

from beamheat.lammps_log import read_thermo
from helpers import ROOT

INPUTS = ROOT / "lammps_inputs"
DATA = INPUTS / "data" / "au_hbn" / "system.data"
THERMO = ["Step", "Time", "v_T_np", "v_T_support", "v_dT", "v_KE_np", "v_PE_np", "v_E_np", "v_KE_support",
          "v_PE_support", "v_E_support", "PotEng", "TotEng"]
SHORT = {"inputs": INPUTS, "data": DATA, "t_therm_ps": 0.2, "t_nve_ps": 0.4, "thermo_ps": 0.02, "dump_ps": 0.1}


def check_heat_transfer_log(path, physical=True, n_atoms=631, t_therm_ps=0.2, t_nve_ps=0.4, t_np_min_K=350.0):
    """Thermalisation and NVE blocks with every column fit_k needs; NVE conserves the total energy.
    physical: temperatures stay near their targets (the classical reference; a tiny test NequIP model
    trained for seconds has holes in its energy surface and need not), the particle above t_np_min_K and the support
    below 400 K. n_atoms: the system's (the bundled Au183/hBN by default); t_therm_ps, t_nve_ps: the protocol's
    lengths (SHORT's by default)."""
    th = read_thermo(path, THERMO)
    stages = {th.stage_name(b): b for b in np.unique(th.block)}
    assert {"relax_apart", "relax_contact", "thermalise", "contact", "nve_contact"} <= set(stages), stages
    therm, nve = (th.select(th.block == stages[name]) for name in ("thermalise", "nve_contact"))
    assert therm["Time"][-1] == pytest.approx(t_therm_ps) and nve["Time"][-1] == pytest.approx(t_therm_ps + t_nve_ps)
    for c in THERMO:
        assert np.all(np.isfinite(nve[c])), c
    if physical:
        assert np.all(nve["v_T_np"] > t_np_min_K) and np.all(nve["v_T_support"] < 400)
    np.testing.assert_allclose(nve["v_dT"], nve["v_T_np"] - nve["v_T_support"], atol=1e-4)
    np.testing.assert_allclose(nve["v_E_np"], nve["v_KE_np"] + nve["v_PE_np"], atol=1e-4)
    np.testing.assert_allclose(nve["v_E_np"] + nve["v_E_support"], nve["PotEng"] + (nve["TotEng"] - nve["PotEng"]),
                               atol=1e-3)
    # NVE after contact: total energy conserved (per atom, against the potential energy's own swing)
    assert np.ptp(nve["TotEng"]) / n_atoms < 5e-4
    assert np.ptp(nve["TotEng"]) < 0.05 * max(np.ptp(nve["PotEng"]), 1.0)
    return therm, nve
