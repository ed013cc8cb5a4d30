"""pair_style nequip on an accelerator equals the CPU reference, on the same compiled file.

Devices under test: every CUDA device torch sees (`cuda`), or the ones named in BEAMHEAT_TEST_DEVICES (for example
"cuda:0 cuda:1"; "cpu" runs the comparison machinery itself on a machine without a GPU). With none, these tests skip
and say so. `scripts/test_gpu.sh` runs them together with the plugin, ensemble and physics tests on a GPU machine.

Bars: float64 models, forces within 1e-8 eV/A and energies within 1e-8 eV per atom of the CPU;
float32 models, within 1e-4 of the largest CPU force (relative), energies within 1e-4 relative.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from beamheat.lammps_run import single_point
from helpers import TYPE_NAMES, deploy_model, rattled, train_model
from models.demo_data import au_cluster_on_slab


def devices() -> list[str]:
    named = os.environ.get("BEAMHEAT_TEST_DEVICES", "").split()
    if named:
        return named
    import torch

    return ["cuda"] if torch.cuda.is_available() else []


DEVICES = devices()
needs_device = pytest.mark.skipif(not DEVICES, reason="no accelerator: torch sees no CUDA device and "
                                                      "BEAMHEAT_TEST_DEVICES is unset")


@pytest.fixture(scope="module")
def model_f32(model_dir, dataset):
    if not DEVICES:
        pytest.skip("no accelerator")
    ckpt = train_model(model_dir, dataset, "tiny_f32", ["model_dtype=float32"])
    return deploy_model(ckpt, model_dir / "tiny_f32.nequip.pth")


def _on(device: str, atoms, model):
    return single_point(atoms, f"nequip device {device}", f"* * {model} {' '.join(TYPE_NAMES)}", TYPE_NAMES)


@needs_device
@pytest.mark.parametrize("device", DEVICES)
def test_float64_model_on_device_equals_cpu(device, model_ts):
    atoms = rattled(au_cluster_on_slab(), seed=11)
    cpu, dev = _on("cpu", atoms, model_ts), _on(device, atoms, model_ts)
    assert np.abs(cpu["forces_eV_per_A"]).max() > 0.05, "trivially small forces: the comparison would be void"
    np.testing.assert_allclose(dev["forces_eV_per_A"], cpu["forces_eV_per_A"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(dev["energies_eV"], cpu["energies_eV"], rtol=0, atol=1e-8)
    assert dev["energy_eV"] == pytest.approx(cpu["energy_eV"], abs=1e-8 * len(atoms))


@needs_device
@pytest.mark.parametrize("device", DEVICES)
def test_float32_model_on_device_within_1e4_relative(device, model_f32):
    atoms = rattled(au_cluster_on_slab(), seed=12)
    cpu, dev = _on("cpu", atoms, model_f32), _on(device, atoms, model_f32)
    f_scale = np.abs(cpu["forces_eV_per_A"]).max()
    assert f_scale > 0.05
    np.testing.assert_allclose(dev["forces_eV_per_A"], cpu["forces_eV_per_A"], rtol=0, atol=1e-4 * f_scale)
    assert dev["energy_eV"] == pytest.approx(cpu["energy_eV"], rel=1e-4)


@needs_device
@pytest.mark.parametrize("device", DEVICES)
def test_ensemble_sigma_f_on_device_equals_cpu(device, ensemble_models, tmp_path):
    """The ensemble's per-atom sigma_F (paper eq. 2) on the device equals the CPU's."""
    from ase.io import write

    from helpers import run_lmp

    atoms = rattled(au_cluster_on_slab(), seed=13)
    atoms.center(vacuum=6.0, axis=2)  # inside the box for read_data with p p f
    write(tmp_path / "s.data", atoms, format="lammps-data", specorder=TYPE_NAMES, masses=True, atom_style="atomic")
    models = " ".join(str(m) for m in ensemble_models)
    out = {}
    for dev in ("cpu", device):
        run_lmp(f"""units metal
