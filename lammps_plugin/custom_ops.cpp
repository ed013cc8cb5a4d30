// beamheat: the custom-op libraries a compiled NequIP model names (custom_ops.h). Torch side: libnequip_torch.so.
#include "custom_ops.h"

#include "nequip_model.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <caffe2/serialize/inline_container.h>
#include <dlfcn.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

// torch's own zip reader (miniz, exported by libtorch_cpu) for the .pt2 entry that nequip appends at the archive's
// top level, outside the package folder that PyTorchStreamReader reads
extern "C" void *mz_zip_extract_archive_file_to_heap(const char *zip, const char *name, size_t *size, unsigned flags);
extern "C" void mz_free(void *p);

namespace beamheat {

namespace {

// The Python modules nequip's modifiers name, and what registers their ops without Python. `files` are relative to
// a site-packages folder (the one torch was loaded from, then each PYTHONPATH entry), tried in order; `probe` is one
// op each registers, so that ops already in the process (LAMMPS started from Python after the import) need nothing.
struct KnownOps {
  const char *module;
  const char *probe;
  std::vector<const char *> files;  // empty: no library registers the ops (`without` says why and what to do)
  const char *install;
  const char *without;
};

const std::vector<KnownOps> &known_ops() {
  static const std::vector<KnownOps> table = {
      {"openequivariance", "libtorch_tp_jit::jit_conv_forward",
       {"openequivariance/_torch/extlib/liboeq_stable_cuda_aoti.so"},
       "pip install openequivariance (CUDA torch >= 2.10; it builds liboeq_stable_cuda_aoti.so)", ""},
      {"cuequivariance_torch", "cuequivariance::fused_tensor_product", {},
       "pip install cuequivariance-torch cuequivariance-ops-torch-cu12",
       "cuEquivariance registers its ops from Python (torch.library.custom_op in cuequivariance_ops_torch) and ships "
       "no library that registers them without Python: run LAMMPS from Python after `import cuequivariance_torch`, "
       "or compile the model with enable_OpenEquivariance"},
  };
  return table;
}

std::string join(const std::vector<std::string> &v, const char *sep) {
  std::string s;
  for (const auto &w : v) s += (s.empty() ? "" : sep) + w;
  return s;
}

bool op_registered(const char *name) {
  return c10::Dispatcher::singleton().findSchema(c10::OperatorName(name, "")).has_value();
}

// the site-packages folders to look in: torch's own (.../site-packages/torch/lib/libtorch_cpu.so), then PYTHONPATH
std::vector<std::string> site_dirs() {
  std::vector<std::string> dirs;
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&c10::Dispatcher::singleton), &info) != 0 && info.dli_fname != nullptr) {
    std::string p = info.dli_fname;
    for (int up = 0; up < 3 && p.rfind('/') != std::string::npos; up++) p = p.substr(0, p.rfind('/'));
    if (!p.empty()) dirs.push_back(p);
  }
  if (const char *pp = std::getenv("PYTHONPATH")) {
    std::istringstream in(pp);
    for (std::string d; std::getline(in, d, ':');)
      if (!d.empty()) dirs.push_back(d);
  }
  return dirs;
}

bool readable(const std::string &path) { return std::ifstream(path, std::ios::binary).good(); }

// dlopen once per process; returns "" or dlerror's text
std::string open_library(const std::string &path) {
  static std::mutex lock;
  static std::set<std::string> opened;
  std::lock_guard<std::mutex> guard(lock);
  if (opened.count(path)) return "";
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char *why = dlerror();
    return why ? why : "unknown dlopen error";
  }
  opened.insert(path);
  return "";
}

}  // namespace

std::vector<std::string> custom_ops_names(const std::string &model_path) {
  std::string text;
  size_t size = 0;
  if (void *data = mz_zip_extract_archive_file_to_heap(model_path.c_str(), "nequip_custom_ops_libs.txt", &size, 0)) {
    text.assign(static_cast<const char *>(data), size);  // .nequip.pt2
    mz_free(data);
  } else {
    try {  // TorchScript: nequip's metadata key as an extra file
      caffe2::serialize::PyTorchStreamReader reader(model_path);
      if (reader.hasRecord("extra/nequip_custom_ops_libs")) {
        auto record = reader.getRecord("extra/nequip_custom_ops_libs");
        text.assign(static_cast<const char *>(std::get<0>(record).get()), std::get<1>(record));
      }
    } catch (const c10::Error &) {
      // not a torch archive: the loader says so
    }
  }
  std::istringstream in(text);
  std::vector<std::string> names;
  for (std::string w; in >> w;) names.push_back(w);
  return names;
}

std::vector<std::string> load_custom_ops(const std::string &model_path, const std::vector<std::string> &names,
                                         const std::vector<std::string> &files) {
  static const std::string set_it = "pair_style nequip custom_ops FILE.so[:FILE2.so]";
  std::vector<std::string> log;
  for (const auto &f : files) {
    if (!readable(f))
      throw ModelError(model_path + ": custom-op library " + f + " (pair_style nequip custom_ops) cannot be read");
    const std::string why = open_library(f);
    if (!why.empty())
      throw ModelError(model_path + ": cannot load custom-op library " + f + " (pair_style nequip custom_ops): " + why);
    log.push_back(f + " (pair_style nequip custom_ops" + (names.empty() ? "" : ", for " + join(names, " ")) + ")");
  }
  if (!files.empty()) return log;
  for (const auto &name : names) {
    const KnownOps *k = nullptr;
    for (const auto &entry : known_ops())
      if (name == entry.module) k = &entry;
    if (k == nullptr)
      throw ModelError(model_path + ": needs the custom ops of Python module '" + name +
                       "', which beamheat cannot load without Python: give the shared library that registers them "
                       "with " + set_it);
    if (op_registered(k->probe)) {
      log.push_back(name + ": ops already registered in this process (" + k->probe + ")");
      continue;
    }
    if (k->files.empty())
      throw ModelError(model_path + ": needs the custom ops of '" + name + "' (" + k->install + "); " + k->without);
    const std::vector<std::string> dirs = site_dirs();
    std::string found;
    for (const char *rel : k->files)
      for (const auto &d : dirs)
        if (found.empty() && readable(d + "/" + rel)) found = d + "/" + rel;
    if (found.empty())
      throw ModelError(model_path + ": needs the custom ops of '" + name + "': " + k->files.front() +
                       " is not under " + join(dirs, ", ") + "; " + k->install + ", or give the library with " +
                       set_it);
    const std::string why = open_library(found);
    if (!why.empty())
      throw ModelError(model_path + ": cannot load " + found + " for the custom ops of '" + name + "': " + why + "; " +
                       k->install + " for this torch, or give the library with " + set_it);
    if (!op_registered(k->probe))
      throw ModelError(model_path + ": " + found + " loaded but registered no " + k->probe + " (another version of '" +
                       name + "'?); " + k->install + ", or give the library with " + set_it);
    log.push_back(name + ": " + found);
  }
  return log;
}

}  // namespace beamheat
