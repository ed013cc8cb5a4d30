// beamheat: the torch custom-op libraries a compiled NequIP model names, found and loaded before the model.
//
// nequip-compile with a kernel modifier (enable_OpenEquivariance, enable_CuEquivariance) records the Python modules
// whose import registers the torch ops the compiled code calls: in a .nequip.pt2 as the zip entry
// nequip_custom_ops_libs.txt, in a TorchScript file as the extra file nequip_custom_ops_libs. The plugin runs no
// Python, so it loads the shared libraries that register those ops instead (docs/pair_style_nequip.md, "Custom-op
// libraries"). Torch side only (libnequip_torch.so).
#pragma once

#include <string>
#include <vector>

namespace beamheat {

// The module names the model file lists (space-separated in the file); empty when it lists none, or when the file
// is no zip archive (the model loader then says what is wrong with it).
std::vector<std::string> custom_ops_names(const std::string &model_path);

// Makes the ops of `names` available before `model_path` is loaded. `files` (pair_style nequip custom_ops) are
// opened first, in order, and stand for every name; without them each name is looked up in the known-name table
// (custom_ops.cpp), and a name whose ops are already registered in this process needs nothing. Libraries are opened
// with RTLD_NOW | RTLD_GLOBAL, each file once per process. Returns one line per library or name for the log.
// Throws ModelError with a one-line message naming the model file, the library and what to install or set.
std::vector<std::string> load_custom_ops(const std::string &model_path, const std::vector<std::string> &names,
                                         const std::vector<std::string> &files);

}  // namespace beamheat
