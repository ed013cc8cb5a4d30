"""Ensembles (paper eq. 1-2): M models on one graph in LAMMPS, models.rerun in Python, models.select."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read, write

from beamheat.cli import run
from beamheat.lammps_run import single_point
from beamheat.lammps_log import read_thermo
from beamheat.markers import HALT_RE, HALT_TEXT
from helpers import error_line, rattled, run_lmp, run_lmp_file
from models.rerun import main as rerun_main
from models.select import main as select_main


def au_data(tmp_path, atoms=None):
    atoms = atoms if atoms is not None else rattled(bulk("Au", "fcc", a=4.08, cubic=True).repeat((3, 3, 3)), 0.05)
    write(tmp_path / "au.data", atoms, format="lammps-data", specorder=["Au"], masses=True, atom_style="atomic")
    return tmp_path / "au.data"


def test_ensemble_mean_equals_mean_of_single_models(ensemble_models):
    atoms = rattled(bulk("Cu", "fcc", a=3.7).repeat((3, 3, 3)), 0.08)
    atoms.symbols[::4] = "Au"
    singles = [single_point(atoms, "nequip", f"* * {m} Au Cu", ["Au", "Cu"]) for m in ensemble_models]
    files = " ".join(map(str, ensemble_models))
    mean = single_point(atoms, "nequip", f"* * {files} Au Cu", ["Au", "Cu"])
    first = single_point(atoms, "nequip ensemble first", f"* * {files} Au Cu", ["Au", "Cu"])
    for key in ("forces_eV_per_A", "stress_eV_per_A3", "energies_eV"):
        np.testing.assert_allclose(mean[key], np.mean([s[key] for s in singles], axis=0), atol=1e-10)
        np.testing.assert_allclose(first[key], singles[0][key], atol=1e-12)
    assert mean["energy_eV"] == pytest.approx(np.mean([s["energy_eV"] for s in singles]), abs=1e-10)


def test_lammps_sigma_f_equals_rerun(tmp_path, ensemble_models):
    """Per-atom sigma_F from fix pair in an MD run equals models.rerun on the dumped frames (<= 1e-6 eV/A)."""
    au_data(tmp_path)
    files = " ".join(map(str, ensemble_models))
    proc = run_lmp(f"""units metal
atom_style atomic
read_data au.data
pair_style nequip
pair_coeff * * {files} Au
fix sf all pair 10 nequip sigma_f 0 fmean 0
compute sig all pair nequip
dump d all custom 10 md.dump id type element x y z f_sf[1] f_sf[2]
dump_modify d element Au sort id format float %20.15g
velocity all create 700 5 mom yes rot yes
fix nve all nve
timestep 0.002
thermo_style custom step temp pe c_sig[1] c_sig[2] c_sig[3] c_sig[4]
thermo_modify format float %.12g
thermo 10
run 60
""", tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "ensemble of 3 models on one graph; dynamics from the ensemble mean" in proc.stdout
    assert run(rerun_main, [str(tmp_path / "md.dump"), *map(str, ensemble_models), "--out", str(tmp_path / "rr"),
                            "--no-plot"]) == 0
    rr = np.load(tmp_path / "rr.npz", allow_pickle=True)
    frames = (tmp_path / "md.dump").read_text().split("ITEM: TIMESTEP")[1:]
    lmp = np.array([[[float(v) for v in line.split()[-2:]] for line in fr.strip().splitlines()[8:]] for fr in frames])
    assert rr["sigma_f"].shape == (7, 108) and rr["sigma_f"][1:].max() > 1e-3
    np.testing.assert_allclose(lmp[:, :, 0], rr["sigma_f"], atol=1e-6)
    np.testing.assert_allclose(lmp[:, :, 1], np.linalg.norm(rr["mean_forces"], axis=2), atol=1e-6)
    # thermo: max and mean sigma_F, max |F|, M
    cols = ["Step", "Temp", "PotEng", "c_sig[1]", "c_sig[2]", "c_sig[3]", "c_sig[4]"]
    th = read_thermo(tmp_path / "log.test", cols)
    last = [float(th[c][-1]) for c in cols]
    assert last[0] == 60 and last[6] == 3
    assert last[3] == pytest.approx(rr["sigma_f"][-1].max(), abs=1e-6)
    assert last[4] == pytest.approx(rr["sigma_f"][-1].mean(), abs=1e-6)


def _md_first(tmp_path, files, sigma_every, name):
    """60 NVE steps driven by the first member; thermo and per-atom sigma_F every 10 steps."""
    (tmp_path / f"in.{name}").write_text(f"""units metal
