"""Custom-op libraries named by the model file (nequip_custom_ops_libs), loaded by `pair_style nequip` before the model.

nequip-compile with `--modifiers enable_OpenEquivariance` or `enable_CuEquivariance` records the Python modules whose
import registers the ops its compiled code calls: a zip entry nequip_custom_ops_libs.txt in a .nequip.pt2, an extra
file nequip_custom_ops_libs in a TorchScript file. The plugin runs no Python: it opens the shared libraries instead,
from `pair_style nequip custom_ops FILE.so[:FILE.so]` or from its table of known modules. Here the entry is added to
the tiny test model's files, and a real torch op library is built with torch.utils.cpp_extension.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from helpers import error_line, header, run_lmp

OP_SOURCE = r"""
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <cstdio>
#include <cstdlib>

static at::Tensor twice(const at::Tensor &x) { return x * 2; }

TORCH_LIBRARY(beamheat_test_ops, m) { m.def("twice(Tensor x) -> Tensor", &twice); }

// after the registration above (same translation unit, in order): what this process's dispatcher holds
static const int marker = [] {
  if (const char *path = std::getenv("BEAMHEAT_TEST_OPS_MARKER")) {
    const bool ok = c10::Dispatcher::singleton().findSchema({"beamheat_test_ops::twice", ""}).has_value();
    if (FILE *f = std::fopen(path, "w")) {
      std::fputs(ok ? "registered" : "missing", f);
      std::fclose(f);
    }
  }
  return 0;
}();
"""


@pytest.fixture(scope="session")
def op_library(model_dir) -> Path:
    """A real torch custom-op library (one TORCH_LIBRARY op), built once and kept with the test models."""
    out = model_dir / "beamheat_test_ops"
    lib = out / "beamheat_test_ops.so"
    if not lib.exists():
        from torch.utils import cpp_extension

        out.mkdir(parents=True, exist_ok=True)
        (out / "op.cpp").write_text(OP_SOURCE)
        # --as-needed: no libtorch_python (Python's symbols), which an `lmp` process cannot resolve
        cpp_extension.load("beamheat_test_ops", [str(out / "op.cpp")], build_directory=str(out),
                           is_python_module=False, extra_ldflags=["-Wl,--as-needed"])
    return lib


def with_entry(model: Path, out: Path, names: str) -> Path:
    """A copy of MODEL whose file names the custom-op modules NAMES, where nequip-compile puts them."""
    shutil.copy(model, out)
    with zipfile.ZipFile(out, "a") as z:
        if out.suffix == ".pt2":
            z.writestr("nequip_custom_ops_libs.txt", names)
        else:  # TorchScript: an extra file inside the archive's folder
            folder = z.namelist()[0].split("/")[0]
            z.writestr(f"{folder}/extra/nequip_custom_ops_libs", names)
    return out


def forces_run(cwd: Path, model: Path, style: str = "pair_style nequip device cpu", env=None):
    """run 0 with MODEL: the process, the log, and the forces and energy printed to 17 digits."""
    text = header() + f"""{style}
