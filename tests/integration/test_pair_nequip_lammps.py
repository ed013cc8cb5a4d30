"""pair_style nequip as a user meets it: `mpirun -np 1 lmp -in file.in`, no `plugin load` line.

MD (NVE energy conservation), what the log says about the loaded model, and a clear one-line LAMMPS error
(never a crash) for every bad input a user gives it: model files, type names, data, keywords, devices.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from helpers import ROOT, auto_device, error_line, header, run_lmp, write_data


def test_plugin_loads_through_entry_point_and_logs_model(au_bulk, model_ts):
    from beamheat.lammps_plugin import plugin_dir

    proc = run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_ts} Au\nrun 0\n", au_bulk)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    log = (au_bulk / "log.test").read_text()
    assert f"Loaded 1 plugins from {plugin_dir()}" in proc.stdout
    m = re.search(r"pair nequip: loaded torchscript model (\S+): r_max = 4 A, types = Au Cu Pd, dtype = float64, "
                  r"input dtype = float64, device = (\S+?),", log)
    assert m and m.group(1) == str(model_ts)
    assert m.group(2) == auto_device(), "device auto must pick the GPU when torch sees one, else the CPU"


def test_torch_side_exports_its_entry_point_alone():
    """libnequip_torch.so is opened with RTLD_DEEPBIND, so it comes first in the symbol lookup of libtorch itself:
    a C++ library symbol it exported (a weak std:: template instance) would replace libstdc++'s for torch. On an
    H100 machine that crashed torch::jit::load at pair_coeff in every `lmp`. The build exports one symbol."""
    import shutil
    import subprocess

    from beamheat.lammps_plugin import plugin_dir

    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) not found")
    lib = Path(plugin_dir()) / "libnequip_torch.so"
    out = subprocess.run([nm, "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    assert [ln.split()[-1] for ln in out.splitlines() if ln.strip()] == ["beamheat_nequip_backend"], out[:2000]


def test_torch_blas_is_torchs_own_inside_lmp(au_bulk, model_ts):
    """liblammps exports LAMMPS's reference BLAS under the Fortran names (dgemm_, dgemv_, ddot_) that libtorch_cpu
    calls to reach its MKL. Linked plainly, torch's float64 matrix products in `lmp` ran on the reference routines
    (the ASE route was 1.4x faster on the same file). The torch side is opened with RTLD_DEEPBIND to prevent it;
    the dynamic linker's own record of the bindings shows where the calls go."""
    proc = run_lmp(header() + f"pair_style nequip device cpu\npair_coeff * * {model_ts} Au\nrun 0\n", au_bulk,
                   env={"LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": str(au_bulk / "ld")})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = "".join(p.read_text(errors="replace") for p in au_bulk.glob("ld.*"))
    binds = re.findall(r"binding file \S*/(libtorch_cpu\.so)\S* \[\d+\] to (\S+) \[\d+\]: normal symbol `(dgemm_|dgemv_|ddot_)'",
                       text)
    assert {b[2] for b in binds} >= {"dgemm_"}, "the model made no float64 matrix product: the check would be void"
    wrong = sorted({f"{sym} -> {target}" for _, target, sym in binds if not target.endswith("libtorch_cpu.so")})
    assert not wrong, f"torch's BLAS calls bound outside torch: {wrong}"


def test_malloc_keep_is_logged_and_system_leaves_glibc_alone(au_bulk, model_ts):
    run = "pair_coeff * * {} Au\nrun 0\n".format(model_ts)
    keep = run_lmp(header() + "pair_style nequip device cpu\n" + run, au_bulk)
    assert keep.returncode == 0, keep.stdout[-2000:]
    assert "pair nequip: malloc keep: freed memory is kept for reuse (no mmap, no trim)" in keep.stdout
    system = run_lmp(header() + "pair_style nequip device cpu malloc system\n" + run, au_bulk)
    assert system.returncode == 0 and "malloc keep" not in system.stdout
    err = error_line(run_lmp(header() + "pair_style nequip malloc sometimes\n", au_bulk))
    assert "malloc must be 'keep' or 'system', not 'sometimes'" in err


def test_legacy_model_logs_format_and_warns_about_missing_virial(au_bulk, model_legacy):
    proc = run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_legacy} Au\n"
                   "thermo_style custom step pe press\nrun 0\n", au_bulk)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "loaded legacy model" in proc.stdout and "(nequip 0.6.1)" in proc.stdout
    assert "input dtype = float32" in proc.stdout
    assert "returns no virial: pressure excludes this pair style" in proc.stdout


