"""The bundled Au183/hBN system that lammps_inputs/heat_transfer.in runs on by default."""

from __future__ import annotations

import json

from heat_transfer_checks import DATA


def test_geometry_json_matches_bundled_data():
    g = json.loads((DATA.parent / "geometry.json").read_text())
    assert g["n_atoms_np"] == 183 and g["type_map"] == {"Au": 1, "B": 2, "N": 3} and g["support"] == "hbn"
