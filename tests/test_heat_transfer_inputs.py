"""lammps_inputs/heat_transfer.in and steady_state.in run as a user runs them, with the classical Au/hBN
reference and with a NequIP model, on the bundled Au183/hBN system; their thermo has what fit_k reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from beamheat.lammps_log import read_thermo
from conftest import ROOT, run_lmp_file

INPUTS = ROOT / "lammps_inputs"
DATA = INPUTS / "data" / "au_hbn" / "system.data"
THERMO = ["Step", "Time", "v_T_np", "v_T_support", "v_dT", "v_KE_np", "v_PE_np", "v_E_np", "v_KE_support",
          "v_PE_support", "v_E_support", "PotEng", "TotEng"]
SHORT = {"inputs": INPUTS, "data": DATA, "t_therm_ps": 0.2, "t_nve_ps": 0.4, "thermo_ps": 0.02, "dump_ps": 0.1}


def check_heat_transfer_log(path, physical=True):
    """Thermalisation and NVE blocks with every column fit_k needs; NVE conserves the total energy.
    physical: temperatures stay near their targets (the classical reference; a tiny test NequIP model
    trained for seconds has holes in its energy surface and need not)."""
    th = read_thermo(path, THERMO)
    blocks = np.unique(th.block)
    assert len(blocks) == 2, "thermalisation and NVE blocks"
    therm, nve = (th.select(th.block == b) for b in blocks)
    assert therm["Time"][-1] == pytest.approx(0.2) and nve["Time"][-1] == pytest.approx(0.6)
    for c in THERMO:
        assert np.all(np.isfinite(nve[c])), c
    if physical:
        assert np.all(nve["v_T_np"] > 350) and np.all(nve["v_T_support"] < 400)
    np.testing.assert_allclose(nve["v_dT"], nve["v_T_np"] - nve["v_T_support"], atol=1e-4)
    np.testing.assert_allclose(nve["v_E_np"], nve["v_KE_np"] + nve["v_PE_np"], atol=1e-4)
    np.testing.assert_allclose(nve["v_E_np"] + nve["v_E_support"], nve["PotEng"] + (nve["TotEng"] - nve["PotEng"]),
                               atol=1e-3)
    # NVE after contact: total energy conserved (per atom, against the potential energy's own swing)
    assert np.ptp(nve["TotEng"]) / 631 < 5e-4
    assert np.ptp(nve["TotEng"]) < 0.05 * max(np.ptp(nve["PotEng"]), 1.0)
    return therm, nve


def test_default_input_runs_from_repo_root(tmp_path):
    """Only the times shortened: data, potential and paths are the defaults, run from the repository root."""
    proc = run_lmp_file(INPUTS / "heat_transfer.in", ROOT, {"t_therm_ps": 0.2, "t_nve_ps": 0.4, "thermo_ps": 0.02,
                        "out": tmp_path / "ht"}, log=str(tmp_path / "log.lammps"))
    assert proc.returncode == 0, proc.stdout[-2000:]
    check_heat_transfer_log(tmp_path / "log.lammps")
    dump = (tmp_path / "ht.dump").read_text().splitlines()
    assert "ITEM: ATOMS id type element x y z vx vy vz fx fy fz" in dump
    n = int(dump[3])
    frame = [line.split() for line in dump[9:9 + n]]
    assert {f[2] for f in frame[:183]} == {"Au"} and {f[2] for f in frame[183:]} == {"B", "N"}
    assert int(dump[1]) == 100  # the contact configuration (first yes)


def test_classical_reference_two_mpi_ranks(tmp_path):
    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path, SHORT, nprocs=2)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "2 MPI tasks" in (tmp_path / "log.lammps").read_text() or "by 1 MPI processor grid" in proc.stdout
    check_heat_transfer_log(tmp_path / "log.lammps")


def test_nequip_model(tmp_path, model_au_hbn):
    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path,
                        {**SHORT, "potential": "nequip", "model": model_au_hbn, "elements": "Au B N"})
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "pair nequip: loaded torchscript model" in proc.stdout
    check_heat_transfer_log(tmp_path / "log.lammps", physical=False)


def test_fit_k_reads_a_heat_transfer_log(tmp_path):
    """The thermo names of heat_transfer.in are fit_k's defaults: a short classical run is read end to end
    (a real fit needs the full 200 ps; fit_k then reports k with the finite-support correction)."""
    from analysis.fit_k import analyse_transient, load_geometry, parse_args

    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path, {**SHORT, "t_nve_ps": 2.0})
    assert proc.returncode == 0
    a = parse_args([str(tmp_path / "log.lammps"), "--geometry", str(DATA.parent / "geometry.json"),
                    "--cp", "2.9e-4", "--bootstrap", "0"])
    geo = load_geometry(tmp_path / "log.lammps", a)
    r = analyse_transient([tmp_path / "log.lammps"], geo, a)
    assert r["n_atoms_np"] == 183 and r["t_contact_ps"] == pytest.approx(0.2)
    assert r["n_points"] == 101 and 100 < r["dT0_K"] < 500
    assert r["cp_source"] == "--cp" and r["area_nm2"] == pytest.approx(0.98, abs=0.01)


def test_steady_state_input(tmp_path):
    proc = run_lmp_file(INPUTS / "steady_state.in", tmp_path,
                        {"inputs": INPUTS, "data": DATA, "t_equil_ps": 0.2, "t_steady_ps": 1.0, "thermo_ps": 0.02,
                         "P_eV_per_ps": 2.0})
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "support atoms held at 300 K" in proc.stdout
    th = read_thermo(tmp_path / "log.lammps", ["Time", "v_T_np", "v_T_support", "v_P_np", "v_E_np"])
    assert np.all(th["v_P_np"] == 2.0)
    # ehex puts P into the particle: its energy rises at about P while it has not yet reached steady state
    rate = np.polyfit(th["Time"][:20], th["v_E_np"][:20], 1)[0]
    assert 0.5 < rate < 2.5


def test_geometry_json_matches_bundled_data():
    g = json.loads((DATA.parent / "geometry.json").read_text())
    assert g["n_atoms_np"] == 183 and g["type_map"] == {"Au": 1, "B": 2, "N": 3} and g["support"] == "hbn"