def _thermo(log_text: str, first_col="Step"):
    """Columns and rows of the last thermo block."""
    rows, cols, header = [], None, None
    for line in log_text.splitlines():
        words = line.split()
        if words and words[0] == first_col:
            header, cols, rows = words, words, []
            continue
        if cols and len(words) == len(cols):
            try:
                rows.append([float(w) for w in words])
                continue
            except ValueError:
                pass
        cols = None
    return header, np.array(rows)


def test_nve_conserves_energy(au_bulk, model_ts):
    """108 Au atoms, 600 K start, 1 fs velocity Verlet for 1 ps: total energy stays put (no drift, small noise)."""
    proc = run_lmp(header() + f"""pair_style nequip
pair_coeff * * {model_ts} Au
velocity all create 600 4928459 mom yes rot yes dist gaussian
timestep 0.001
fix nve all nve
thermo_style custom step time temp pe ke etotal press
thermo_modify format float %.10g
thermo 20
run 1000
""", au_bulk)
    assert proc.returncode == 0, proc.stdout[-3000:]
    cols, data = _thermo((au_bulk / "log.test").read_text())
    etot = data[:, cols.index("TotEng")]
    temp = data[:, cols.index("Temp")]
    time_ps = data[:, cols.index("Time")]
    n_atoms = 108
    assert temp[-1] > 100, "atoms did not move"
    drift_eV_per_atom_per_ps = abs(np.polyfit(time_ps, etot, 1)[0]) / n_atoms
    spread_eV_per_atom = np.ptp(etot) / n_atoms
    ke_spread = np.ptp(data[:, cols.index("KinEng")]) / n_atoms
    assert drift_eV_per_atom_per_ps < 1e-5, drift_eV_per_atom_per_ps
    assert spread_eV_per_atom < 0.02 * ke_spread, (spread_eV_per_atom, ke_spread)


# ---------------------------------------------------------------------------------------------- clear errors
def test_missing_model_file(au_bulk):
    err = error_line(run_lmp(header() + "pair_style nequip\npair_coeff * * nowhere.nequip.pth Au\n", au_bulk))
    assert "nowhere.nequip.pth: cannot open model file" in err


def test_corrupt_model_file(au_bulk, model_ts):
    bad = au_bulk / "broken.nequip.pth"
    bad.write_bytes(model_ts.read_bytes()[:5000])  # truncated download
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {bad} Au\n", au_bulk))
    assert str(bad) in err and "cannot load as a TorchScript model" in err


def test_not_a_zip_at_all(au_bulk):
    bad = au_bulk / "model.nequip.pth"
    bad.write_text("this is not a model\n")
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {bad} Au\n", au_bulk))
    assert str(bad) in err and "not a compiled NequIP model" in err


def test_torchscript_without_nequip_metadata(au_bulk):
    import torch

    path = au_bulk / "plain.pth"
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 3)), str(path))
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {path} Au\n", au_bulk))
    assert str(path) in err and "not a NequIP model" in err


def test_type_name_not_in_model(au_bulk, model_ts):
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_ts} Ti\n", au_bulk))
    assert "type name 'Ti' (LAMMPS type 1) is not in model" in err and "the model has: Au Cu Pd" in err


def test_atoms_of_unmapped_type(tmp_path, model_ts):
    atoms = bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 2, 2))
    atoms.symbols[3] = "Cu"
    write_data(tmp_path / "au.data", atoms, specorder=("Au", "Cu"))
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_ts} Au NULL\nrun 0\n", tmp_path))
    assert "atom ID 4 has LAMMPS type 2, which pair_coeff maps to NULL" in err


def test_wrong_number_of_type_names(au_bulk, model_ts):
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_ts} Au Cu\n", au_bulk))
    assert "'Au' is not a model file; with 1 LAMMPS atom type(s) pair_coeff needs" in err
    assert "followed by exactly 1 type name(s)" in err
    err = error_line(run_lmp(header() + "pair_style nequip\npair_coeff * *\n", au_bulk))
    assert "expected '* * MODEL_FILE [MODEL_FILE ...]' and 1 type names" in err


def test_atom_ids_required(au_bulk, model_ts):
    err = error_line(run_lmp(f"""units metal
atom_style atomic
atom_modify id no
lattice fcc 4.08
region box block 0 3 0 3 0 3
create_box 1 box
create_atoms 1 box
mass 1 196.97
pair_style nequip
pair_coeff * * {model_ts} Au
run 0
""", au_bulk))
    assert "requires atom IDs" in err