atom_style atomic
read_data au.data
pair_style nequip ensemble first sigma_every {sigma_every}
pair_coeff * * {files} Au
fix sf all pair 10 nequip sigma_f 0 fmean 0
compute sig all pair nequip
dump d all custom 10 {name}.dump id x y z f_sf[1] f_sf[2]
dump_modify d sort id format float %20.15g
velocity all create 700 5 mom yes rot yes
fix nve all nve
timestep 0.002
thermo_style custom step pe etotal c_sig[1] c_sig[2] c_sig[3]
thermo_modify format float %.14g
thermo 10
run 60
""")
    proc = run_lmp_file(tmp_path / f"in.{name}", tmp_path, {}, log=f"log.{name}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    cols = ["Step", "PotEng", "TotEng", "c_sig[1]", "c_sig[2]", "c_sig[3]"]
    th = read_thermo(tmp_path / f"log.{name}", cols)
    return proc.stdout, np.array([[float(v) for v in th[c]] for c in cols]), (tmp_path / f"{name}.dump").read_text()


def test_sigma_every_is_exact_on_its_steps_and_cheaper(tmp_path, ensemble_models):
    """ensemble first + sigma_every 10: the trajectory is the first member's (as with every member every step), and
    sigma_F on every 10th step is eq. 2 of all members there, the same numbers as computing it at every step."""
    au_data(tmp_path)
    files = " ".join(map(str, ensemble_models))
    out1, th1, dump1 = _md_first(tmp_path, files, 1, "every1")
    out10, th10, dump10 = _md_first(tmp_path, files, 10, "every10")
    assert "sigma_F from all 3 models every 10 steps" in out10 and "1.20 model calls per step" in out10
    assert th1.shape[1] == 7 and th1[3, 1:].max() > 1e-3
    # the same numbers: bitwise on the CPU; GPU reductions are not bitwise reproducible (seen on an H100: the 15th
    # digit of a dump column), so to round-off
    np.testing.assert_allclose(th10, th1, rtol=1e-12, atol=1e-14)
    d1, d10 = (np.array([[float(x) for x in ln.split()] for ln in d.splitlines() if ln[:1] in " -0123456789"
                         and len(ln.split()) == 6]) for d in (dump1, dump10))
    assert d1.shape == d10.shape and d1.shape[0] >= 6
    np.testing.assert_allclose(d10, d1, rtol=1e-12, atol=1e-14)


def test_sigma_every_needs_ensemble_first(tmp_path, ensemble_models):
    au_data(tmp_path)
    files = " ".join(map(str, ensemble_models))
    proc = run_lmp(f"""units metal
