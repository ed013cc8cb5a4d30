"""Particle geometry (V, S, A, t) against closed forms, and the structure builder's outputs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from ase.lattice.cubic import FaceCenteredCubic

from beamheat.geometry import bulk_atomic_volume_A3, particle_geometry
from helpers import ROOT, run_build


def fcc_points(extent_A: float) -> np.ndarray:
    """Au lattice sites, (111) planes along z, covering a cube of the given half-extent around the origin."""
    a = 4.08
    n = int(2 * extent_A / a) + 4
    block = FaceCenteredCubic("Au", directions=[[1, -1, 0], [1, 1, -2], [1, 1, 1]], size=(n, n, n),
                              latticeconstant=a)
    pos = block.positions - block.positions.mean(axis=0)
    return pos - [0, 0, pos[np.argmin(np.abs(pos[:, 2])), 2]]  # a lattice plane at z = 0


@pytest.fixture(scope="module")
def lattice():
    return fcc_points(45.0)


D111 = 4.08 / np.sqrt(3)
# An atomistic particle's surface is defined to about half a layer (d/2 = 1.2 A): faceted crystals put it d/2
# beyond the facet atoms' centres (the convention used), a lattice cut out by a smooth surface puts the extreme
# centres almost on it. Projected and contact areas of radius-R shapes therefore agree to 2 (d/2) / R.


def area_tol(R):
    return 2 * (D111 / 2) / R


def test_flat_disk(lattice):
    """Disk of radius R, four (111) layers thick (h = 4 d), on its flat face: V = pi R^2 h, S = A = pi R^2, t = h.
    Lattice sites are taken whose cells lie in the region -d/2 <= z < h - d/2, |(x, y)| < R."""
    R, h = 30.0, 4 * D111
    z, rho = lattice[:, 2], np.hypot(lattice[:, 0], lattice[:, 1])
    p = lattice[(rho < R) & (z >= -D111 / 2) & (z < h - D111 / 2)]
    g = particle_geometry(p)
    assert g["height_nm"] * 10 == pytest.approx(h, rel=1e-3)
    assert g["V_nm3"] * 1000 == pytest.approx(np.pi * R**2 * h, rel=0.03)
    assert g["S_nm2"] * 100 == pytest.approx(np.pi * R**2, rel=area_tol(R))
    assert g["A_nm2"] * 100 == pytest.approx(np.pi * R**2, rel=area_tol(R))
    assert g["S_over_A"] == pytest.approx(1.0, abs=area_tol(R))
    assert g["t_nm"] * 10 == pytest.approx(h, rel=area_tol(R))


def test_hemisphere(lattice):
    """Hemisphere of radius R on its flat face, which lies half a layer below the first lattice plane:
    V = pi (2R^3/3 + R^2 d/2 - d^3/24) -> 2/3 pi R^3, S = A = pi R^2, t = V/S -> 2R/3."""
    R = 35.0
    p = lattice[(np.linalg.norm(lattice, axis=1) < R) & (lattice[:, 2] >= -D111 / 2)]
    g = particle_geometry(p)
    V = np.pi * (2 * R**3 / 3 + R**2 * D111 / 2 - D111**3 / 24)
    assert g["V_nm3"] * 1000 == pytest.approx(V, rel=0.03)
    assert g["S_nm2"] * 100 == pytest.approx(np.pi * R**2, rel=area_tol(R))
    assert g["A_nm2"] * 100 == pytest.approx(np.pi * R**2, rel=area_tol(R))
    assert g["t_nm"] * 10 == pytest.approx(V / (np.pi * R**2), rel=area_tol(R))


def test_sphere_cap_small_contact(lattice):
    """A sphere touching the support on a small cap: S = pi R^2 >> A, so S/A is large."""
    R = 30.0
    p = lattice[np.linalg.norm(lattice - [0, 0, R - 3.0], axis=1) < R]
    p = p[p[:, 2] >= -D111 / 2]
    g = particle_geometry(p)
    a_cap = np.pi * (R**2 - (R - 3.0) ** 2)  # contact circle where the plane z = 0 cuts the sphere
    assert g["S_nm2"] * 100 == pytest.approx(np.pi * R**2, rel=area_tol(R))
    assert g["S_over_A"] > 3
    assert g["A_nm2"] * 100 == pytest.approx(a_cap, rel=0.35)  # one atomic layer: coarse by nature


def test_atomic_volume_of_gold():
    assert bulk_atomic_volume_A3("Au") == pytest.approx(4.08**3 / 4, rel=1e-3)


@pytest.mark.parametrize("ratio", [0.3, 0.6, 0.95])
def test_builder_shapes_span_wetting(tmp_path, ratio):
    proc = run_build(tmp_path, "--support", "hbn", "--diameter-nm", 2.5, "--height-ratio", ratio)
    assert proc.returncode == 0, proc.stderr
    g = json.loads((tmp_path / "geometry.json").read_text())
    assert g["height_over_width"] == pytest.approx(ratio, rel=0.25)
    assert g["t_nm"] == pytest.approx(g["V_nm3"] / g["S_nm2"])
    for key in ("n_atoms_np", "n_atoms_support", "type_map", "groups", "V_nm3", "S_nm2", "A_nm2", "t_nm",
                "S_over_A", "support", "label"):
        assert key in g


def test_builder_s_over_a_range(tmp_path):
    values = []
    for ratio in (0.3, 0.95):
        assert run_build(tmp_path / str(ratio), "--diameter-nm", 2.5, "--height-ratio", ratio).returncode == 0
        values.append(json.loads((tmp_path / str(ratio) / "geometry.json").read_text())["S_over_A"])
    assert values[0] < 1.2 and values[1] > 3


def test_oxygen_vacancies_reproducible(tmp_path):
    for d in ("a", "b", "c"):
        seed = 1 if d != "c" else 2
        assert run_build(tmp_path / d, "--support", "rutile110", "--diameter-nm", 1.6, "--o-vacancies", 0.2,
                     "--seed", seed).returncode == 0
    a, b, c = ((tmp_path / d / "system.data").read_text() for d in "abc")
    assert a == b and a != c
    assert json.loads((tmp_path / "a" / "geometry.json").read_text())["o_vacancies_removed"] > 0


def test_builder_errors_are_one_line(tmp_path):
    proc = run_build(tmp_path, "--support", "graphite")
    assert proc.returncode == 1 and proc.stderr.strip().startswith("error: --support graphite: choose one of")
    proc = run_build(tmp_path, "--support", "hbn", "--o-vacancies", 0.1)
    assert proc.returncode == 1 and "TiO2 supports only" in proc.stderr


def test_builder_help_has_units():
    out = subprocess.run([sys.executable, "-m", "beamheat.build", "--help"], capture_output=True, text=True,
                         cwd=ROOT).stdout
    assert "nm" in out and "Å" in out and "--height-ratio" in out


@pytest.mark.parametrize("name", ["system.data", "system.extxyz"])
def test_geometry_cli_on_any_structure(tmp_path, name):
    """The same numbers from the data file and the extxyz the builder wrote, as in geometry.json."""
    assert run_build(tmp_path, "--diameter-nm", 1.6, "--margin-A", 5).returncode == 0
    g = json.loads((tmp_path / "geometry.json").read_text())
    proc = subprocess.run([sys.executable, "-m", "beamheat.geometry", str(tmp_path / name), "--json",
                           str(tmp_path / "g.json")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    g2 = json.loads((tmp_path / "g.json").read_text())
    for key in ("n_atoms_np", "V_nm3", "S_nm2", "A_nm2", "t_nm", "S_over_A"):
        assert g2[key] == pytest.approx(g[key], rel=1e-6)
