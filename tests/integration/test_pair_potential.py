"""models.pair_potential: the trainable particle-support Lennard-Jones term (models/configs/tiny_lj.yaml).

Unit: per pair E = 4 epsilon [(sigma/r)^12 - (sigma/r)^6] f_cut(r/r_max), nothing for pairs with epsilon 0, forces
-dE/dr, TorchScript. Integration: a tiny_lj model trained with nequip-train and compiled by models.deploy gives
the same energy and forces in LAMMPS (pair_style nequip) as in Python, and its epsilon is the trained one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import ROOT, deploy_model, train_model

TYPES = ["Au", "B", "N"]
EPS = [[0.0, 0.004, 0.002], [0.004, 0.0, 0.0], [0.002, 0.0, 0.0]]
SIG = [[3.0, 3.3, 3.1], [3.3, 3.0, 3.0], [3.1, 3.0, 3.0]]
R_MAX = 5.0


def f_cut(u, p=6.0):
    """nequip's polynomial envelope (eq. 8 of DimeNet), u = r / r_max."""
    return 1 - (p + 1) * (p + 2) / 2 * u ** p + p * (p + 2) * u ** (p + 1) - p * (p + 1) / 2 * u ** (p + 2)


def lj_pair(r, eps, sig):
    x = (sig / r) ** 6
    return 4 * eps * (x * x - x) * f_cut(r / R_MAX)


def _energy(module, pos, types):
    from nequip.data import AtomicDataDict
    from nequip.nn.embedding import EdgeLengthNormalizer

    pos = torch.tensor(pos, dtype=torch.float64, requires_grad=True)
    n = len(types)
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    data = {AtomicDataDict.POSITIONS_KEY: pos, AtomicDataDict.EDGE_INDEX_KEY: torch.tensor(np.array([i, j])),
            AtomicDataDict.ATOM_TYPE_KEY: torch.tensor(types)}
    data = EdgeLengthNormalizer(r_max=R_MAX, type_names=TYPES)(data)
    e = module(data)[AtomicDataDict.PER_ATOM_ENERGY_KEY].sum()
    (grad,) = torch.autograd.grad(e, pos)
    return float(e), -grad.numpy()


@pytest.fixture()
def lj():
    from nequip.data import AtomicDataDict

    from models.pair_potential import LennardJones

    torch.set_default_dtype(torch.float64)
    return LennardJones(type_names=TYPES, lj_sigma=SIG, lj_epsilon=EPS, lj_sigma_trainable=True,
                        lj_epsilon_trainable=True, irreps_in={AtomicDataDict.NORM_LENGTH_KEY: "0e"})


def test_pair_energy_and_force_follow_the_lennard_jones_equation(lj):
    for t2, eps, sig in ((1, 0.004, 3.3), (2, 0.002, 3.1)):
        for r in (2.9, 3.5, 4.2, 4.9):
            e, f = _energy(lj, [[0, 0, 0], [r, 0, 0]], [0, t2])
            assert e == pytest.approx(lj_pair(r, eps, sig), rel=1e-12, abs=1e-15)
            h = 1e-6
            dedr = (lj_pair(r + h, eps, sig) - lj_pair(r - h, eps, sig)) / (2 * h)
            assert f[1, 0] == pytest.approx(-dedr, rel=1e-6, abs=1e-12) and f[0, 0] == pytest.approx(dedr, rel=1e-6)
    # Au-Au and B-N pairs have epsilon 0: no energy, and no parameter to train (epsilon is trained as a logarithm
    # on the pairs that start above 0)
    for types in ([0, 0], [1, 2]):
        assert _energy(lj, [[0, 0, 0], [3.0, 0, 0]], types)[0] == 0.0
    # three atoms: the sum of the pairs within r_max (the Au-N pair at 5.5 Å is beyond it)
    e, _ = _energy(lj, [[0, 0, 0], [3.6, 0, 0], [-5.5, 0, 0]], [0, 1, 2])
    assert e == pytest.approx(lj_pair(3.6, 0.004, 3.3), rel=1e-12)
    assert lj.log_epsilon.requires_grad and not lj.epsilon_mask.requires_grad
    torch.jit.script(lj)


def test_trained_tiny_lj_model_agrees_between_lammps_and_python(model_dir, tmp_path):
    from ase.io import read

    from beamheat.lammps_run import single_point
    from models.demo_data import write_dataset
    from models.ensemble import Ensemble

    data = model_dir / "au_hbn_frames.extxyz"
    if not data.exists():
        write_dataset(data, n_frames=36, seed=0, reference="classical_au_hbn")
    ckpt = train_model(model_dir, data, "tiny_lj_au_hbn", ["n_train=28", "n_val=8", "trainer.max_epochs=3"],
                       config="tiny_lj.yaml")
    model = deploy_model(ckpt, model_dir / "tiny_lj_au_hbn.nequip.pth")
    frame = next(a for a in read(data, index=":") if {"Au", "B", "N"} <= set(a.get_chemical_symbols()))
    frame.calc = None
    ref = Ensemble([model]).evaluate(frame)
    lmp = single_point(frame, "pair_style nequip", f"pair_coeff * * {model} Au B N", TYPES)
    assert lmp["energy_eV"] == pytest.approx(ref["energies_eV"][0], abs=1e-8)
    np.testing.assert_allclose(lmp["forces_eV_per_A"], ref["mean_forces"], atol=1e-8)
    # the deployed model carries the trained Lennard-Jones parameters, and they moved from their start
    m = torch.jit.load(str(model))
    log_eps = [p for n, p in m.named_parameters() if n.endswith("pair_potential.log_epsilon")]
    mask = [b for n, b in m.named_buffers() if n.endswith("pair_potential.epsilon_mask")]
    assert len(log_eps) == 1 and len(mask) == 1
    eps = torch.exp(log_eps[0]) * mask[0]
    assert eps.shape == (3, 3) and float(eps[0, 0]) == 0.0 and float(eps[1, 2]) == 0.0   # Au-Au, B-N: none
    for j in (1, 2):   # Au-B, Au-N: trained, positive
        assert 0 < float(eps[0, j]) and float(eps[0, j]) != pytest.approx(0.003, abs=1e-9)
