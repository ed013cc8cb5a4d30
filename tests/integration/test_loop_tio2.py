"""The loop's lammps labeller on Au/TiO2 with the classical reference (lammps_inputs/potentials/classical_au_tio2.in:
charges, PPPM with the slab correction, a fixed z boundary): its energies and forces against a direct `lmp` single
point of the same file on the same frames (read_data, include, run 0, as heat_transfer.in runs it), for a slab as
explored frames come back (periodic in z), the same slab across the cell's z boundary, bulk anatase and an isolated
Au particle; generation 0's builder structures on anatase; the hBN route against its pair_style lines; and a wrong
type order stopped before labelling. (One generation of models/configs/loop_au_tio2_small.yaml is in docs/loop.md:
a tiny loop here took 150 s.)"""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from beamheat.build import _tio2_bulk, particle
from beamheat.lammps_run import potential_commands, single_point
from helpers import ROOT, rattled, run_lmp

from models.loop.labellers import LabelError, label_frames
from models.loop.structures import system_atoms

POT = ROOT / "lammps_inputs" / "potentials" / "classical_au_tio2.in"
TYPES = ["Au", "O", "Ti"]
QUIET = dict(progress=lambda *a: None)


def au_on_anatase():
    """A small Au particle on anatase (101) as exploration frames come back from LAMMPS: periodic in z too."""
    a = system_atoms({"name": "s", "support": "anatase101", "diameter_nm": 0.6, "height_ratio": 0.7,
                      "margin_A": 2.0, "thickness_A": 5.0, "vacuum_A": 8.0})
    a = rattled(a, 0.05, seed=3)
    a.pbc = True
    return a


def direct(tmp_path, atoms, name: str, kspace_slab: str) -> tuple[float, np.ndarray]:
    """Energy and forces of ATOMS from `lmp`: read_data, include classical_au_tio2.in, run 0."""
    d = tmp_path / name
    d.mkdir()
    write(d / "frame.data", atoms, format="lammps-data", specorder=TYPES, masses=True, atom_style="atomic")
    text = f"""units metal
atom_style atomic
atom_modify map array
boundary p p p
read_data frame.data
variable kspace_slab index {kspace_slab}
include {POT}
thermo_style custom step pe
dump f all custom 1 forces.dump id fx fy fz
dump_modify f sort id format float %.17g
run 0
print "PE $(pe:%.17g)"
"""
    proc = run_lmp(text, d)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    e = float(re.search(r"^PE (\S+)", proc.stdout, re.M).group(1))
    f = np.loadtxt(d / "forces.dump", skiprows=9)[:, 1:]
    return e, f


def test_lammps_labeller_matches_a_direct_single_point_of_the_file(tmp_path):
    slab = au_on_anatase()
    across = slab.copy()  # the slab across the cell's z boundary: the labeller moves the vacuum there first
    across.positions[:, 2] += 0.5 * across.cell[2, 2]
    across.wrap()
    anatase = rattled(_tio2_bulk("anatase").repeat((2, 2, 1)), 0.05, seed=4)
    au = particle("Au", diameter_nm=0.7, height_ratio=0.8)
    au.center(vacuum=5.0)
    au.pbc = False
    frames = [slab, across, anatase, au]
    for k, a in enumerate(frames):
        a.info.update({"source": "test", "frame": k, "generation": 1})
    out = label_frames(frames, {"kind": "lammps", "potential": str(POT)}, tmp_path / "l.db", TYPES, **QUIET)
    assert len(out) == 4

    e_slab, f_slab = direct(tmp_path, slab, "slab", "yes")
    assert out[0].get_potential_energy() == pytest.approx(e_slab, abs=1e-6)
    np.testing.assert_allclose(out[0].get_forces(), f_slab, atol=1e-6)
    # the same slab, moved along z: PPPM sees another grid offset, within its accuracy (measured: 2.5e-6 eV,
    # 7e-5 eV/Å at most)
    assert out[1].get_potential_energy() == pytest.approx(e_slab, abs=1e-4)
    assert np.abs(out[1].get_forces() - f_slab).max() < 5e-4
    # bulk: periodic in z, no kspace slab correction
    e_bulk, f_bulk = direct(tmp_path, anatase, "bulk", "no")
    assert out[2].get_potential_energy() == pytest.approx(e_bulk, abs=1e-6)
    np.testing.assert_allclose(out[2].get_forces(), f_bulk, atol=1e-6)
    e_wrong, _ = direct(tmp_path, anatase, "bulk_as_slab", "yes")
    assert abs(e_wrong - e_bulk) > 1.0  # the choice matters: bulk anatase cut open along z is another system
    # an isolated Au particle (PPPM needs periodic x, y: labelled in a vacuum box) is EAM alone
    eam = single_point(au, "pair_style eam", ["pair_coeff 1 1 Au_u3.eam"], ["Au"])
    assert out[3].get_potential_energy() == pytest.approx(eam["energy_eV"], abs=1e-8)
    np.testing.assert_allclose(out[3].get_forces(), eam["forces_eV_per_A"], atol=1e-8)
    # the labels are of the frames as given (positions and pbc), not of the layouts they were computed in
    for a, lab in zip(frames, out):
        np.testing.assert_allclose(lab.positions, a.positions, atol=1e-12)
        assert tuple(lab.pbc) == tuple(a.pbc)
    # the Au-TiO2 force is there: the particle's net force is not the EAM's zero
    au_rows = np.array(out[0].get_chemical_symbols()) == "Au"
    assert np.linalg.norm(out[0].get_forces()[au_rows].sum(axis=0)) > 1e-3


