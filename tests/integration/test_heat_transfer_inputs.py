"""lammps_inputs/heat_transfer.in and steady_state.in run as a user runs them, with the classical Au/hBN
reference and with a NequIP model, on the bundled Au183/hBN system; their thermo has what fit_k reads, they relax
the structure first, and steady state and transient measure the same k."""

from __future__ import annotations

import numpy as np
import pytest

from beamheat.lammps_log import read_thermo
from heat_transfer_checks import DATA, INPUTS, SHORT, check_heat_transfer_log
from helpers import ROOT, TESTS, run_lmp_file

STRONG = TESTS / "data" / "strong_au_hbn.in"


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


def test_nequip_model(tmp_path, model_au_hbn):
    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path,
                        {**SHORT, "potential": "nequip", "model": model_au_hbn, "elements": "Au B N"})
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "pair nequip: loaded torchscript model" in proc.stdout
    check_heat_transfer_log(tmp_path / "log.lammps", physical=False)


def test_relaxation_releases_the_stored_strain_before_the_protocol(tmp_path):
    """The bundled particle is a builder cut with bulk positions, ~17 eV above its relaxed EAM energy: the input
    releases that in relax_apart (so it cannot become heat), and contact then costs only the adhesion."""
    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path, {**SHORT, "protocol": "lifted"})
    assert proc.returncode == 0, proc.stdout[-2000:]
    import re

    apart = re.search(r"relaxed apart: particle (\S+) eV, support (\S+) eV", proc.stdout)
    assert apart and -20 < float(apart.group(1)) < -10 and abs(float(apart.group(2))) < 1
    adhesion = float(re.search(r"relaxed in contact: adhesion (\S+) eV", proc.stdout).group(1))
    assert -2.0 < adhesion < -0.1
    contact = float(re.search(r"contact at \S+ ps: potential energy change (\S+) eV", proc.stdout).group(1))
    assert abs(contact) < 5.0  # thermal ripple at most, never the old 17 eV of stored strain
    th = read_thermo(tmp_path / "log.lammps", ["Time", "PotEng"])
    therm = th.select(th.block == min(b for b in np.unique(th.block) if th.stage_name(b) == "thermalise"))
    assert therm["Time"][0] == 0.0  # the clock starts after relaxation


def test_fit_k_reads_a_heat_transfer_log(tmp_path):
    """The thermo names of heat_transfer.in are fit_k's defaults: a short classical run is read end to end, the
    NVE-after-contact segment found from its stage marker (a real k needs hundreds of ps: see the README)."""
    from analysis.k_analysis import analyse_transient
    from analysis.k_inputs import load_geometry

    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path, {**SHORT, "t_nve_ps": 2.0})
    assert proc.returncode == 0
    geo = load_geometry(tmp_path / "log.lammps", DATA.parent / "geometry.json")
    r = analyse_transient([tmp_path / "log.lammps"], geo, cp_eV_per_K=2.9e-4, n_boot=0)
    assert r.n_atoms_np == 183 and r.t_contact_ps == pytest.approx(0.2)
    assert r.stage.startswith("nve_contact protocol=in_contact") and r.t_planned_ps == 2.0
    assert r.segment_finished and r.n_points == 101 and 100 < r.dT0_K < 500
    assert r.area_nm2 == pytest.approx(0.98, abs=0.01) and r.k_method == "energy_balance"


def test_steady_state_input(tmp_path):
    proc = run_lmp_file(INPUTS / "steady_state.in", tmp_path,
                        {"inputs": INPUTS, "data": DATA, "t_start_ps": 0.2, "t_equil_ps": 0.2, "t_steady_ps": 1.0,
                         "thermo_ps": 0.02, "P_eV_per_ps": 2.0})
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "support atoms (bath ring, sink ehex) remove it" in proc.stdout
    th = read_thermo(tmp_path / "log.lammps", ["Time", "v_T_np", "v_T_support", "v_P_np", "v_E_np"])
    th = th.select(th.block == max(b for b in np.unique(th.block) if th.stage_name(b) == "heat"))
    assert np.all(th["v_P_np"] == 2.0)
    # ehex puts P into the particle: its energy rises at about P while it has not yet reached steady state
    rate = np.polyfit(th["Time"][:20], th["v_E_np"][:20], 1)[0]
    assert 0.5 < rate < 2.5


def _k(log, steady=False):
    from analysis.k_analysis import analyse_steady, analyse_transient
    from analysis.k_inputs import load_geometry

    geo = load_geometry(log, DATA.parent / "geometry.json")
    return (analyse_steady if steady else analyse_transient)([log], geo, n_boot=200)


