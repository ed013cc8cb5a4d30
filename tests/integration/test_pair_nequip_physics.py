"""pair_style nequip in LAMMPS reproduces nequip's own ASE calculator.

For every geometry the paper's workflow meets (periodic bulk, triclinic cell, a cell smaller than the cutoff
sphere, a slab with vacuum, an isolated cluster), LAMMPS energy E, per-atom energies E_i, forces F_i and the
stress sigma = -W/V (W = model virial) equal the ASE calculator's on the same compiled model.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from beamheat.lammps_run import single_point
from helpers import TYPE_NAMES, ase_reference, rattled
from models.demo_data import au_cluster_on_slab, cupd_slab

F_TOL_EV_PER_A = 1e-6      # against nequip's ASE calculator, float64 model
E_TOL_EV = 1e-6
S_TOL_EV_PER_A3 = 1e-8


def periodic_bulk() -> Atoms:
    return rattled(bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 2, 2)), seed=2)


def triclinic_bulk() -> Atoms:
    a = bulk("Cu", "fcc", a=3.7).repeat((3, 3, 3))  # primitive fcc: a genuinely triclinic cell
    symbols = np.array(a.get_chemical_symbols())
    symbols[::3] = "Pd"
    symbols[1::5] = "Au"
    a.set_chemical_symbols(symbols)
    assert abs(a.cell.angles() - 90).max() > 10  # the triclinic tests need a cell far from orthogonal
    return rattled(a, seed=3)


def small_cell() -> Atoms:
    """2-atom cell far smaller than the cutoff sphere: atoms interact with many images of themselves."""
    return rattled(Atoms("AuCu", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=np.diag([2.9, 3.0, 3.1]),
                         pbc=True), seed=4)


def slab_with_cluster() -> Atoms:
    return rattled(au_cluster_on_slab(), seed=5)


def isolated_cluster() -> Atoms:
    a = rattled(au_cluster_on_slab(), seed=6)
    a = a[a.positions[:, 2] > a.positions[:, 2].max() - 5.0]  # cluster + top slab layers
    a.pbc = False
    a.cell = np.zeros((3, 3))
    return a


SYSTEMS = {
    "periodic_bulk": periodic_bulk,
    "triclinic": triclinic_bulk,
    "small_cell_self_images": small_cell,
    "slab_ppf": slab_with_cluster,
    "isolated_cluster": isolated_cluster,
}


def _compare(atoms, model, f_tol=F_TOL_EV_PER_A, e_tol=E_TOL_EV, s_tol=S_TOL_EV_PER_A3, reference_model=None,
             stress=True):
    ref = ase_reference(atoms, reference_model or model)
    got = single_point(atoms, "nequip", f"* * {model} {' '.join(TYPE_NAMES)}", TYPE_NAMES)
    assert np.abs(ref["forces_eV_per_A"]).max() > 0.05, "test geometry has trivially small forces"
    np.testing.assert_allclose(got["forces_eV_per_A"], ref["forces_eV_per_A"], rtol=0, atol=f_tol)
    assert got["energy_eV"] == pytest.approx(ref["energy_eV"], abs=e_tol)
    np.testing.assert_allclose(got["energies_eV"], ref["energies_eV"], rtol=0, atol=e_tol)
    if stress and "stress_eV_per_A3" in ref:
        np.testing.assert_allclose(got["stress_eV_per_A3"], ref["stress_eV_per_A3"], rtol=0, atol=s_tol)
    return ref, got


@pytest.mark.parametrize("system", SYSTEMS)
def test_torchscript_matches_ase(system, model_ts):
    _compare(SYSTEMS[system](), model_ts)


@pytest.mark.parametrize("system", ["periodic_bulk", "triclinic", "slab_ppf"])
def test_per_edge_type_cutoffs_match_ase(system, model_pec):
    _compare(SYSTEMS[system](), model_pec)


def test_per_edge_type_pruning_is_exact(model_pec, tmp_path):
    """The plugin drops edges beyond the per-type cutoff (source row, target column). nequip's envelope is exactly
    zero there, so the same network fed every edge out to r_max (metadata stripped) must give the same forces;
    pruning in the wrong direction (Au->Cu kept to 4.0 A, Cu->Au only to 3.6 A) would drop live edges and fail."""
    import torch

    extra = {k: "" for k in ("r_max", "type_names", "num_types", "model_dtype", "allow_tf32",
                             "per_edge_type_cutoff")}
    module = torch.jit.load(str(model_pec), _extra_files=extra)
    assert extra["per_edge_type_cutoff"]
    del extra["per_edge_type_cutoff"]
    stripped = tmp_path / "no_pec.nequip.pth"
    torch.jit.save(module, str(stripped), _extra_files=extra)

    atoms = slab_with_cluster()
    pruned = single_point(atoms, "nequip", f"* * {model_pec} Au Cu Pd", TYPE_NAMES)
    full = single_point(atoms, "nequip", f"* * {stripped} Au Cu Pd", TYPE_NAMES)
    np.testing.assert_allclose(pruned["forces_eV_per_A"], full["forces_eV_per_A"], rtol=0, atol=1e-12)
    assert pruned["energy_eV"] == pytest.approx(full["energy_eV"], abs=1e-12)


@pytest.mark.parametrize("system", ["periodic_bulk", "slab_ppf", "isolated_cluster"])
def test_legacy_format_matches_ase(system, model_legacy, model_ts):
    """nequip <= 0.6 interface (float32 in/out): equal to the float64 model up to float32 rounding."""
    _compare(SYSTEMS[system](), model_legacy, f_tol=2e-5, e_tol=2e-5, reference_model=model_ts, stress=False)


@pytest.mark.slow
@pytest.mark.parametrize("system", ["periodic_bulk", "triclinic", "slab_ppf"])
def test_aotinductor_matches_ase(system, model_aoti, model_ts):
    _compare(SYSTEMS[system](), model_aoti, reference_model=model_ts)


def test_type_order_permutation_gives_identical_physics(model_ts):
    """LAMMPS types in another order, mapped by pair_coeff: same energy and forces."""
    atoms = slab_with_cluster()
    canonical = single_point(atoms, "nequip", f"* * {model_ts} Au Cu Pd", ["Au", "Cu", "Pd"])
    permuted = single_point(atoms, "nequip", f"* * {model_ts} Pd Au Cu", ["Pd", "Au", "Cu"])
    assert permuted["energy_eV"] == pytest.approx(canonical["energy_eV"], abs=1e-10)
    np.testing.assert_allclose(permuted["forces_eV_per_A"], canonical["forces_eV_per_A"], atol=1e-10)


def test_subset_of_model_types(model_ts):
    """A system with two of the model's three types, in reverse order."""
    atoms = cupd_slab(repeat=(2, 2, 2))
    atoms.set_chemical_symbols(["Au" if s == "Pd" else s for s in atoms.get_chemical_symbols()])
    atoms = rattled(atoms, seed=7)
    ref = ase_reference(atoms, model_ts)
    got = single_point(atoms, "nequip", f"* * {model_ts} Cu Au", ["Cu", "Au"])
    np.testing.assert_allclose(got["forces_eV_per_A"], ref["forces_eV_per_A"], atol=F_TOL_EV_PER_A)
    assert got["energy_eV"] == pytest.approx(ref["energy_eV"], abs=E_TOL_EV)


def test_unused_lammps_type_may_map_to_null(model_ts):
    atoms = periodic_bulk()
    ref = ase_reference(atoms, model_ts)
    got = single_point(atoms, "nequip", f"* * {model_ts} Au NULL", ["Au", "Ti"])
    np.testing.assert_allclose(got["forces_eV_per_A"], ref["forces_eV_per_A"], atol=F_TOL_EV_PER_A)


def test_newton_on_and_off_agree(model_ts):
    atoms = triclinic_bulk()
    on = single_point(atoms, "nequip", f"* * {model_ts} Au Cu Pd", TYPE_NAMES, newton=True)
    off = single_point(atoms, "nequip", f"* * {model_ts} Au Cu Pd", TYPE_NAMES, newton=False)
    np.testing.assert_allclose(on["forces_eV_per_A"], off["forces_eV_per_A"], atol=1e-12)
    np.testing.assert_allclose(on["stress_eV_per_A3"], off["stress_eV_per_A3"], atol=1e-14)