def test_nan_forces_stop_the_run(tmp_path, model_ts):
    atoms = bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 2, 2))
    atoms.positions[5] = atoms.positions[4]  # two atoms on top of each other: zero-length edge
    write_data(tmp_path / "au.data", atoms, specorder=("Au",))
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_ts} Au\nrun 0\n", tmp_path))
    assert "non-finite force on atom ID" in err


def test_per_atom_virial_refused(au_bulk, model_ts):
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_ts} Au\n"
                             "compute s all stress/atom NULL\ndump d all custom 1 d.dump c_s[1]\nrun 0\n", au_bulk))
    assert "per-atom virial" in err


def test_unknown_pair_style_keyword(au_bulk):
    err = error_line(run_lmp(header() + "pair_style nequip fast yes\n", au_bulk))
    assert "unknown keyword 'fast'" in err


def test_cuda_requested_without_gpu(au_bulk, model_ts):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    err = error_line(run_lmp(header() + f"pair_style nequip device cuda\npair_coeff * * {model_ts} Au\n", au_bulk))
    assert "sees no CUDA device" in err


def test_aoti_package_errors_are_clean(au_bulk, model_ts):
    fake = au_bulk / "fake.nequip.pt2"
    shutil.copy(model_ts, fake)  # a zip, but no AOTI package inside
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {fake} Au\n", au_bulk))
    assert str(fake) in err and "cannot load as an AOTInductor package" in err


def test_type_names_out_of_the_data_files_order_are_refused(tmp_path, model_ts):
    """pair_coeff maps types by position: names in another order than the data file's types would give every atom
    another element's forces. The masses LAMMPS holds say so; mass_check no allows it on purpose."""
    atoms = bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 2, 2))
    symbols = atoms.get_chemical_symbols()
    symbols[0], symbols[1] = "Cu", "Pd"
    atoms.set_chemical_symbols(symbols)
    write_data(tmp_path / "s.data", atoms)  # types 1 Au, 2 Cu, 3 Pd, with their masses
    err = error_line(run_lmp(header("s.data") + f"pair_style nequip\npair_coeff * * {model_ts} Pd Cu Au\nrun 0\n",
                             tmp_path))
    assert "LAMMPS type 1 has mass 197 but pair_coeff maps it to Pd (106.4)" in err and "mass_check no" in err
    ok = run_lmp(header("s.data") + f"pair_style nequip mass_check no\npair_coeff * * {model_ts} Pd Cu Au\n"
                 "run 0\n", tmp_path)
    assert ok.returncode == 0, ok.stdout[-2000:]
    ok = run_lmp(header("s.data") + f"pair_style nequip\npair_coeff * * {model_ts} Au Cu Pd\nrun 0\n", tmp_path)
    assert ok.returncode == 0, ok.stdout[-2000:]


@pytest.mark.parametrize("keyword", ["halt_sigma", "halt_fmax"])
def test_negative_halting_limits_are_refused(au_bulk, model_ts, keyword):
    """lammps_inputs/nequip_halt.in (included by potentials/nequip.in, explore.in and nequip_md.in) refuses them."""
    other = "halt_fmax" if keyword == "halt_sigma" else "halt_sigma"
    text = (header() + f"pair_style nequip\npair_coeff * * {model_ts} Au\nvariable {keyword} index -1\n"
            f"variable {other} index 0\nvariable halt_file index h.extxyz\nvariable halt_frames index 1\n"
            f"variable halt_every index 1\ninclude {ROOT / 'lammps_inputs' / 'nequip_halt.in'}\nrun 0\n")
    err = error_line(run_lmp(text, au_bulk))
    assert f"{keyword} -1 eV/A: must be > 0, or 0 to switch the check off" in err


@pytest.mark.parametrize("keyword", ["halt_fmax", "halt_sigma", "halt_file", "halt_frames", "halt_every"])
def test_removed_halt_keywords_say_where_halting_went(au_bulk, model_ts, keyword):
    err = error_line(run_lmp(header() + f"pair_style nequip {keyword} 1\npair_coeff * * {model_ts} Au\n", au_bulk))
    assert err.startswith(f"ERROR: pair_style nequip: {keyword} moved to fix halt"), err
    assert "docs/pair_style_nequip.md" in err
