"""Bad input, as a new user gives it, to every command line: each case must exit non-zero with exactly
one stderr line `error: ...`, no traceback, and leave the folder exactly as it was (no file changed, created or
left behind: hashed before and after). Most cases call the CLI's main in-process through beamheat.cli.run (what
`python -m` does); a few run real subprocesses (python -m, the `beamheat` console script)."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from beamheat.cli import run
from helpers import ROOT, one_line_error, tree_state

GEO = {"n_atoms_np": 500, "A_nm2": 2.0, "S_nm2": 4.0, "t_nm": 2.0, "V_nm3": 8.0, "support": "hbn", "label": "x"}
K = {"k_eV_per_nm2_ps_K": 5e-4, "k_err_eV_per_nm2_ps_K": 5e-5, "reliable": True}
EELS = {"lambda_np_nm": 100.0, "lambda_np_err_nm": 5.0, "mean_energy_loss_np_eV": 40.0,
        "mean_energy_loss_np_err_eV": 2.0, "reliable": True}
OK_PREDICT = ["predict", "--S-nm2", "4", "--A-nm2", "2", "--t-nm", "2", "--k", "5e-4", "--lambda-nm", "100",
              "--mean-loss-ev", "40"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One folder of inputs, good and bad, copied for every case."""
    from ase import Atoms
    from ase.io import write

    from synthetic_logs import Cooling, write_log

    d = tmp_path_factory.mktemp("inputs")
    write_log(d / "log.lammps", Cooling(n_sub=None))
    lines = (d / "log.lammps").read_text().splitlines()
    h = max(i for i, ln in enumerate(lines) if ln.strip().startswith("Step"))
    words = lines[h + 50].split()
    words[2] = "nan"
    lines[h + 50] = "  ".join(words)
    (d / "nan.log").write_text("\n".join(lines) + "\n")
    (d / "empty.txt").write_text("")
    (d / "garbage.bin").write_bytes(bytes(range(256)) * 8)
    (d / "truncated.json").write_text('{"n_atoms_np": 500, "A_nm2"')
    (d / "geometry_ok.json").write_text(json.dumps(GEO))
    (d / "k.json").write_text(json.dumps(K))
    (d / "e.json").write_text(json.dumps(EELS))
    (d / "list.json").write_text("[1, 2, 3]")
    (d / "existing.json").write_text('{"mine": "do not touch"}\n')
    (d / "existing.extxyz").write_text("my precious training set\n")
    (d / "existing.png").write_bytes(b"png")
    atoms = Atoms("Au2", positions=[[0, 0, 0], [0, 0, 2.6]])
    frames = []
    for s in (0.001, 0.002):
        a = atoms.copy()
        a.arrays["sigma_f"] = np.full(2, s)
        frames.append(a)
    write(d / "calm.extxyz", frames)  # every max sigma_F below any sensible window
    write(d / "plain.extxyz", atoms)
    from ase.build import bulk

    write(d / "au.data", bulk("Au", "fcc", a=4.08, cubic=True), format="lammps-data", masses=True,
          atom_style="atomic")  # Au by its mass
    (d / "cand.xyz").write_text("2\n\nAu 0 0 0\nAu 0 0 2.6\n")
    (d / "built").mkdir()
    (d / "built" / "system.data").write_text("earlier build\n")
    return d


