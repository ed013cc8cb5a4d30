"""TiO2 supports as beamheat.build cuts them (clean, stoichiometric faces; O vacancies on the faces asked for) and
the classical Au/TiO2 reference's parameters against their published forms and the committed DFT fit."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from beamheat.build import remove_surface_oxygens, support
from helpers import ROOT

POTENTIAL = ROOT / "lammps_inputs" / "potentials" / "classical_au_tio2.in"


def ti_o_neighbours(slab):
    a = slab.copy()
    a.pbc = (True, True, False)
    i, j, d = neighbor_list("ijd", a, 2.4)
    sym = np.array(a.get_chemical_symbols())
    unlike = sym[i] != sym[j]
    return sym, np.bincount(i[unlike], minlength=len(a)), d.min()


@pytest.mark.parametrize("kind", ["anatase101", "rutile101", "rutile110"])
@pytest.mark.parametrize("thickness_A", [4.0, 8.0])
def test_slabs_are_stoichiometric_with_bridging_o_on_both_faces(kind, thickness_A):
    s = support(kind, (20.0, 20.0), thickness_A=thickness_A)
    sym, cn, d_min = ti_o_neighbours(s)
    assert 2 * (sym == "Ti").sum() == (sym == "O").sum()
    assert (cn[sym == "Ti"] >= 5).all() and (cn[sym == "O"] >= 2).all() and d_min > 1.85
    z = s.positions[:, 2]
    assert np.ptp(z) >= thickness_A
    for face in (z > z.max() - 0.3, z < z.min() + 0.3):  # the outermost atoms: 2-fold bridging O only
        assert set(sym[face]) == {"O"} and (cn[face] == 2).all()
    # the bulk's 6-fold Ti inside; 5-fold only at the faces
    assert (cn[(sym == "Ti") & (z > z.min() + 2.5) & (z < z.max() - 2.5)] == 6).all()


@pytest.mark.parametrize("faces, n_faces", [("both", 2), ("top", 1)])
def test_o_vacancies_come_from_the_outermost_o_plane_of_each_face(faces, n_faces):
    s = support("rutile110", (40.0, 40.0))
    z = s.positions[:, 2]
    sym = np.array(s.get_chemical_symbols())
    top = (sym == "O") & (z > z.max() - 0.3)
    bottom = (sym == "O") & (z < z.min() + 0.3)
    out, n = remove_surface_oxygens(s, 0.1, seed=3, faces=faces)
    assert n == int(round(0.1 * top.sum())) * n_faces and len(out) == len(s) - n and n > 0
    zo, so = out.positions[:, 2], np.array(out.get_chemical_symbols())
    assert ((so == "O") & (zo > z.max() - 0.3)).sum() == top.sum() - n // n_faces
    assert ((so == "O") & (zo < z.min() + 0.3)).sum() == bottom.sum() - (n // 2 if n_faces == 2 else 0)
    again, _ = remove_surface_oxygens(s, 0.1, seed=3, faces=faces)
    np.testing.assert_array_equal(again.positions, out.positions)


def _coeffs(style):
    text = POTENTIAL.read_text()
    return {tuple(int(t) for t in m[:2]): [float(x) for x in m[2].split()]
            for m in re.findall(rf"^pair_coeff\s+(\d)\s+(\d)\s+{style}\s+([^#\n]+)", text, re.M)}


def test_matsui_akaogi_buckingham_terms_are_the_papers_functional_form():
    """U = f0 (b_i + b_j) exp((a_i + a_j - r)/(b_i + b_j)) - c_i c_j / r^6 with the paper's a, b, c and
    f0 = 4.184 kJ/(mol A), as A exp(-r/rho) - C/r^6 (types 2 O, 3 Ti)."""
    kj_ev = 1 / 96.4853
    a, b, c = {2: 1.6339, 3: 1.1823}, {2: 0.117, 3: 0.077}, {2: 54.0, 3: 22.5}
    coeffs = _coeffs("buck/coul/long")
    assert set(coeffs) == {(2, 2), (2, 3), (3, 3)}
    for (i, j), (A, rho, C) in coeffs.items():
        assert rho == pytest.approx(b[i] + b[j], abs=1e-9)
        assert A == pytest.approx(4.184 * kj_ev * rho * math.exp((a[i] + a[j]) / rho), rel=2e-5)
        assert C == pytest.approx(c[i] * c[j] * kj_ev, rel=1e-3)
    text = POTENTIAL.read_text()
    # O -1.098 e; Ti 1.098 N_O / N_Ti, 2.196 e when stoichiometric
    assert "set             type 2 charge -1.098" in text and "1.098*count(bh_o)" in text


def test_au_o_ti_lennard_jones_is_the_committed_dft_fit():
    """The Au-O and Au-Ti lines are models.fit_interface's fit to the committed GPAW labels, as its record says."""
    fit = json.loads((ROOT / "bench" / "results" / "fit_au_tio2" / "fit.json").read_text())
    assert fit["labels"] == ["dft/au_tio2/labels_pw500.extxyz", "dft/au_tio2/relaxed_pw500.extxyz"]
    assert all((ROOT / x).is_file() for x in fit["labels"])
    coeffs = _coeffs("lj/cut")
    assert set(coeffs) == {(1, 2), (1, 3)}
    for (i, j), (eps, sigma) in coeffs.items():
        want_eps, want_sigma = fit["fitted"][{2: "O", 3: "Ti"}[j]]
        assert (i, eps, sigma) == (1, pytest.approx(want_eps, rel=1e-5), pytest.approx(want_sigma, rel=1e-4))
    # the fitted pairs bind the DFT-labelled relaxed Au6 within 15 % of DFT (fit.md)
    relaxed = [w for w in fit["wells"] if w["copy"] >= 10 and w["dft_eV"] < 0]
    assert len(relaxed) == 3 and all(0.85 < w["dft_over_fitted"] < 1.15 for w in relaxed)