"""bench/adhesion_curve.py: the particle-support binding curve of a student against the classical teacher."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import ROOT

SCRIPT = ROOT / "bench" / "adhesion_curve.py"


def _run(args, tmp_path):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)


def test_teacher_well_and_student_curve_with_a_verdict(tmp_path, model_au_hbn):
    res = tmp_path / "adh"
    p = _run(["--model", model_au_hbn, "--gaps-A", "3.2", "5.0", "7.0", "--results", res], tmp_path)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    r = json.loads(res.with_suffix(".json").read_text())
    t = r["teacher"]["curve_eV"]
    # the teacher's UFF Lennard-Jones well on Au45/hBN: about -0.62 eV in contact, a long tail beyond r_max
    assert -0.7 < t[0] < -0.55 and t[0] < t[1] < t[2] < 0
    assert r["teacher"]["well"] == {"depth_eV": t[0], "gap_A": 3.2}
    s = r["student"]
    assert len(s["curves_eV"]) == 1 and len(s["curves_eV"][0]) == 3
    # a NequIP model with r_max 4 Å sees nothing of the particle at 5 Å from the support
    assert abs(s["curves_eV"][0][1]) < 1e-6 and abs(s["curves_eV"][0][2]) < 1e-6
    assert r["verdict"] in ("agree", "disagree")
    assert r["verdict"] == ("agree" if abs(r["depth_ratio"] - 1) <= 0.2 else "disagree")
    assert "Verdict" in res.with_suffix(".md").read_text()
    # never overwritten without --force
    before = res.with_suffix(".json").read_text()
    p = _run(["--model", model_au_hbn, "--gaps-A", "3.2", "5.0", "--results", res], tmp_path)
    assert p.returncode != 0 and "exists" in p.stderr and "--force" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and res.with_suffix(".json").read_text() == before


def test_baseline_adds_to_the_network_and_is_the_teachers_adhesion(tmp_path, model_au_hbn):
    """A student on a baseline is the network plus the baseline (hybrid/overlay adds); the bundled baseline is the
    teacher's Au-B/N Lennard-Jones, and a rigid scan changes nothing else of the teacher, so alone it gives the
    teacher's binding curve exactly."""
    gaps = ["3.0", "3.6", "5.5"]
    base = ROOT / "lammps_inputs" / "potentials" / "baseline_lj_au_hbn.in"
    runs = {}
    for name, extra in (("net", ["--baseline", "none"]), ("over", ["--baseline", base])):
        p = _run(["--model", model_au_hbn, "--gaps-A", *gaps, "--results", tmp_path / name, *extra], tmp_path)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    net, over = runs["net"]["student"], runs["over"]["student"]
    assert net["baseline"] is None and over["baseline"] == str(base)
    b = over["baseline_curve_eV"]
    for k in range(len(gaps)):
        assert abs(over["curves_eV"][0][k] - (net["curves_eV"][0][k] + b[k])) < 1e-8
        assert abs(b[k] - runs["over"]["teacher"]["curve_eV"][k]) < 1e-8
    assert "baseline alone" in (tmp_path / "over.md").read_text()
    # the teacher's own file is not an overlay template: one line, naming it
    p = _run(["--model", model_au_hbn, "--baseline", ROOT / "lammps_inputs" / "potentials" / "classical_au_hbn.in",
              "--results", tmp_path / "bad"], tmp_path)
    err = p.stderr.strip().splitlines()
    assert p.returncode != 0 and len(err) == 1 and "classical_au_hbn.in: not a baseline file" in err[0], p.stderr


def test_bad_inputs_give_one_line_errors(tmp_path, model_au_hbn):
    bad = tmp_path / "bad.data"
    bad.write_text("not a data file\n")
    for args, msg in ((["--model", tmp_path / "nope.pth"], "nope.pth"),
                      (["--system", bad, "--model", model_au_hbn], "bad.data"),
                      (["--model", model_au_hbn, "--gaps-A", "3.0"], "at least two gaps"),
                      (["--model", model_au_hbn, "--gaps-A", "-1", "3"], "at least two gaps")):
        p = _run([*args, "--results", tmp_path / "r"], tmp_path)
        assert p.returncode != 0, args
        err = p.stderr.strip().splitlines()
        assert len(err) == 1 and msg in err[0] and "Traceback" not in p.stderr, (args, p.stderr[-800:])
