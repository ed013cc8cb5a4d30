"""The loop on Au/TiO2 without LAMMPS: the config's support and type-name checks, the labeller the YAML chooses,
how the lammps labeller lays out a frame for a potential file (slab or bulk, vacuum box for isolated frames), and
generation 0's builder structures on anatase (101)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from models.loop.config import LoopError, load_config
from models.loop.labellers import (
    ISOLATED_VACUUM_A,
    SLAB_VACUUM_A,
    EmtLabeller,
    LammpsLabeller,
    in_vacuum_box,
    labeller_for,
    slab_layout,
    z_vacuum,
)

ROOT = Path(__file__).resolve().parents[2]
TIO2 = ROOT / "models" / "configs" / "loop_au_tio2_small.yaml"


def _load(tmp_path, text: str) -> dict:
    path = tmp_path / "loop.yaml"
    path.write_text(text)
    return load_config(path)


def test_the_tio2_yaml_loads_with_the_classical_tio2_labeller():
    cfg = load_config(TIO2)
    assert cfg["type_names"] == ["Au", "O", "Ti"]
    assert cfg["initial"]["support"] == "anatase101" and cfg["systems"][0]["support"] == "anatase101"
    lab = labeller_for(cfg["labeller"], cfg["type_names"])
    assert isinstance(lab, LammpsLabeller) and lab.type_names == ["Au", "O", "Ti"] and lab.own_type_names is None
    assert Path(lab.potential) == ROOT / "lammps_inputs" / "potentials" / "classical_au_tio2.in"


def test_labeller_choice_and_identity():
    pot = str(ROOT / "lammps_inputs" / "potentials" / "classical_au_tio2.in")
    assert isinstance(labeller_for({"kind": "emt"}, ["Au"]), EmtLabeller)
    own = labeller_for({"kind": "lammps", "potential": pot, "type_names": ["Au", "O", "Ti", "N"]}, ["Au", "O", "Ti"])
    default = labeller_for({"kind": "lammps", "potential": pot, "type_names": None}, ["Au", "O", "Ti"])
    assert own.type_names == ["Au", "O", "Ti", "N"] and default.type_names == ["Au", "O", "Ti"]
    assert own.identity() != default.identity()  # labeller.type_names as given is part of it
    hbn = labeller_for({"kind": "lammps", "potential": pot.replace("au_tio2.in", "au_hbn.in"), "type_names": None},
                       ["Au", "O", "Ti"])
    assert hbn.identity() != default.identity()  # the file's content is


@pytest.mark.parametrize("text, message", [
    ("type_names: [Au, B, N]\nsystems: [{name: s, support: anatase101}]\n",
     "loop.yaml: systems[0] (s): the particle Au on anatase101 (O, Ti) needs type_names with O, Ti, not [Au, B, N]"),
    ("type_names: [Au, B, N]\ninitial: {support: rutile110}\n",
     "loop.yaml: initial: the particle Au on rutile110 (O, Ti) needs type_names with O, Ti, not [Au, B, N]"),
    ("type_names: [Au, O, Ti]\nsystems: [{name: s, support: hbn}]\n",
     "systems[0] (s): the particle Au on hbn (B, N) needs type_names with B, N, not [Au, O, Ti]"),
    ("type_names: [Au, O, Ti]\nsystems: [{name: s, support: tio2}]\n",
     "systems[0] (s): support 'tio2': choose hbn, anatase101, rutile101, rutile110"),
    ("type_names: [Au, O, Ti]\ninitial: {support: anatase}\n", "initial: support 'anatase': choose hbn,"),
    ("type_names: [Au, O, Ti]\ninitial: {support: anatase101, element: Pt}\n",
     "initial: the particle Pt on anatase101 (O, Ti) needs type_names with Pt"),
    ("type_names: [Au, O, Ti]\nsystems: [{name: s, element: Pt, support: anatase101}]\n",
     "the particle Pt on anatase101 (O, Ti) needs type_names with Pt, not [Au, O, Ti]"),
    ("type_names: [Au, O, Ti]\nsystems: [{name: s, support: anatase101, layers: 2}]\n",
     "systems[0].layers applies to hbn only"),
    ("type_names: [Au, B, N]\nsystems: [{name: s, support: hbn, thickness_A: 9}]\n",
     "systems[0].thickness_A applies to TiO2 supports only"),
    ("type_names: Au\n", "type_names must be a list of element names"),
    ("type_names: [Au, O, Ti]\nlabeller: {kind: lammps, potential: classical_au_tio2, type_names: [Au, B, N]}\n",
     "labeller.type_names [Au, B, N] must hold every element of type_names [Au, O, Ti]"),
])
def test_bad_tio2_configs_are_one_line_naming_the_yaml(tmp_path, text, message):
    with pytest.raises(LoopError) as e:
        _load(tmp_path, text)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith(str(tmp_path / "loop.yaml"))


def test_good_tio2_entries_pass(tmp_path):
    cfg = _load(tmp_path, "type_names: [Au, O, Ti]\ninitial: {support: rutile101}\n"
                          "systems: [{name: s, support: rutile110, thickness_A: 10}, {name: p}]\n")
    assert cfg["systems"][0] == {"name": "s", "support": "rutile110", "thickness_A": 10}  # stored as given
    cfg = _load(tmp_path, "type_names: [Au, B, N]\ninitial: {support: hbn}\nsystems: [{name: s, support: hbn, "
                          "layers: 2}]\n")  # the hBN route as before
    assert cfg["systems"][0]["layers"] == 2


def _slab(vacuum_below: float, vacuum_above: float, pbc=True) -> Atoms:
    """A 3-plane toy slab of 2 Å spacing in a 5 Å square cell, vacuum below and above."""
    a = Atoms("Ti3", positions=[[0, 0, vacuum_below + 2 * k] for k in range(3)],
              cell=[5.0, 5.0, vacuum_below + 4.0 + vacuum_above], pbc=pbc)
    return a


def test_z_vacuum_finds_the_widest_empty_layer():
    width, middle, across = z_vacuum(_slab(7.0, 9.0))
    assert width == pytest.approx(16.0) and across  # below + above, through the cell's z boundary
    a = _slab(7.0, 9.0)
    a.positions[:, 2] += 12.0  # the slab now straddles the boundary: the empty layer lies inside the cell
    a.wrap()
    width, middle, across = z_vacuum(a)
    assert width == pytest.approx(16.0) and not across
    assert np.isclose(middle, ((7.0 + 4.0 + 12.0 + 8.0) % 20.0) / 20.0)


def test_slab_layout_decides_slab_or_bulk_and_keeps_ordinary_slabs_as_they_are():
    slab = _slab(8.0, 8.0)
    frame, is_slab = slab_layout(slab)
    assert is_slab and frame is slab  # the vacuum spans the boundary already: the very same frame
    open_z = _slab(1.0, 1.0, pbc=(True, True, False))
    assert slab_layout(open_z) == (open_z, True)  # not periodic in z: a slab whatever its vacuum
    au = bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 2, 2))
    frame, is_slab = slab_layout(au)
    assert frame is au and not is_slab  # bulk: periodic in z, no empty layer
    thin = _slab(SLAB_VACUUM_A / 2 - 0.6, SLAB_VACUUM_A / 2 - 0.6)
    assert not slab_layout(thin)[1]  # an empty layer narrower than SLAB_VACUUM_A: bulk
    moved = _slab(8.0, 8.0)
    moved.positions[:, 2] += 10.0
    moved.wrap()
    frame, is_slab = slab_layout(moved)
    assert is_slab and frame is not moved
    z = frame.positions[:, 2]
    assert np.ptp(z) == pytest.approx(4.0) and z.min() == pytest.approx(8.0)  # the vacuum is at the boundary again
    np.testing.assert_allclose(frame.positions[:, :2], moved.positions[:, :2])


def test_in_vacuum_box_gives_an_isolated_frame_periodic_x_and_y():
    p = Atoms("Au2", positions=[[0, 0, 0], [2.5, 0, 0]], pbc=False)
    boxed = in_vacuum_box(p)
    assert tuple(boxed.pbc) == (True, True, False)
    assert boxed.cell[0, 0] == pytest.approx(2.5 + ISOLATED_VACUUM_A)
    assert boxed.cell[1, 1] == pytest.approx(ISOLATED_VACUUM_A)
    np.testing.assert_allclose(boxed.positions[1] - boxed.positions[0], [2.5, 0, 0])
    with pytest.raises(ValueError, match="periodic along x only"):
        in_vacuum_box(Atoms("Au", pbc=(True, False, False), cell=[3, 3, 3]))


def test_initial_structures_on_anatase_have_the_loop_types_and_gaps():
    from models.loop.structures import INITIAL_GAPS_A, initial_structures

    cfg = load_config(TIO2)
    cfg["initial"]["n_frames"] = 5  # one of each kind
    frames = initial_structures(cfg)
    kinds = [f.info["source"] for f in frames]
    assert kinds == ["initial:bulk", "initial:surface", "initial:particle", "initial:support",
                     "initial:particle_on_support"]
    surface = frames[1].cell
    assert np.allclose(surface - np.diag(np.diag(surface)), 0)  # orthogonal, as PPPM's slab correction needs
    sup, on = frames[3], frames[4]
    assert set(sup.get_chemical_symbols()) == {"O", "Ti"} and tuple(sup.pbc) == (True, True, False)
    sym = np.array(on.get_chemical_symbols())
    assert set(sym) == {"Au", "O", "Ti"}
    assert sym.tolist().count("O") == 2 * sym.tolist().count("Ti")  # stoichiometric
    gap = on.positions[sym == "Au", 2].min() - on.positions[sym != "Au", 2].max()
    lo, hi = INITIAL_GAPS_A["anatase101"]
    assert lo - 0.5 < gap < hi + 0.5  # the drawn gap, give or take the rattle
    assert INITIAL_GAPS_A["hbn"] == (2.5, 3.6)  # the hBN route's range as before


def test_initial_structures_on_hbn_are_as_before():
    """The hBN route's generation 0 is unchanged: its hexagonal Au(111) surface and its gap range."""
    from models.loop.structures import initial_structures

    cfg = load_config(ROOT / "models" / "configs" / "loop_au_hbn_small.yaml")
    cfg["initial"]["n_frames"] = 5
    frames = initial_structures(cfg)
    assert len(frames[1]) == 36 and frames[1].cell.angles()[2] == pytest.approx(60.0)
    on = frames[4]
    sym = np.array(on.get_chemical_symbols())
    gap = on.positions[sym == "Au", 2].min() - on.positions[sym != "Au", 2].max()
    assert 2.5 - 0.5 < gap < 3.6 + 0.5