# (module, argv); {d} is the case's folder (also the working directory)
CASES = [
    # ---- analysis.fit_k
    ("analysis.fit_k", ["{d}/nope.log", "--area", "1", "--natoms", "10"]),
    ("analysis.fit_k", ["{d}/empty.txt", "--area", "1", "--natoms", "10"]),
    ("analysis.fit_k", ["{d}/garbage.bin", "--area", "1", "--natoms", "10"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "-1", "--natoms", "10"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "nan", "--natoms", "10"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "0"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--bootstrap", "-1"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--stop-temp", "-5"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--cp", "abc"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--method", "bogus"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--json", "{d}/existing.json"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--json", "{d}/log.lammps"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--json", "{d}/nodir/k.json"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--json", "{d}/garbage.bin/k.json"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--geometry", "{d}/garbage.bin"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--geometry", "{d}/truncated.json"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--geometry", "{d}/list.json"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--geometry", "{d}/nope.json"]),
    ("analysis.fit_k", ["{d}/log.lammps"]),
    ("analysis.fit_k", ["{d}/nan.log", "--area", "1", "--natoms", "500", "--no-plot"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--steady", "--method", "exp_fit"]),
    ("analysis.fit_k", ["{d}/log.lammps", "--area", "1", "--natoms", "10", "--frobnicate"]),
    # ---- analysis.heating
    ("analysis.heating", []),
    ("analysis.heating", ["curves", "--volume-nm3=-14", "--out", "{d}/c"]),
    ("analysis.heating", ["curves", "--s-over-a", "0", "--out", "{d}/c"]),
    ("analysis.heating", ["curves", "--dose-min", "100", "--dose-max", "10", "--out", "{d}/c"]),
    ("analysis.heating", ["curves", "--k", "-1", "--out", "{d}/c"]),
    ("analysis.heating", ["curves", "--beam-kev", "0", "--out", "{d}/c"]),
    ("analysis.heating", ["curves", "--collection-mrad", "0", "--out", "{d}/c"]),
    ("analysis.heating", ["curves", "--out", "{d}/existing"]),
    ("analysis.heating", OK_PREDICT + ["--dose-rate", "-5"]),
    ("analysis.heating", OK_PREDICT + ["--k", "0"]),
    ("analysis.heating", OK_PREDICT + ["--lambda-nm", "inf"]),
    ("analysis.heating", OK_PREDICT + ["--mean-loss-err", "-1"]),
    ("analysis.heating", OK_PREDICT + ["--json", "{d}/existing.json"]),
    ("analysis.heating", ["predict", "--geometry", "{d}/geometry_ok.json", "--k-json", "{d}/garbage.bin",
                          "--eels-json", "{d}/e.json"]),
    ("analysis.heating", ["predict", "--geometry", "{d}/geometry_ok.json", "--k-json", "{d}/truncated.json",
                          "--eels-json", "{d}/e.json"]),
    ("analysis.heating", ["predict", "--geometry", "{d}/nope.json", "--k-json", "{d}/k.json",
                          "--eels-json", "{d}/e.json"]),
    ("analysis.heating", ["predict", "--geometry", "{d}/garbage.bin", "--k-json", "{d}/k.json",
                          "--eels-json", "{d}/e.json"]),
    ("analysis.heating", ["predict", "--geometry", "{d}/geometry_ok.json", "--k-json", "{d}/k.json",
                          "--eels-json", "{d}/e.json", "--json", "{d}/k.json"]),
    ("analysis.heating", ["predict"]),
    ("analysis.heating", ["knockon", "--element", "Xx", "--beam-kev", "300"]),
    ("analysis.heating", ["knockon", "--element", "Au", "--beam-kev", "0"]),
    # ---- analysis.eels
    ("analysis.eels", ["{d}/nope.hspy"]),
    ("analysis.eels", ["{d}/garbage.bin", "--no-plot"]),
    ("analysis.eels", ["{d}/empty.txt", "--no-plot"]),
    ("analysis.eels", ["{d}/garbage.bin", "--particle", "abc"]),
    ("analysis.eels", ["{d}/garbage.bin", "--zlp-range", "5:-5"]),
    ("analysis.eels", ["{d}/garbage.bin", "--upper-ev", "0"]),
    ("analysis.eels", ["{d}/garbage.bin", "--energy-scale-err", "-0.1"]),
    ("analysis.eels", ["{d}/garbage.bin", "--R-est-nm", "-3"]),
    ("analysis.eels", ["{d}/garbage.bin", "--json", "{d}/garbage.bin"]),
    ("analysis.eels", ["{d}/garbage.bin", "--particle", "2:9", "--no-particle"]),
    ("analysis.eels", ["lambda", "--density", "0", "--beam-kev", "300"]),
    ("analysis.eels", ["lambda", "--density", "19.3", "--beam-kev", "-300"]),
    ("analysis.eels", ["lambda", "--density", "19.3", "--beam-kev", "300", "--collection-mrad", "0"]),
    ("analysis.eels", ["lambda", "--density", "abc", "--beam-kev", "300"]),
    # ---- beamheat.build
    ("beamheat.build", ["--out", "/proc/beamheat/b"]),  # writable by permissions, not by the file system
    ("beamheat.build", ["--out", "{d}/b", "--element", "Xx"]),
    ("beamheat.build", ["--out", "{d}/b", "--element", "Fe"]),
    ("beamheat.build", ["--out", "{d}/b", "--gamma-ratio", "0"]),
    ("beamheat.build", ["--out", "{d}/b", "--support", "rutile110", "--o-vacancies", "1.5"]),
    ("beamheat.build", ["--out", "{d}/b", "--support", "rutile110", "--o-vacancies", "0.1", "--o-vacancy-faces",
                        "bottom"]),
    ("beamheat.build", ["--out", "{d}/b", "--gap-A", "0"]),
    ("beamheat.build", ["--out", "{d}/b", "--margin-A=-20"]),
    ("beamheat.build", ["--out", "{d}/b", "--diameter-nm", "1.6", "--margin-A", "0.5"]),
    ("beamheat.build", ["--out", "{d}/b", "--layers", "0"]),
    ("beamheat.build", ["--out", "{d}/b", "--support", "rutile110", "--layers", "2"]),
    ("beamheat.build", ["--out", "{d}/b", "--support", "graphite"]),
    ("beamheat.build", ["--out", "{d}/b", "--diameter-nm", "0"]),
    ("beamheat.build", ["--out", "{d}/b", "--seed", "-1", "--support", "rutile110", "--o-vacancies", "0.1"]),
    ("beamheat.build", ["--out", "{d}/built", "--diameter-nm", "1.6"]),
    ("beamheat.build", ["--out", "{d}/garbage.bin", "--diameter-nm", "1.6"]),
    ("beamheat.build", ["--out", "{d}/b", "--vacuum-A", "nan"]),
    ("beamheat.build", ["--out", "{d}/b", "--diameter-nm", "50"]),
    ("beamheat.build", ["--out", "{d}/b", "--height-ratio", "5"]),
    # ---- beamheat.geometry
    ("beamheat.geometry", ["{d}/nope.extxyz"]),
    ("beamheat.geometry", ["{d}/garbage.bin"]),
    ("beamheat.geometry", ["{d}/plain.extxyz", "--json", "{d}/existing.json"]),
    ("beamheat.geometry", ["{d}/plain.extxyz", "--np-types", "a,b"]),
    ("beamheat.geometry", ["{d}/plain.extxyz", "--element", "Xx"]),
    ("beamheat.geometry", ["{d}/au.data", "--element", "Cu"]),
    # ---- models.select
    ("models.select", ["{d}/nope.extxyz", "--lo", "0.05", "--hi", "0.5", "--out", "{d}/c.extxyz"]),
    ("models.select", ["{d}/calm.extxyz", "--lo", "0.05", "--hi", "0.5", "--out", "{d}/calm.extxyz"]),
    ("models.select", ["{d}/calm.extxyz", "--lo", "1", "--hi", "0.5", "--out", "{d}/c.extxyz"]),
    ("models.select", ["{d}/calm.extxyz", "--lo", "nan", "--hi", "0.5", "--out", "{d}/c.extxyz"]),
    ("models.select", ["{d}/calm.extxyz", "--lo", "0.05", "--hi", "0.5", "--out", "{d}/c.extxyz"]),
    ("models.select", ["{d}/calm.extxyz", "--lo", "0.0", "--hi", "0.5", "--top-k", "0", "--out", "{d}/c.extxyz"]),
    ("models.select", ["{d}/plain.extxyz", "--lo", "0.05", "--hi", "0.5", "--out", "{d}/c.extxyz"]),
    ("models.select", ["{d}/garbage.bin", "--lo", "0.05", "--hi", "0.5", "--out", "{d}/c.extxyz"]),
    ("models.select", ["{d}/calm.extxyz", "--lo", "0.0", "--hi", "0.5", "--out", "{d}/existing.extxyz"]),
    # ---- models.demo_data
    ("models.demo_data", ["{d}/f.extxyz", "--frames", "-5"]),
    ("models.demo_data", ["{d}/f.extxyz", "--frames", "0"]),
    ("models.demo_data", ["{d}/existing.extxyz", "--frames", "2"]),
    ("models.demo_data", ["{d}/f.extxyz", "--reference", "classical_au_hbn", "--potential", "{d}/nope.in"]),
    # ---- dft.label (settings are refused before GPAW starts)
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--width-ev=-0.05"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--kpts", "abc"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--kpts", "1,1"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--ecut-ev", "0"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--maxiter", "0"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--timeout-s", "0"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/garbage.bin"]),
    ("dft.label", ["{d}/nope.xyz", "--db", "{d}/l.db"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--export", "{d}/existing.extxyz"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--settings", "{d}/garbage.bin"]),
    ("dft.label", ["--db", "{d}/l.db"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--xc", "FOO"]),
    ("dft.label", ["{d}/cand.xyz", "--db", "{d}/l.db", "--mode", "fd"]),
    ("models.candidates", ["{d}/c.extxyz", "--support", "anatase101", "--md-frames", "3"]),
    ("models.candidates", ["{d}/c.extxyz", "--support", "hbn,anatase101"]),
    ("models.candidates", ["{d}/c.extxyz", "--support", "anatase101,rutile111"]),
    ("models.candidates", ["{d}/c.extxyz", "--support", "rutile101", "--thickness-A", "1"]),
    ("models.fit_interface", ["{d}/nope.extxyz", "--out", "{d}/fit"]),
    ("models.fit_interface", ["{d}/garbage.bin", "--out", "{d}/fit"]),
    ("models.fit_interface", ["{d}/plain.extxyz", "--out", "{d}/fit"]),  # no energies
    ("models.fit_interface", ["{d}/plain.extxyz", "--out", "{d}/fit", "--fit", "sigma"]),
    ("models.fit_interface", ["{d}/plain.extxyz", "--out", "{d}/fit", "--max-binding-eV", "nan"]),
    ("models.fit_interface", ["{d}/plain.extxyz", "--out", "{d}/fit", "--force-weight-A2", "-1"]),
    ("models.fit_interface", ["{d}/plain.extxyz", "--out", "{d}/fit", "--potential", "{d}/empty.txt"]),
    # ---- models.deploy / models.rerun (torch is imported, nothing is compiled)
    ("models.deploy", ["{d}/garbage.bin", "{d}/m.nequip.pth"]),
    ("models.deploy", ["{d}/garbage.bin", "{d}/m.nequip.pth", "--device", "cuda:7"]),
    ("models.deploy", ["{d}/empty.txt", "{d}/m.nequip.pth"]),
    ("models.rerun", ["{d}/plain.extxyz", "{d}/garbage.bin", "{d}/truncated.json", "--out", "{d}/rr"]),
    ("models.rerun", ["{d}/plain.extxyz", "{d}/plain.extxyz", "--out", "{d}/rr"]),  # one model: no sigma_F
    ("models.rerun", ["{d}/plain.extxyz", "{d}/nope.nequip.pth", "{d}/nope.nequip.pth", "--out", "{d}/rr"]),
    ("models.rerun", ["{d}/plain.extxyz", "{d}/garbage.bin", "{d}/truncated.json", "--interface-A", "0", "--out",
                      "{d}/rr"]),
    # ---- bench.dft_validation
    ("bench.dft_validation", ["--bundle", str(ROOT / "models" / "bundled" / "au_hbn"), "--types", ",",
                              "--results", "{d}/v"]),
]


def _case_id(case):
    mod, argv = case
    return f"{mod.split('.')[-1]}:{' '.join(a.replace('{d}/', '') for a in argv)[:60]}"


@pytest.mark.parametrize("module, argv", CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_is_one_line_and_touches_nothing(module, argv, template, tmp_path, monkeypatch, capsys):
    d = tmp_path / "case"
    shutil.copytree(template, d)
    monkeypatch.chdir(d)
    before = tree_state(d)
    main = importlib.import_module(module).main
    rc = run(main, [a.replace("{d}", str(d)) for a in argv])
    err = capsys.readouterr().err
    assert rc != 0, err
    one_line_error(err)
    assert tree_state(d) == before, "files changed or left behind"


@pytest.mark.parametrize("cmd", [
    [sys.executable, "-m", "analysis.fit_k", "{d}/log.lammps", "--area", "-1", "--natoms", "10"],
    [sys.executable, "-m", "beamheat.build", "--out", "{d}/b", "--gap-A", "0"],
    [sys.executable, "-m", "analysis.heating", "curves", "--volume-nm3=-14"],
    [str(Path(sys.executable).parent / "beamheat"), "fit-k", "{d}/nope.log", "--area", "1", "--natoms", "1"],
    [str(Path(sys.executable).parent / "beamheat"), "frobnicate"],
], ids=["fit_k", "build", "heating", "beamheat-fit-k", "beamheat-unknown"])
def test_bad_input_in_a_real_process(cmd, template, tmp_path):
    if not Path(cmd[0]).exists():
        pytest.skip("the beamheat console script is not installed (pip install .)")
    d = tmp_path / "case"
    shutil.copytree(template, d)
    before = tree_state(d)
    proc = subprocess.run([c.replace("{d}", str(d)) for c in cmd], cwd=d, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    one_line_error(proc.stderr)
    assert tree_state(d) == before


def test_data_loss_refused_but_force_overwrites(template, tmp_path, capsys):
    """--force is the one way to replace an existing output."""
    from analysis.heating import main

    d = tmp_path / "case"
    shutil.copytree(template, d)
    assert run(main, OK_PREDICT + ["--json", str(d / "existing.json")]) == 1
    assert json.loads((d / "existing.json").read_text()) == {"mine": "do not touch"}
    assert run(main, OK_PREDICT + ["--json", str(d / "existing.json"), "--force"]) == 0
    assert "dT_K" in json.loads((d / "existing.json").read_text())


def test_beamheat_console_script_runs_the_same_main(tmp_path):
    exe = Path(sys.executable).parent / "beamheat"
    if not exe.exists():
        pytest.skip("the beamheat console script is not installed (pip install .)")
    proc = subprocess.run([str(exe), "heating", "knockon", "--element", "Au", "--beam-kev", "300"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "E_max(Au, 300 keV)" in proc.stdout
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and all(c in proc.stdout for c in ("fit-k", "eels", "heating", "build", "geometry"))