pair_coeff * * {model} Au
dump f all custom 1 forces.dump id fx fy fz
dump_modify f sort id format float %.17g
thermo_style custom step pe
thermo_modify format float %.17g
run 0
"""
    proc = run_lmp(text, cwd, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc, (cwd / "log.test").read_text(), (cwd / "forces.dump").read_text()


def pe(log: str) -> str:
    lines = log.splitlines()
    return lines[[i for i, ln in enumerate(lines) if ln.split()[:2] == ["Step", "PotEng"]][0] + 1].split()[1]


@pytest.mark.parametrize("fmt", ["aoti", "torchscript"])
def test_library_named_by_the_file_loads_and_changes_nothing(au_bulk, model_aoti, model_ts, op_library, fmt):
    """The entry names a module beamheat does not know; custom_ops gives its library: the library is opened before
    the model (its op is in the process's dispatcher), the log says so, and the forces and energy are those of the
    same file without the entry, to the last bit."""
    model = model_aoti if fmt == "aoti" else model_ts
    named = with_entry(model, au_bulk / f"named{model.suffix}", "beamheat_test_ops")
    marker = au_bulk / "marker"
    _, log, forces = forces_run(au_bulk, named, f"pair_style nequip device cpu custom_ops {op_library}",
                                env={"BEAMHEAT_TEST_OPS_MARKER": str(marker)})
    assert f"pair nequip: custom ops for {named}: {op_library} (pair_style nequip custom_ops, for beamheat_test_ops)" \
        in log
    assert marker.read_text() == "registered"
    _, log_plain, forces_plain = forces_run(au_bulk, model)
    assert forces == forces_plain and len(forces.splitlines()) == 9 + 108
    assert pe(log) == pe(log_plain)


def test_file_without_entry_is_unchanged(au_bulk, model_aoti):
    """No entry, no keyword: nothing is loaded and the log has no custom-ops line."""
    _, log, _ = forces_run(au_bulk, model_aoti)
    assert "custom ops" not in log and f"pair nequip: loaded aotinductor model {model_aoti}" in log


def test_known_module_not_installed_is_one_line(au_bulk, model_aoti):
    """openequivariance is in the known-name table, but its library is not installed here."""
    import importlib.util

    if importlib.util.find_spec("openequivariance") is not None:
        pytest.skip("openequivariance is installed here")
    named = with_entry(model_aoti, au_bulk / "oeq.nequip.pt2", "openequivariance")
    err = error_line(run_lmp(header() + f"pair_style nequip device cpu\npair_coeff * * {named} Au\nrun 0\n", au_bulk))
    assert err.startswith(f"ERROR: pair nequip: {named}: needs the custom ops of 'openequivariance': "
                          "openequivariance/_torch/extlib/liboeq_stable_cuda_aoti.so is not under ")
    assert "pip install openequivariance" in err and "pair_style nequip custom_ops FILE.so" in err


def test_cuequivariance_says_why_it_cannot_load(au_bulk, model_aoti):
    """cuEquivariance's ops are Python functions: no library registers them in a process without Python."""
    named = with_entry(model_aoti, au_bulk / "cueq.nequip.pt2", "cuequivariance_torch")
    err = error_line(run_lmp(header() + f"pair_style nequip device cpu\npair_coeff * * {named} Au\nrun 0\n", au_bulk))
    assert f"{named}: needs the custom ops of 'cuequivariance_torch' (pip install cuequivariance-torch " \
           "cuequivariance-ops-torch-cu12)" in err
    assert "registers its ops from Python" in err and "enable_OpenEquivariance" in err


def test_unknown_module_asks_for_the_keyword(au_bulk, model_ts):
    named = with_entry(model_ts, au_bulk / "unknown.nequip.pth", "some_ops_module")
    err = error_line(run_lmp(header() + f"pair_style nequip device cpu\npair_coeff * * {named} Au\nrun 0\n", au_bulk))
    assert f"{named}: needs the custom ops of Python module 'some_ops_module'" in err
    assert "pair_style nequip custom_ops FILE.so" in err


@pytest.mark.parametrize("value, expected", [
    ("{dir}/missing.so", "custom-op library {dir}/missing.so (pair_style nequip custom_ops) cannot be read"),
    ("{dir}/au.data", "cannot load custom-op library {dir}/au.data (pair_style nequip custom_ops): "),
    ("{dir}/a.so::{dir}/b.so", "custom_ops '{dir}/a.so::{dir}/b.so' has an empty entry"),
])
def test_bad_custom_ops_keyword_is_one_line(au_bulk, model_ts, value, expected):
    value, expected = value.format(dir=au_bulk), expected.format(dir=au_bulk)
    err = error_line(run_lmp(header() + f"pair_style nequip device cpu custom_ops {value}\n"
                             f"pair_coeff * * {model_ts} Au\nrun 0\n", au_bulk))
    assert expected in err