def test_steady_state_k_is_independent_of_power(tmp_path):
    """dT is proportional to P: at three powers spanning 4x the steady-state k (energy balance, P - dE_np/dt =
    k A dT) agree, so the steady dT = P/(k A) each run implies scales with P. The old, unrelaxed input gave k
    proportional to P (stored strain set dT). Short runs (60 ps) on a strongly coupled test interface with the
    Langevin sink, whose damping of the support makes 60 ps enough for ~25 %; with the default ehex sink the same
    windows are ~70 % (the support's flux fluctuations are undamped), and the README's measurements use 0.4-1.6 ns.
    60 ps is shorter than the particle's relaxation time C/(k A), so the measured dT is not yet the steady one:
    the energy balance does not need it."""
    ks, dTs = [], []
    G_guess = 2.2e-4
    for P in (0.02, 0.04, 0.08):
        d = tmp_path / f"P{P}"
        d.mkdir()
        proc = run_lmp_file(INPUTS / "steady_state.in", d,
                            {"inputs": INPUTS, "data": DATA, "potential_file": STRONG, "P_eV_per_ps": P,
                             "sink": "langevin", "T_np_start_K": round(300 + P / G_guess), "t_start_ps": 2,
                             "t_equil_ps": 2, "t_steady_ps": 60, "thermo_ps": 0.05})
        assert proc.returncode == 0, proc.stdout[-2000:]
        assert "sink langevin" in proc.stdout
        r = _k(d / "log.lammps", steady=True)
        assert r.reliable, r.unreliable_reasons
        ks.append((r.k.k_eV_per_nm2_ps_K, r.k.k_err_eV_per_nm2_ps_K))
        dTs.append(r.dT_K)
    for i in range(len(ks)):
        for j in range(i):
            (a, sa), (b, sb) = ks[i], ks[j]
            assert abs(a - b) < 2.5 * np.hypot(sa, sb), ks
    assert dTs[0] < dTs[1] < dTs[2]
    k_steady = [k for k, _ in ks]
    # k itself rises with temperature on this interface (README), so less than 2x (not 4x) is the bound
    assert max(k_steady) / min(k_steady) < 2.0, ks


def test_transient_k_from_a_short_strong_interface_run(tmp_path):
    """heat_transfer.in on the strong test interface: 60 ps of NVE give a reliable k near the steady state's."""
    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path, {"inputs": INPUTS, "data": DATA,
                        "potential_file": STRONG, "t_therm_ps": 5, "t_nve_ps": 60, "thermo_ps": 0.05})
    assert proc.returncode == 0, proc.stdout[-2000:]
    tr = _k(tmp_path / "log.lammps")
    assert tr.reliable and tr.k_method == "energy_balance"
    assert 1.0e-4 < tr.k.k_eV_per_nm2_ps_K < 4.0e-4, tr.k.k_eV_per_nm2_ps_K


@pytest.mark.parametrize("name, variables, message", [
    ("heat_transfer.in", {"T_np_K": 0}, "ERROR: -var T_np_K 0 and T_support_K 300 must both be > 0 K"),
    ("heat_transfer.in", {"t_nve_ps": -5}, "ERROR: -var t_nve_ps -5 and dt_ps 0.002 must be > 0 ps"),
    ("steady_state.in", {"T_support_K": -1}, "ERROR: -var T_np_start_K 550 and T_support_K -1 must both be > 0 K"),
    ("steady_state.in", {"P_eV_per_ps": 0}, "ERROR: -var P_eV_per_ps 0, t_steady_ps 400 and dt_ps 0.002 must be > 0"),
])
def test_temperatures_and_times_out_of_range_stop_before_any_work(tmp_path, name, variables, message):
    proc = run_lmp_file(INPUTS / name, tmp_path, {"inputs": INPUTS, **variables})
    errors = sorted({ln for ln in proc.stdout.splitlines() if ln.startswith("ERROR")})
    assert proc.returncode != 0 and len(errors) == 1 and errors[0].startswith(message), proc.stdout[-2000:]
    assert "Loop time" not in proc.stdout  # no run started


def test_classical_reference_refuses_types_whose_masses_are_other_elements(tmp_path):
    """classical_au_hbn.in assumes types 1 Au, 2 B, 3 N; a data file whose masses say otherwise stops there."""
    text = (INPUTS / "data" / "au_hbn" / "system.data").read_text()
    lines = text.splitlines()
    i = lines.index("Masses")
    assert lines[i + 2].split()[0] == "1" and lines[i + 2].split()[-1] == "Au"
    lines[i + 2] = "1 14.007 # N"  # type 1 claims to be nitrogen
    (tmp_path / "swapped.data").write_text("\n".join(lines) + "\n")
    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path,
                        {"inputs": INPUTS, "data": tmp_path / "swapped.data", "relax": "no"})
    errors = sorted({ln for ln in proc.stdout.splitlines() if ln.startswith("ERROR")})
    assert proc.returncode != 0 and len(errors) == 1, proc.stdout[-2000:]
    assert errors[0].startswith("ERROR: classical_au_hbn.in: types 1, 2, 3 must be Au, B, N") and "14.01" in errors[0]