atom_style atomic
read_data au.data
pair_style nequip sigma_every 10
pair_coeff * * {files} Au
""", tmp_path)
    assert proc.returncode != 0
    assert "sigma_every 10 needs 'ensemble first'" in proc.stdout


HALT_SCRIPT = """units metal
atom_style atomic
read_data au.data
pair_style nequip
pair_coeff * * {files} Au
fix sf all pair 1 nequip sigma_f 0 fmean 0
compute nq all reduce max f_sf[1] f_sf[2]
variable max_sigma equal c_nq[1]
variable max_f equal c_nq[2]
fix frames all nequip/frames {every} {keep} {file}
{halts}
fix fp all pair 1 nequip forces 0
dump f all custom 1 f.dump id fx fy fz f_fp[1] f_fp[2] f_fp[3]
dump_modify f sort id format float %.17g
velocity all create {T} 5
fix nve all nve
timestep 0.0005
run 50
print "AFTER step $(step)"
"""


def squeezed_au(tmp_path):
    atoms = bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 2, 2))
    atoms.positions[1] = atoms.positions[0] + [1.0, 0, 0]  # squeezed pair: ensemble-mean |F| about 14 eV/A
    au_data(tmp_path, atoms)
    return atoms


def last_dump_forces(path):
    """fx fy fz and fix pair's `forces` of the last frame of a `dump custom id fx fy fz f_fp[1] f_fp[2] f_fp[3]`
    sorted by id."""
    lines = path.read_text().splitlines()
    n = int(lines[3])
    rows = np.array([[float(v) for v in ln.split()[1:]] for ln in lines[-n:]])
    return rows[:, :3], rows[:, 3:]


def test_fix_halt_on_a_force_limit_writes_the_frames(tmp_path, ensemble_models):
    """fix halt on compute pair nequip's max |F| stops the run on its first step; fix nequip/frames writes the frames
    kept (the set-up's, step 0) and the one it stopped on, with species, positions, the forces the dynamics used
    and sigma_F."""
    atoms = squeezed_au(tmp_path)
    files = " ".join(map(str, ensemble_models))
    script = HALT_SCRIPT.format(files=files, every=1, keep=3, file="bad.extxyz", T=300,
                                halts="{halts}")
    # no limit reached: the run ends normally and nothing is written
    proc = run_lmp(script.format(halts="fix h all halt 1 v_max_f > 100 error continue"), tmp_path)
    assert proc.returncode == 0 and "AFTER step 50" in proc.stdout and not (tmp_path / "bad.extxyz").exists()
    assert HALT_TEXT not in proc.stdout
    proc = run_lmp(script.format(halts="fix h all halt 1 v_max_f > 10 error continue"), tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    m = HALT_RE.search(proc.stdout)
    assert m and m.group(1) == "h" and m.group(2) == "1" and float(m.group(3)) > 10, proc.stdout[-2000:]
    assert "AFTER step 1" in proc.stdout and "wrote 2 frame(s) to bad.extxyz" in proc.stdout
    assert not (tmp_path / "bad.extxyz.part").exists()
    frames = read(tmp_path / "bad.extxyz", index=":")
    assert [fr.info["step"] for fr in frames] == [0, 1]
    assert frames[0].info["halt_reason"] == "before halt"
    assert frames[-1].info["halt_reason"].startswith("halted at step 1: max |F| = ")
    f = frames[-1].arrays["forces_ensemble_mean"]
    assert np.linalg.norm(f, axis=1).max() == pytest.approx(float(m.group(3)), rel=1e-6)
    assert frames[-1].get_chemical_symbols() == ["Au"] * len(atoms)
    np.testing.assert_allclose(frames[0].positions, atoms.positions, atol=1e-6)
    # the forces are the ones the dynamics used at that step (pair_style nequip alone: LAMMPS's forces), which
    # fix pair also gets from the style as `forces`
    f_lammps, f_pair = last_dump_forces(tmp_path / "f.dump")
    np.testing.assert_allclose(f, f_lammps, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(f_pair, f_lammps)
    assert frames[-1].arrays["sigma_f"].max() == pytest.approx(frames[-1].info["max_sigma_f"], rel=1e-7)


def test_fix_halt_on_sigma_f_during_md(tmp_path, ensemble_models):
    """A sigma_F limit during MD: the frames kept, oldest first, one every N steps, the halt frame last."""
    au_data(tmp_path)
    files = " ".join(map(str, ensemble_models))
    proc = run_lmp(HALT_SCRIPT.format(files=files, every=2, keep=3, file="sig.extxyz", T=900,
                                      halts="fix hs all halt 1 v_max_sigma > 0.02 error continue"), tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    m = HALT_RE.search(proc.stdout)
    assert m and m.group(1) == "hs", proc.stdout[-2000:]
    step, value = int(m.group(2)), float(m.group(3))
    frames = read(tmp_path / "sig.extxyz", index=":")
    steps = [fr.info["step"] for fr in frames]
    assert steps == sorted(steps) and 1 <= len(frames) <= 3 and steps[-1] == step
    assert all(s % 2 == 0 for s in steps[:-1]) and len(set(steps)) == len(steps)
    assert frames[-1].arrays["sigma_f"].max() == pytest.approx(value, rel=1e-7) and value > 0.02
    assert "max sigma_F" in frames[-1].info["halt_reason"]


def test_fix_halt_two_runs_in_one_input_both_halt(tmp_path, ensemble_models):
    """fix halt's error continue resets the time-out it forced after each run: a second `run` runs, and halts
    again, at its own first step; the halt file is rewritten."""
    squeezed_au(tmp_path)
    proc = run_lmp(f"""units metal
atom_style atomic
read_data au.data
pair_style nequip
pair_coeff * * {' '.join(map(str, ensemble_models))} Au
fix sf all pair 1 nequip sigma_f 0 fmean 0
compute nq all reduce max f_sf[2]
variable max_f equal c_nq
fix frames all nequip/frames 1 1 bad.extxyz
fix h all halt 1 v_max_f > 10 error continue
fix nve all nve
timestep 0.0005
run 20
print "FIRST ended at step $(step)"
run 20
print "SECOND ended at step $(step)"
""", tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert [int(m.group(2)) for m in HALT_RE.finditer(proc.stdout)] == [1, 2], proc.stdout[-3000:]
    assert "FIRST ended at step 1" in proc.stdout and "SECOND ended at step 2" in proc.stdout
    assert [fr.info["step"] for fr in read(tmp_path / "bad.extxyz", index=":")] == [2]


def test_fix_halt_during_minimisation_writes_the_frames(tmp_path, ensemble_models):
    """explore.in's relax path: fix halt stops a minimisation, and the frames are written as for MD."""
    squeezed_au(tmp_path)
    proc = run_lmp(f"""units metal
atom_style atomic
read_data au.data
pair_style nequip
pair_coeff * * {' '.join(map(str, ensemble_models))} Au
fix sf all pair 1 nequip sigma_f 0 fmean 0
compute nq all reduce max f_sf[2]
variable max_f equal c_nq
fix frames all nequip/frames 1 3 min.extxyz
fix h all halt 1 v_max_f > 1 error continue
minimize 0 1e-3 100 1000
print "MIN ended at step $(step)"
""", tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    m = HALT_RE.search(proc.stdout)
    assert m and "MIN ended at step " + m.group(2) in proc.stdout, proc.stdout[-2000:]
    frames = read(tmp_path / "min.extxyz", index=":")
    assert frames[0].info["step"] == 0 and frames[-1].info["step"] == int(m.group(2))
    assert frames[-1].info["halt_reason"].startswith(f"halted at step {m.group(2)}: max |F| = ")


def test_fix_nequip_frames_must_precede_fix_halt(tmp_path, ensemble_models):
    au_data(tmp_path)
    proc = run_lmp(f"""units metal
atom_style atomic
read_data au.data
pair_style nequip
pair_coeff * * {' '.join(map(str, ensemble_models))} Au
fix sf all pair 1 nequip sigma_f 0 fmean 0
compute nq all reduce max f_sf[2]
variable max_f equal c_nq
fix h all halt 1 v_max_f > 10 error continue
fix frames all nequip/frames 1 3 bad.extxyz
run 1
""", tmp_path)
    assert proc.returncode != 0
    assert "fix nequip/frames frames must be defined before fix halt h" in error_line(proc)


def test_identical_members_warn(tmp_path, model_ts, capsys):
    from models.ensemble import Ensemble

    Ensemble([model_ts, model_ts])
    assert "are the same model" in capsys.readouterr().err
    au_data(tmp_path)
    proc = run_lmp(f"""units metal
atom_style atomic
read_data au.data
pair_style nequip
pair_coeff * * {model_ts} {model_ts} Au
run 0
""", tmp_path)
    assert proc.returncode == 0 and "are the same model" in proc.stdout, proc.stdout[-2000:]
    # the first line the style writes, so that no reader of the log misses it
    first = next(ln for ln in proc.stdout.splitlines() if "pair nequip" in ln)
    assert first.startswith("WARNING") and "are the same model" in first, proc.stdout[:2000]


def test_units_other_than_metal_are_refused(tmp_path, model_ts):
    au_data(tmp_path)
    proc = run_lmp(f"""units real
atom_style atomic
read_data au.data
pair_style nequip
pair_coeff * * {model_ts} Au
run 0
""", tmp_path)
    errors = [ln for ln in proc.stdout.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode != 0 and len(errors) == 1 and "units real are not supported" in errors[0], proc.stdout[-2000:]


def test_ensemble_must_share_types_and_cutoffs(tmp_path, model_ts, model_pec):
    au_data(tmp_path)
    proc = run_lmp(f"units metal\natom_style atomic\nread_data au.data\npair_style nequip\n"
                   f"pair_coeff * * {model_ts} {model_pec} Au\n", tmp_path)
    err = [ln for ln in proc.stdout.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode > 0 and err and "must share them" in err[0]


def test_rerun_with_reference_forces_and_interface(tmp_path, ensemble_models, dataset):
    """EMT-labelled frames carry reference forces: dF (eq. 1), its RMSE, Fig. 1 and Fig. 2 figures."""
    frames = read(dataset, index="0::3")  # Au clusters on CuPd slabs
    write(tmp_path / "labelled.extxyz", frames)
    assert run(rerun_main, [str(tmp_path / "labelled.extxyz"), *map(str, ensemble_models),
                            "--out", str(tmp_path / "rr")]) == 0
    s = json.loads((tmp_path / "rr.json").read_text())
    assert s["n_frames"] == len(frames) and s["force_error_rmse_eV_per_A"] > 0
    assert s["interface_mean_sigma_f_eV_per_A"] is not None
    for name in ("rr_sigma_time.png", "rr_error_vs_sigma.png", "rr_error_vs_sigma.pdf"):
        assert (tmp_path / name).stat().st_size > 10_000
    out = read(tmp_path / "rr.extxyz", index=":")
    assert "delta_f" in out[0].arrays and out[0].info["source"].endswith("labelled.extxyz")


def test_select_cli_writes_labelable_frames(tmp_path, ensemble_models, dataset):
    frames = read(dataset, index="0:12")
    write(tmp_path / "traj.extxyz", frames)
    assert run(rerun_main, [str(tmp_path / "traj.extxyz"), *map(str, ensemble_models), "--out",
                            str(tmp_path / "rr"), "--no-plot"]) == 0
    sig = np.array([f.arrays["sigma_f"].max() for f in read(tmp_path / "rr.extxyz", index=":")])
    lo, hi = np.quantile(sig, 0.25), np.quantile(sig, 0.9)
    assert run(select_main, [str(tmp_path / "rr.extxyz"), "--lo", str(lo), "--hi", str(hi), "--cap", "4",
                             "--generation", "2", "--out", str(tmp_path / "cand.extxyz")]) == 0
    cand = read(tmp_path / "cand.extxyz", index=":")
    assert 1 <= len(cand) <= 4
    for c in cand:
        assert lo <= c.info["max_sigma_f"] < hi and c.info["generation"] == 2 and c.info["reason"] == "trust window"
        assert c.calc is None or "forces" not in c.calc.results  # unlabelled: ready for DFT
    assert [c.info["max_sigma_f"] for c in cand] == sorted((c.info["max_sigma_f"] for c in cand), reverse=True)


def test_cli_errors(tmp_path, capsys, model_ts):
    assert run(rerun_main, [str(tmp_path / "none.dump"), str(model_ts), str(model_ts)]) == 1
    assert "none.dump: trajectory not found" in capsys.readouterr().err
    assert run(rerun_main, [str(tmp_path / "none.dump"), str(tmp_path / "m.nequip.pth"), str(model_ts)]) == 1
    assert "m.nequip.pth: model file not found" in capsys.readouterr().err
    assert run(rerun_main, [str(tmp_path / "none.dump"), str(model_ts)]) == 1
    assert "one model gives no sigma_F" in capsys.readouterr().err
    (tmp_path / "plain.extxyz").write_text("1\nPBC=\"F F F\"\nAu 0 0 0\n")
    assert run(select_main, [str(tmp_path / "plain.extxyz"), "--lo", "0.1", "--hi", "1", "--out",
                             str(tmp_path / "c.extxyz")]) == 1
    assert "lack a per-atom sigma_f array" in capsys.readouterr().err