def test_hbn_route_gives_what_the_pair_style_lines_give(tmp_path):
    """classical_au_hbn.in included gives the same labels as its pair_style and pair_coeff lines did."""
    a = system_atoms({"name": "s", "support": "hbn", "diameter_nm": 0.6, "height_ratio": 0.7, "margin_A": 2.0})
    frames = [rattled(a, 0.05, seed=5), rattled(bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 2, 2)), 0.1)]
    frames[0].pbc = True
    pot = ROOT / "lammps_inputs" / "potentials" / "classical_au_hbn.in"
    out = label_frames(frames, {"kind": "lammps", "potential": str(pot)}, tmp_path / "h.db", ["Au", "B", "N"],
                       **QUIET)
    style, coeffs = potential_commands(pot)
    for a, lab in zip(frames, out):
        ref = single_point(a, style, coeffs, ["Au", "B", "N"])
        assert lab.get_potential_energy() == ref["energy_eV"]
        np.testing.assert_array_equal(lab.get_forces(), ref["forces_eV_per_A"])


def test_a_type_order_the_file_refuses_stops_before_labelling(tmp_path):
    """classical_au_tio2.in checks its types' masses and quits: the labeller runs that check in a child `lmp`, so
    a wrong order is one error naming the file, and nothing is labelled."""
    frames = [au_on_anatase()]
    frames[0].info.update({"source": "test", "frame": 0, "generation": 1})
    with pytest.raises(LabelError) as e:
        label_frames(frames, {"kind": "lammps", "potential": str(POT)}, tmp_path / "w.db", ["Au", "Ti", "O"],
                     **QUIET)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(POT))
    assert "types Au Ti O" in msg and "types 1, 2, 3 must be Au, O, Ti" in msg


def test_every_generation0_kind_on_anatase_is_labelled(tmp_path):
    """Bulk Au, an Au surface, a bare particle, the bare slab and a particle on it: none fails (PPPM on uncharged
    Au, and its slab correction, which needs an orthogonal cell)."""
    from models.loop.config import load_config
    from models.loop.structures import initial_structures

    cfg = load_config(ROOT / "models" / "configs" / "loop_au_tio2_small.yaml")
    cfg["initial"]["n_frames"] = 5
    frames = initial_structures(cfg)
    out = label_frames(frames, cfg["labeller"], tmp_path / "g0.db", cfg["type_names"], **QUIET)
    assert [a.info["source"] for a in out] == [a.info["source"] for a in frames]
    for a in out:
        f = a.get_forces()
        assert np.isfinite(f).all() and np.abs(f).max() > 0.01  # rattled: forces on every kind
    au_only = [a for a in out if set(a.get_chemical_symbols()) == {"Au"}]
    assert len(au_only) == 3
    for a in au_only:  # Au alone: EAM alone (bulk fully periodic, the surface a slab, the particle isolated)
        ref = single_point(a, "pair_style eam", ["pair_coeff 1 1 Au_u3.eam"], ["Au"])
        assert a.get_potential_energy() == pytest.approx(ref["energy_eV"], abs=1e-8)