atom_style atomic
boundary p p f
read_data s.data
pair_style nequip device {dev}
pair_coeff * * {models} {' '.join(TYPE_NAMES)}
fix s all pair 1 nequip sigma_f 0
dump d all custom 1 sigma_{dev.replace(':', '_')}.txt id f_s fx fy fz
dump_modify d sort id format float %.17g
run 0
""", tmp_path).check_returncode()
        rows = np.loadtxt(tmp_path / f"sigma_{dev.replace(':', '_')}.txt", skiprows=9)
        out[dev] = rows
    assert out["cpu"][:, 1].max() > 1e-4, "sigma_F is zero: the ensemble comparison would be void"
    np.testing.assert_allclose(out[device][:, 1:], out["cpu"][:, 1:], rtol=0, atol=1e-8)


@needs_device
@pytest.mark.parametrize("device", DEVICES)
def test_graph_kept_on_device_equals_host_graph_over_md(device, model_ts, tmp_path):
    """graph_build device on the accelerator (edges selected there between neighbour-list rebuilds) against the
    graph built on the host at every step, same device, over MD with rebuilds, periodic crossings and a box that
    changes every step. The model's scatter-adds on a GPU are not bitwise reproducible, hence 1e-8 eV/A."""
    from graph_build_checks import (assert_same_run, crossed_periodic_sides, device_rebuilds, md_input, run_md,
                                    triclinic_cupdau, write_system)

    runs = {}
    for route in ("host", "device"):
        d = tmp_path / route
        d.mkdir()
        write_system(d, triclinic_cupdau())
        runs[route] = run_md(d, md_input("p p p", f"nequip device {device} graph_build {route}", model_ts, 60,
                                         deform=True))
    assert device_rebuilds(runs["device"]["log"]) >= 4 and crossed_periodic_sides(runs["device"]) > 0
    assert_same_run(runs["device"], runs["host"], f"{device}: device graph vs host graph", f_tol=1e-8,
                    rel_tol=1e-10)


def _per_rank_devices() -> list[str]:
    """The devices two node-local ranks must take (local rank mod GPUs): two GPUs, or the CPU where
    BEAMHEAT_TEST_DEVICES names it (the machinery itself, on a machine without a GPU)."""
    import torch

    if torch.cuda.device_count() >= 2:
        return ["cuda:0", "cuda:1"]
    return ["cpu", "cpu"] if "cpu" in DEVICES else []


@pytest.mark.skipif(not _per_rank_devices(), reason="needs 2 CUDA devices on one node (or BEAMHEAT_TEST_DEVICES=cpu)")
def test_aoti_package_loads_on_each_ranks_own_device(model_dir, checkpoint, tmp_path):
    """Two LAMMPS instances of one rank each on one node (`lmp -partition 2x1`, as independent replicas run): each
    loads the AOTInductor package on its own device, local rank mod GPUs, the rule TorchScript files follow."""
    import subprocess
    import sys

    from beamheat.lammps_command import lmp_command
    from helpers import ROOT, write_data

    expected = _per_rank_devices()
    kind = expected[0].split(":")[0]
    pt2 = model_dir / f"tiny_{kind}.nequip.pt2"
    if not pt2.exists():
        proc = subprocess.run([sys.executable, "-m", "models.deploy", str(checkpoint), str(pt2), "--format",
                               "aotinductor", "--device", kind], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode < 0:
            pytest.skip(f"AOTInductor compile for {kind} died by signal {-proc.returncode} (issue: AOTI on CUDA)")
        assert proc.returncode == 0, proc.stderr[-2000:]
    atoms = rattled(au_cluster_on_slab(), seed=14)
    atoms.center(vacuum=6.0, axis=2)  # inside the box for read_data with p p f
    write_data(tmp_path / "au.data", atoms, specorder=TYPE_NAMES)
    (tmp_path / "in.t").write_text(f"""units metal
atom_style atomic
boundary p p f
read_data au.data
pair_style nequip device {'cuda' if kind == 'cuda' else 'cpu'}
pair_coeff * * {pt2} {' '.join(TYPE_NAMES)}
run 0
""")
    proc = subprocess.run(lmp_command("in.t", nprocs=2, log="log.t", extra=["-partition", "2x1"]), cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for r, dev in enumerate(expected):
        log = (tmp_path / f"log.t.{r}").read_text()
        assert f"pair nequip: loaded aotinductor model {pt2}" in log and f"device = {dev}" in log, log[-2000:]
        assert f"pair nequip: device {dev} on 1 rank(s)" in log
