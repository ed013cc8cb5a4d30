"""analysis.report on a synthetic job directory: logs in heat_transfer.in's format with a known ΔT(t), dumps with
known per-atom σF, a fit_k-format k.json and heating JSONs written by analysis.heating itself. No LAMMPS."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis import heating
from analysis.report import interface_mask, main, make_report, sigma_stats, worst_mean
from beamheat.cli import UserError, run
from beamheat.units import EV_PER_NM2_PS_K_TO_MW_PER_M2_K

TAU_PS, DT0_K, T_CONTACT_PS, STEPS_PER_PS = 50.0, 300.0, 15.0, 500
N_ROWS, DUMP_EVERY_PS, N_FRAMES = 40, 5, 3
# 10 atoms: ids 1-5 particle (type 1), 6-10 support (types 2, 3); ids 1, 2 sit 4 Å above 6, 7: the interface
POSITIONS = {1: (0, 0, 4), 2: (20, 0, 4), 3: (40, 0, 30), 4: (60, 0, 30), 5: (80, 0, 30),
             6: (0, 0, 0), 7: (20, 0, 0), 8: (40, 0, 0), 9: (60, 0, 0), 10: (80, 0, 0)}
TYPES = {i: 1 if i <= 5 else (2 if i % 2 == 0 else 3) for i in POSITIONS}
ELEMENTS = {1: "Au", 2: "B", 3: "N"}
INTERFACE = [1, 2, 6, 7]
K, K_ERR = 5e-5, 1e-5
CP, C_SUB = 2.9e-4, 0.12
GEOMETRY = {"n_atoms_np": 5, "n_atoms_support": 5, "S_nm2": 3.3, "A_nm2": 0.98, "t_nm": 0.94,
            "support_top_z_A": 0.0, "label": "Au5/hbn", "support": "hbn", "type_map": {"Au": 1, "B": 2, "N": 3},
            "groups": {"np": {"atom_ids": [1, 5], "types": [1]}, "support": {"atom_ids": [6, 10], "types": [2, 3]}}}
COLUMNS = ["Step", "Time", "v_T_np", "v_T_support", "v_dT", "v_E_np", "v_E_support", "PotEng",
           "c_nequip_pair[1]", "c_nequip_pair[2]"]


def sigma_of(run: int) -> np.ndarray:
    """σF (frames, atoms in id order): 0.01·id·(frame+1), doubled in run 2."""
    return np.array([[0.01 * i * (f + 1) * run for i in range(1, 11)] for f in range(N_FRAMES)])


def _block(rows) -> str:
    out = ["Per MPI rank memory allocation (min/avg/max) = 6.618 | 6.618 | 6.618 Mbytes",
           "   " + "   ".join(f"{c:>12s}" for c in COLUMNS)]
    out += ["".join(f"{x:>15.8g}" for x in r) for r in rows]
    return "\n".join(out) + "\n"


def write_log(path, halt: bool) -> None:
    t = np.arange(N_ROWS) * 1.0
    dT = DT0_K * np.exp(-t / TAU_PS)
    T_sub = 300.0 + 0 * t
    rows = [[STEPS_PER_PS * (T_CONTACT_PS + ti), T_CONTACT_PS + ti, T_sub[i] + dT[i], T_sub[i], dT[i], -625.0, -3326.0,
             -3984.0, 0.3, 0.05] for i, ti in enumerate(t)]
    therm = [[0, 0, 600, 300, 300, -638.0, -3345.0, -4015.0, 0.2, 0.04],
             [7500, 15, 600, 300, 300, -625.0, -3326.0, -3984.0, 0.2, 0.04]]
    nve = _block(rows[:10])
    if halt:
        nve += "Fix halt condition for fix-id nequip_halt_sigma met on step 12000 with value 0.61\n"
    nve += "\n".join("".join(f"{x:>15.8g}" for x in r) for r in rows[10:]) + "\n"
    text = (
        "LAMMPS (22 Jul 2025 - Update 4)\n  using 1 OpenMP thread(s) per MPI task\n"
        'print           "beamheat: stage thermalise protocol=${protocol} T_np_K=${T_np_K} '
        'T_support_K=${T_support_K} t_ps=${t_therm_ps}"\n'
        "beamheat: stage thermalise protocol=in_contact T_np_K=600 T_support_K=300 t_ps=15\n"
        "run             7500\n" + _block(therm) +
        "Loop time of 8.32293 on 1 procs for 7500 steps with 10 atoms\n\n"
        'print           "beamheat: stage contact"\nbeamheat: stage contact\nrun             0 post no\n'
        + _block(therm[1:]) + "Loop time of 1.242e-06 on 1 procs for 0 steps with 10 atoms\n\n"
        "dump            traj all custom 2500 heat_transfer.dump id type element x y z vx vy vz fx fy fz f_sf[1]\n"
        "dump_modify     traj element Au B N sort id first yes\n"
        'print           "beamheat: stage nve_contact protocol=${protocol} t_start_ps=$(time:%.6g) '
        't_planned_ps=${t_nve_ps}"\n'
        f"beamheat: stage nve_contact protocol=in_contact t_start_ps=15 t_planned_ps={N_ROWS - 1}\n"
        f"run             {(N_ROWS - 1) * STEPS_PER_PS}\n" + nve +
        f"Loop time of 2.5 on 1 procs for {(N_ROWS - 1) * STEPS_PER_PS} steps with 10 atoms\n\n"
        'print           "beamheat: stage done"\nbeamheat: stage done\nTotal wall time: 0:00:03\n')
    path.write_text(text)


def write_dump(path, sigma: np.ndarray) -> None:
    out = []
    for f in range(N_FRAMES):
        out += ["ITEM: TIMESTEP", str(int(STEPS_PER_PS * (T_CONTACT_PS + DUMP_EVERY_PS * f))), "ITEM: NUMBER OF ATOMS",
                "10", "ITEM: BOX BOUNDS pp pp mm", "0 100", "0 100", "-10 50",
                "ITEM: ATOMS id type element x y z vx vy vz fx fy fz f_sf[1]"]
        for i in (3, 1, 10, 2, 7, 9, 4, 6, 5, 8):  # not in id order: the reader sorts
            x, y, z = POSITIONS[i]
            out.append(f"{i} {TYPES[i]} {ELEMENTS[TYPES[i]]} {x} {y} {z} 0 0 0 0.1 0 0 {sigma[f, i - 1]:.10g}")
    path.write_text("\n".join(out) + "\n")


def k_json(k=K, err=K_ERR, interval=None, reliable=True) -> dict:
    """The keys fit_k writes for several runs (analysis.k_results.CombinedResult), the runs trimmed."""
    interval = interval or [k - err, k + err]
    run_ = {"mode": "transient", "k_eV_per_nm2_ps_K": k, "cp_eV_per_K": CP, "C_support_eV_per_K": C_SUB,
            "reliable": True, "unreliable_reasons": []}
    return {"n_runs": 2, "n_runs_reliable": 2, "excluded_runs": [], "runs": [run_, run_],
            "k_eV_per_nm2_ps_K": k, "k_err_eV_per_nm2_ps_K": err, "k_interval_eV_per_nm2_ps_K": interval,
            "k_interval95_eV_per_nm2_ps_K": [k - 2 * err, k + 2 * err], "k_relative_uncertainty": err / k,
            "k_MW_per_m2_K": k * EV_PER_NM2_PS_K_TO_MW_PER_M2_K, "k_method": "energy_balance",
            "reliable": reliable, "unreliable_reasons": [], "A_nm2": GEOMETRY["A_nm2"], "n_atoms_np": 5}


@pytest.fixture
def outdir(tmp_path):
    d = tmp_path / "job"
    d.mkdir()
    (d / "geometry.json").write_text(json.dumps(GEOMETRY))
    for i in (1, 2):
        (d / f"heat_transfer_{i}").mkdir()
        write_log(d / f"heat_transfer_{i}" / "log.lammps", halt=i == 2)
        write_dump(d / f"heat_transfer_{i}" / "heat_transfer.dump", sigma_of(i))
    (d / "k.json").write_text(json.dumps(k_json()))
    for kev, lam in ((300, 105.9), (80, 37.0)):
        assert heating.main(["predict", "--geometry", str(d / "geometry.json"), "--k", str(K), "--k-err", str(K_ERR),
                             "--lambda-nm", str(lam), "--mean-loss-ev", "43.6", "--dose-rate", "1e2", "1e4", "1e6",
                             "--json", str(d / f"heating_{kev}keV.json")]) == 0
    return d


def test_sigma_stats_known_values():
    s = sigma_of(1)
    mask = np.isin(np.arange(1, 11), INTERFACE)
    st = sigma_stats(s, mask)
    f = np.arange(1, N_FRAMES + 1)
    np.testing.assert_allclose(st["all"], 0.055 * f)
    np.testing.assert_allclose(st["interface"], 0.04 * f)   # ids 1, 2, 6, 7
    np.testing.assert_allclose(st["worst10"], 0.10 * f)     # the top decile of 10 atoms: id 10
    np.testing.assert_allclose(st["max"], 0.10 * f)
    np.testing.assert_allclose(worst_mean(np.arange(20.0)[None]), [18.5])  # 20 atoms: the top 2
    assert np.isnan(sigma_stats(s, np.zeros(10, bool))["interface"]).all()


def test_interface_mask_is_cross_body_within_5_A():
    pos = np.array([POSITIONS[i] for i in range(1, 11)], float)
    is_np = np.arange(1, 11) <= 5
    m = interface_mask(pos, is_np, cell=np.diag([100, 100, 60]), pbc=(True, True, False))
    assert sorted(np.nonzero(m)[0] + 1) == INTERFACE


def test_report_numbers_text_and_figures(outdir, capsys):
    assert run(main, [str(outdir)]) == 0
    rep = json.loads((outdir / "report.json").read_text())
    k = json.loads((outdir / "k.json").read_text())
    assert rep["k"]["k_eV_per_nm2_ps_K"] == k["k_eV_per_nm2_ps_K"]
    assert rep["k"]["k_err_eV_per_nm2_ps_K"] == k["k_err_eV_per_nm2_ps_K"]
    assert rep["k"]["k_interval_eV_per_nm2_ps_K"] == k["k_interval_eV_per_nm2_ps_K"]
    assert rep["k"]["k_MW_per_m2_K"] == pytest.approx(K * EV_PER_NM2_PS_K_TO_MW_PER_M2_K)
    assert rep["heat_capacity"]["cp_eV_per_K"] == CP and rep["heat_capacity"]["C_support_eV_per_K"] == C_SUB
    for kev in (300, 80):
        h = json.loads((outdir / f"heating_{kev}keV.json").read_text())
        (mine,) = [x for x in rep["heating"] if x["beam_keV"] == kev]
        assert mine["dT_K"] == h["dT_K"] and mine["dT_interval_K"] == h["dT_interval_K"]
        assert mine["lambda_nm"] == h["inputs"]["lambda_nm"] and mine["E_eV"] == h["inputs"]["E"]
    # the logs: ΔT(t) = 300 exp(-t/50) from contact, 39 ps of NVE; run 2 halted
    assert rep["n_runs"] == 2 and rep["t_nve_ps"] == [39.0, 39.0]
    assert [r["dT0_K"] for r in rep["runs"]] == [DT0_K, DT0_K]
    assert [r["halted"] for r in rep["runs"]] == [False, True]
    assert rep["runs"][1]["halt_messages"] == [
        "Fix halt condition for fix-id nequip_halt_sigma met on step 12000 with value 0.61"]
    assert rep["runs"][0]["log_sigma_f_max_eV_per_A"] == 0.3
    # eq. 6: 1/tau = k A (1/(N_np c_p) + 1/C_sub)
    tau = 1 / (K * GEOMETRY["A_nm2"] * (1 / (5 * CP) + 1 / C_SUB))
    assert rep["model"]["tau_ps"] == pytest.approx(tau) and rep["model"]["dT0_K"] == DT0_K
    # σF: frames (1, 2, 3) x run factor (1, 2): mean over the six frames of 0.01 * mean id (5.5) etc.
    sig = rep["sigma_f"]
    assert sig["available"] and all(r["n_interface_atoms"] == 4 for r in sig["runs"])
    assert sig["mean_all_eV_per_A"] == pytest.approx(0.055 * 3)
    assert sig["mean_interface_eV_per_A"] == pytest.approx(0.04 * 3)
    assert sig["mean_worst10_eV_per_A"] == pytest.approx(0.10 * 3)
    assert sig["max_eV_per_A"] == pytest.approx(0.10 * 3 * 2)
    assert sig["runs"][0]["mean_all_eV_per_A"] == pytest.approx(0.055 * 2)
    md = (outdir / "report.md").read_text()
    assert "k = 5e-05 ± 1e-05 eV/(nm² ps K)" in md
    assert f"{K * EV_PER_NM2_PS_K_TO_MW_PER_M2_K:.3g} ±" in md and "MW/(m² K)" in md
    assert "halted by fix halt" in md and "heat_transfer_2" in md
    assert "λ = 105.9 nm" in md and "⟨E⟩ = 43.6 eV" in md
    for fig in ("dT_t", "sigma_f_t", "dT_dose"):
        path = outdir / "figures" / f"{fig}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
        assert f"(figures/{fig}.png)" in md


def test_unreliable_k_is_warned_at_the_top(outdir):
    (outdir / "k.json").write_text(json.dumps(k_json(interval=[1e-5, 7e-5])))  # 6e-5 wide, k = 5e-5
    rep = make_report(outdir)
    assert not rep["reliable"] and not rep["k"]["reliable"]
    first = (outdir / "report.md").read_text().splitlines()[0]
    assert first.startswith("> **WARNING: k is NOT reliable") and "wider than k" in first


def test_existing_report_is_not_overwritten_without_force(outdir, capsys):
    assert run(main, [str(outdir)]) == 0
    (outdir / "report.md").write_text("mine\n")
    capsys.readouterr()
    assert run(main, [str(outdir)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "report.md" in err and "--force" in err
    assert (outdir / "report.md").read_text() == "mine\n"
    assert run(main, [str(outdir), "--force"]) == 0
    assert (outdir / "report.md").read_text() != "mine\n"


def test_missing_k_json_is_one_line_naming_it(outdir, capsys):
    (outdir / "k.json").unlink()
    assert run(main, [str(outdir)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "k.json" in err and "Traceback" not in err
    assert not (outdir / "report.md").exists() and not (outdir / "report.json").exists()


def test_interface_fraction_rounding():
    np.testing.assert_allclose(worst_mean(np.arange(1.0, 11.0)[None, :]), [10.0])  # 10 % of 10 atoms: one atom
    # 0.14 * 50 is 7.000000000000001 in floating point: 14 % of 50 atoms is 7 atoms (47 on average), not 8
    np.testing.assert_allclose(worst_mean(np.arange(1.0, 51.0)[None, :], fraction=0.14), [47.0])
    np.testing.assert_allclose(worst_mean(np.array([[1.0, 2.0, 3.0]])), [3.0])  # fewer than 10 atoms: the worst one


def test_no_eq6_curve_from_a_nonpositive_heat_capacity_or_k(outdir):
    """A particle whose energy did not rise with its temperature (c_p <= 0), or k <= 0, gives no tau: the report
    says why instead of printing a negative relaxation time."""
    kj = k_json()
    for r in kj["runs"]:
        r["cp_eV_per_K"] = -1.2e-8
    (outdir / "k.json").write_text(json.dumps(kj))
    rep = make_report(outdir)
    assert rep["model"]["tau_ps"] is None and "heat capacity" in rep["model"]["no_curve_because"]
    text = (outdir / "report.md").read_text()
    assert "no eq. 6 curve: the particle's heat capacity" in text and "τ = -" not in text
    (outdir / "k.json").write_text(json.dumps(k_json(k=-1e-6, err=2e-6)))
    rep = make_report(outdir, force=True)
    assert rep["model"]["tau_ps"] is None and "is not positive" in rep["model"]["no_curve_because"]


def test_runs_fit_k_left_out_are_named_in_the_warning(outdir):
    kj = k_json()
    kj.update(reliable=False, unreliable_reasons=["no run gave a usable k"], k_eV_per_nm2_ps_K=None,
              excluded_runs=[{"log": str(outdir / "heat_transfer_1" / "log.lammps"),
                              "reasons": ["lost contact: the particle-support centre-of-mass distance grew"]}])
    (outdir / "k.json").write_text(json.dumps(kj))
    rep = make_report(outdir)
    assert not rep["reliable"]
    first = (outdir / "report.md").read_text().splitlines()[0]
    assert "left out heat_transfer_1: lost contact" in first


def test_a_run_left_out_of_k_is_marked_in_the_runs_table_and_kept_out_of_the_mean(outdir):
    kj = k_json()
    kj.update(n_runs_reliable=1, excluded_runs=[{"log": str(outdir / "heat_transfer_2" / "log.lammps"),
                                                 "reasons": ["lost contact: the distance grew from 6.1 to 25.4 Å"]}])
    (outdir / "k.json").write_text(json.dumps(kj))
    rep = make_report(outdir)
    by_dir = {r["dir"]: r for r in rep["runs"]}
    assert by_dir["heat_transfer_1"]["left_out_of_k"] is None
    assert by_dir["heat_transfer_2"]["left_out_of_k"].startswith("lost contact")
    rows = [ln for ln in (outdir / "report.md").read_text().splitlines() if ln.startswith("| heat_transfer_")]
    assert rows[0].endswith("| yes |") and "| NO: lost contact: the distance grew" in rows[1]


def test_k_is_given_in_the_authors_area_convention_and_beside_the_paper(outdir):
    geo = dict(GEOMETRY, A_hull_nm2=0.49)  # the undilated hull of the bottom layer: half the package's A
    (outdir / "geometry.json").write_text(json.dumps(geo))
    rep = make_report(outdir)
    k = rep["k"]
    assert k["k_hull_eV_per_nm2_ps_K"] == pytest.approx(K * 0.98 / 0.49, rel=1e-12)
    assert k["k_hull_interval_eV_per_nm2_ps_K"] == pytest.approx([(K - K_ERR) * 2, (K + K_ERR) * 2], rel=1e-12)
    assert k["paper_k_eV_per_nm2_ps_K"] == pytest.approx(3.7e-4)
    text = (outdir / "report.md").read_text()
    assert "In the paper's area convention" in text and "k = 0.0001 eV/(nm² ps K)" in text
    assert "The paper (Table 3, DFT-trained NequIP) on hbn: k = 0.00037" in text


def test_supports_compared_when_the_job_has_a_comparison(outdir):
    """`analysis.heating compare --out OUTDIR/supports` beside the job: report.md gets a table of the supports (k,
    ΔT, ΔT over the first support's, and that ratio from the paper's k)."""
    other = outdir / "k_anatase.json"
    other.write_text(json.dumps(k_json(k=2 * K)))
    assert heating.main(["compare", "--k-json", f"hbn={outdir / 'k.json'}", f"anatase101={other}",
                         "--geometry", str(outdir / "geometry.json"), "--out", str(outdir / "supports")]) == 0
    rep = make_report(outdir)
    assert [x["support"] for x in rep["supports"]["supports"]] == ["hbn", "anatase101"]
    text = (outdir / "report.md").read_text()
    assert "## Supports compared (Fig. 3/4)" in text and "![supports](supports.png)" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("| anatase101 |"))
    assert row.endswith("| 0.5 | 0.725 |"), row   # ΔT half the hBN one (k twice); the paper's k give 3.7/5.1
    (outdir / "supports.json").write_text("{}")
    with pytest.raises(UserError, match="supports.json: no supports listed"):
        make_report(outdir, force=True)
