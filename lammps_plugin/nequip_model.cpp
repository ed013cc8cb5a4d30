// beamheat: loading and evaluating compiled NequIP models with libtorch (no LAMMPS headers here).
//
// Three file formats, recognised by their metadata rather than their name:
//   torchscript  nequip >= 0.7 `.nequip.pth`: extra files r_max, type_names, num_types, model_dtype, ...;
//                dict input with float64 positions; outputs atomic_energy, total_energy, forces, virial.
//   aotinductor  nequip >= 0.7 `.nequip.pt2` (target pair_nequip): a zip package for torch's AOTI loader whose
//                metadata lists the input and output fields in call order.
//   legacy       nequip <= 0.6 deployed `.pth`: extra files nequip_version, n_species, r_max, type_names
//                (model_dtype/default_dtype from 0.6); dict input with (3,3) cell and float32 positions unless
//                the file says float64; outputs total_energy, forces, atomic_energy and, if trained with
//                stress, virial.
#include "nequip_model.h"

#include "custom_ops.h"

#include <torch/script.h>
#include <torch/torch.h>

#if __has_include(<torch/csrc/inductor/aoti_package/model_package_loader.h>)
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#define BEAMHEAT_HAVE_AOTI 1
#else
#define BEAMHEAT_HAVE_AOTI 0
#endif

#include <algorithm>
#include <functional>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace beamheat {

namespace {

std::vector<std::string> split_ws(const std::string &s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string first_line(const std::string &s) {
  auto pos = s.find('\n');
  return pos == std::string::npos ? s : s.substr(0, pos);
}

// the line of an exception's text that says what went wrong: an error raised inside a TorchScript model opens with
// a generic line and a traceback and ends with the error itself ("RuntimeError: ..."); other errors say it first
std::string error_line(const std::string &s) {
  static const std::string generic = "The following operation failed in the TorchScript interpreter.";
  const size_t end = s.find_last_not_of(" \t\r\n");
  if (s.compare(0, generic.size(), generic) != 0 || end == std::string::npos) return first_line(s);
  const size_t nl = s.rfind('\n', end);
  const size_t start = nl == std::string::npos ? 0 : nl + 1;
  return s.substr(start, end + 1 - start);
}

double parse_double(const std::string &what, const std::string &value, const std::string &path) {
  try {
    size_t used = 0;
    double v = std::stod(value, &used);
    if (used == 0) throw std::invalid_argument(value);
    return v;
  } catch (const std::exception &) {
    throw ModelError(path + ": metadata '" + what + "' is not a number: '" + value + "'");
  }
}

bool is_zip(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {0};
  f.read(magic, 4);
  return f.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K';
}

torch::Device choose_device(const std::string &request, int local_rank, const std::string &path) {
  const bool cuda_ok = torch::cuda::is_available();
  if (request == "cpu") return torch::Device(torch::kCPU);
  if (request == "auto" && !cuda_ok) return torch::Device(torch::kCPU);
  if (!cuda_ok)
    throw ModelError(path + ": device '" + request + "' requested but this torch sees no CUDA device");
  if (request.rfind("cuda:", 0) == 0) return torch::Device(request);
  const int n = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % n));
}

torch::Dtype dtype_from_name(const std::string &name, const std::string &path) {
  if (name == "float64" || name == "double") return torch::kFloat64;
  if (name == "float32" || name == "float") return torch::kFloat32;
  throw ModelError(path + ": unsupported model dtype '" + name + "'");
}

// N for a child module named layerN_convnet (nequip's interaction layers), else -1
int convnet_layer(const std::string &name) {
  const std::string pre = "layer", post = "_convnet";
  if (name.size() <= pre.size() + post.size() || name.compare(0, pre.size(), pre) != 0 ||
      name.compare(name.size() - post.size(), post.size(), post) != 0)
    return -1;
  const std::string mid = name.substr(pre.size(), name.size() - pre.size() - post.size());
  if (!std::all_of(mid.begin(), mid.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoi(mid);
}

using Fields = c10::Dict<std::string, torch::Tensor>;

Fields typed(const c10::IValue &v) { return c10::impl::toTypedDict<std::string, torch::Tensor>(v.toGenericDict()); }

// the first n_keep nodes and e_keep edges of a graph: node and edge fields are told apart by their first dimension
// (the caller makes sure the node and edge counts differ and exceed 1, the graph fields' first dimension)
Fields narrow_graph(const Fields &in, int64_t n_keep, int64_t e_keep) {
  const int64_t n = in.at("pos").size(0), e = in.at("edge_index").size(1);
  Fields out;
  for (const auto &kv : in) {
    torch::Tensor v = kv.value();
    if (kv.key() == "edge_index") v = v.narrow(1, 0, e_keep);
    else if (v.dim() >= 1 && v.size(0) == n) v = v.narrow(0, 0, n_keep);
    else if (v.dim() >= 1 && v.size(0) == e) v = v.narrow(0, 0, e_keep);
    out.insert(kv.key(), v);
  }
  return out;
}

}  // namespace

// The graph on the models' device (nequip_model.h): candidates and types copied at each neighbour-list rebuild,
// positions and cell each step, edges within the cutoff selected there with tensor ops.
class TorchDeviceGraph final : public DeviceGraph {
 public:
  TorchDeviceGraph(const std::string &device, const std::vector<double> &cutsq, int n_types)
      : device_(device), n_types_(n_types) {
    if (static_cast<int64_t>(cutsq.size()) != static_cast<int64_t>(n_types) * n_types)
      throw ModelError("device graph: expected " + std::to_string(n_types * n_types) + " cutoffs, got " +
                       std::to_string(cutsq.size()));
    cutsq_ = torch::tensor(cutsq, torch::TensorOptions().dtype(torch::kFloat64)).to(device_);
  }

  void set_candidates(const Graph &c) override {
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
    // copies: the host buffers are reused by the caller
    auto dev = [&](const void *data, c10::IntArrayRef shape, const torch::TensorOptions &o) {
      if (c10::multiply_integers(shape) == 0) return torch::empty(shape, o.device(device_));  // no atoms here
      return torch::from_blob(const_cast<void *>(data), shape, o).to(device_, o.dtype().toScalarType(), false, true);
    };
    n_nodes_ = c.n_nodes;
    types_ = dev(c.atom_types, {c.n_nodes}, i64);
    index_ = dev(c.edge_index, {2, c.n_edges}, i64);
    shift_ = dev(c.edge_shift, {c.n_edges, 3}, f64);
    // cutoff^2 of each candidate's type pair (centre, neighbour)
    shift_cell_ = torch::Tensor();
    edge_cutsq_ = cutsq_.index_select(
        0, types_.index_select(0, index_[0]) * n_types_ + types_.index_select(0, index_[1]));
    shifted_ = false;
    for (int64_t k = 0; k < 3 * c.n_edges && !shifted_; k++) shifted_ = c.edge_shift[k] != 0.0;
    n_hops_ = c.n_hops;
    hop_nodes_.assign(c.hop_nodes ? c.hop_nodes : nullptr, c.hop_nodes ? c.hop_nodes + c.n_hops + 1 : nullptr);
    std::vector<int64_t> bounds(c.hop_edges ? c.hop_edges : nullptr, c.hop_edges ? c.hop_edges + c.n_hops : nullptr);
    hop_bounds_ = torch::tensor(bounds, i64).to(device_);
    hop_edges_.assign(bounds.size(), 0);
  }

  void update(const double *pos, const double cell[9], Graph &g) override {
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    pos_ = n_nodes_ > 0 ? torch::from_blob(const_cast<double *>(pos), {n_nodes_, 3}, f64)
                              .to(device_, torch::kFloat64, false, true)
                        : torch::empty({0, 3}, f64.device(device_));
    // the candidates' shift . cell, recomputed when the cell changed (fix deform, npt) or the candidates did
    if (!shift_cell_.defined() || std::memcmp(cell, cell_host_, sizeof(cell_host_)) != 0) {
      std::memcpy(cell_host_, cell, sizeof(cell_host_));
      cell_ = torch::from_blob(cell_host_, {3, 3}, f64).to(device_, torch::kFloat64, false, true);
      shift_cell_ = shift_.mm(cell_);
    }
    // x_neighbour - x_centre = pos[dst] - pos[src] + shift . cell; its length squared summed as on the host
    const torch::Tensor d = pos_.index_select(0, index_[1]) - pos_.index_select(0, index_[0]) + shift_cell_;
    const torch::Tensor dx = d.select(1, 0), dy = d.select(1, 1), dz = d.select(1, 2);
    const torch::Tensor keep = (dx * dx + dy * dy + dz * dz).lt(edge_cutsq_);
    const torch::Tensor kept = keep.nonzero().view({-1});
    edge_index_ = index_.index_select(1, kept);
    edge_shift_ = shift_.index_select(0, kept);
    if (n_hops_ > 0) {  // edges kept per hop group: the running count at each group's end
      const torch::Tensor running = torch::cat({torch::zeros({1}, keep.options().dtype(torch::kInt64)),
                                                keep.to(torch::kInt64).cumsum(0)});
      const torch::Tensor ends = running.index_select(0, hop_bounds_).to(torch::kCPU).contiguous();
      std::memcpy(hop_edges_.data(), ends.data_ptr<int64_t>(), sizeof(int64_t) * n_hops_);
    }
    g.n_nodes = n_nodes_;
    g.n_edges = edge_index_.size(1);
    g.pos = pos;
    g.atom_types = nullptr;
    g.edge_index = nullptr;
    g.edge_shift = nullptr;
    std::memcpy(g.cell, cell, sizeof(double) * 9);
    g.n_hops = n_hops_;
    g.hop_nodes = n_hops_ > 0 ? hop_nodes_.data() : nullptr;
    g.hop_edges = n_hops_ > 0 ? hop_edges_.data() : nullptr;
    g.on_device = this;
  }

  int64_t n_candidates() const override { return index_.defined() ? index_.size(1) : 0; }

  torch::Device device_;
  int n_types_;
  torch::Tensor cutsq_, types_, index_, shift_, edge_cutsq_, hop_bounds_;
  torch::Tensor pos_, cell_, edge_index_, edge_shift_;  // this step's
  torch::Tensor shift_cell_;  // shift_ . cell_ (undefined: to be computed)
  double cell_host_[9] = {0};
  int64_t n_nodes_ = 0;
  int n_hops_ = 0;
  bool shifted_ = false;  // some candidate has a cell shift
  std::vector<int64_t> hop_nodes_, hop_edges_;
};

// g's device graph, which must live on the model's device
static const TorchDeviceGraph &device_graph(const Graph &g, const torch::Device &device, const std::string &path) {
  const auto *dg = dynamic_cast<const TorchDeviceGraph *>(g.on_device);
  if (dg == nullptr) throw ModelError(path + ": the device graph is not this torch library's");
  if (dg->device_ != device)
    throw ModelError(path + ": the device graph is on " + dg->device_.str() + ", the model on " + device.str());
  return *dg;
}

struct Impl {
  ModelInfo info;
  torch::Device device{torch::kCPU};
  torch::Dtype input_dtype = torch::kFloat64;
  torch::jit::Module module;
  torch::jit::Module energy;  // the energy model inside nequip's force/stress wrapper (unfrozen until first use)
  bool energy_frozen = false;
  // the energy model's modules in call order (nequip's SequentialGraphNetwork), for layer-wise pruning;
  // layer = N for layerN_convnet, else -1
  struct Stage {
    torch::jit::Module module;
    int layer = -1;
  };
  std::vector<Stage> stages;
  bool stages_frozen = false, pruning_checked = false;
  std::string pruning_off;  // why compute_local's first check turned layer-wise pruning off (empty: it did not)
  int pruned_layers() const { return pruning_off.empty() ? info.pruned_layers : 0; }
#if BEAMHEAT_HAVE_AOTI
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> aoti;
#endif
  std::vector<std::string> aoti_inputs, aoti_outputs;

  void load_torchscript(const std::string &path, const std::string &device_req, int local_rank);
  void load_aoti(const std::string &path, const std::string &device_req, int local_rank);
  void common_metadata(const std::unordered_map<std::string, std::string> &md, const std::string &path);
  void probe_exchange(int layers);
  void freeze_stages();  // once, before the stages are first run one by one
};

void Impl::freeze_stages() {
  if (stages_frozen) return;
  for (auto &s : stages) {
    s.module.eval();
    try {
      s.module = torch::jit::freeze(s.module);
    } catch (const c10::Error &) {
      // optimisation only
    }
  }
  stages_frozen = true;
}

// A ghost graph's fields on the model's device (float64, cell (1,3,3)), positions a leaf to differentiate. Edges to
// periodic images of nodes carry cell shifts (`shifted`): then the cell is a leaf too, since their part of the
// virial is -cell^T . dE/dcell.
static Fields ghost_fields(const Graph &g, const torch::Device &device, const std::string &path, bool &shifted) {
  Fields data;
  if (g.on_device) {  // the tensors stay the device graph's: detach() gives the model its own handles
    const TorchDeviceGraph &dg = device_graph(g, device, path);
    shifted = dg.shifted_;
    data.insert("pos", dg.pos_.detach().requires_grad_(true));
    data.insert("edge_index", dg.edge_index_);
    data.insert("atom_types", dg.types_);
    data.insert("cell", dg.cell_.detach().view({1, 3, 3}).requires_grad_(shifted));
    data.insert("edge_cell_shift", dg.edge_shift_);
    return data;
  }
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  auto dev = [&](torch::Tensor t) { return t.to(device, t.scalar_type(), false, true); };
  shifted = false;
  for (int64_t k = 0; k < 3 * g.n_edges && !shifted; k++) shifted = g.edge_shift[k] != 0.0;
  data.insert("pos", dev(torch::from_blob(const_cast<double *>(g.pos), {g.n_nodes, 3}, f64)).requires_grad_(true));
  data.insert("edge_index", dev(torch::from_blob(const_cast<int64_t *>(g.edge_index), {2, g.n_edges}, i64)));
  data.insert("atom_types", dev(torch::from_blob(const_cast<int64_t *>(g.atom_types), {g.n_nodes}, i64)));
  data.insert("cell", dev(torch::from_blob(const_cast<double *>(g.cell), {1, 3, 3}, f64)).requires_grad_(shifted));
  data.insert("edge_cell_shift", dev(torch::from_blob(const_cast<double *>(g.edge_shift), {g.n_edges, 3}, f64)));
  return data;
}

/* Can node features be exchanged between layers (compute_exchange)? A probe, run once at load: a chain of 8 atoms
   (each within the cutoff of its neighbours only) through the whole model, and the way a rank that owns atoms 0-2
   would see it: their edges only, atom 3 as a ghost whose features entering each layer come from the whole chain
   (its owner). The own atoms' features and energies must agree; anything else a layer kept per node or per edge
   besides the node features (a neighbour count, say) would show here. Records the feature widths entering layers
   1..L-1. */
void Impl::probe_exchange(int layers) {
  info.exchange_widths.clear();
  info.exchange_note.clear();
  const double cut = info.per_edge_type_cutoff.empty() ? info.r_max : info.per_edge_type_cutoff.front();
  const int N = 8, n_own = 3, n_ex = 4;  // chain atoms; own atoms; nodes of the rank's graph (own + atom 3)
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(device);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
  std::vector<double> xyz;
  for (int i = 0; i < N; i++)
    for (double v : {0.55 * i, 0.2 * (i % 2), 0.1 * (i % 3)}) xyz.push_back(v * cut);
  auto graph = [&](int n, const std::vector<int64_t> &src, const std::vector<int64_t> &dst) {
    std::vector<int64_t> ei(src);
    ei.insert(ei.end(), dst.begin(), dst.end());
    const int64_t e = static_cast<int64_t>(src.size());
    Fields d;
    d.insert("pos", torch::tensor(std::vector<double>(xyz.begin(), xyz.begin() + 3 * n), f64).view({n, 3}));
    d.insert("edge_index", torch::tensor(ei, i64).view({2, e}));
    d.insert("atom_types", torch::zeros({n}, i64));
    d.insert("cell", (100.0 * torch::eye(3, f64)).view({1, 3, 3}));
    d.insert("edge_cell_shift", torch::zeros({e, 3}, f64));
    return d;
  };
  std::vector<int64_t> src, dst, src_ex, dst_ex;
  for (int i = 0; i < N; i++)
    for (int j : {i - 1, i + 1})
      if (j >= 0 && j < N) {
        src.push_back(i);
        dst.push_back(j);
        if (i < n_own) src_ex.push_back(i), dst_ex.push_back(j);
      }
  // run the stages; before layer k >= 1, `entering` sees the node features (and may replace rows)
  auto run = [&](Fields data, const std::function<void(int, torch::Tensor &)> &entering) {
    for (auto &st : stages) {
      if (st.layer >= 1) {
        if (!data.contains("node_features") || data.at("node_features").dim() != 2)
          throw ModelError("no two-dimensional node_features before layer " + std::to_string(st.layer));
        torch::Tensor h = data.at("node_features");
        entering(st.layer, h);
        data.insert_or_assign("node_features", h);
      }
      data = typed(st.module.forward({data}));
    }
    if (!data.contains("atomic_energy")) throw ModelError("no atomic_energy");
    return data.at("atomic_energy").reshape({-1}).to(torch::kFloat64);
  };
  std::vector<int> widths;
  std::ostringstream why;
  try {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> whole;  // the whole chain's node features entering layers 1..L-1
    const torch::Tensor e_whole = run(graph(N, src, dst), [&](int, torch::Tensor &h) {
      whole.push_back(h.clone());
      widths.push_back(static_cast<int>(h.size(1)));
    });
    double worst = 0.0;
    const torch::Tensor e_ex = run(graph(n_ex, src_ex, dst_ex), [&](int l, torch::Tensor &h) {
      const torch::Tensor &ref = whole.at(l - 1);
      worst = std::max(worst, (h.narrow(0, 0, n_own) - ref.narrow(0, 0, n_own)).abs().max().item<double>());
      h = h.clone();
      h.narrow(0, n_own, n_ex - n_own).copy_(ref.narrow(0, n_own, n_ex - n_own));
    });
    worst = std::max(worst, (e_ex.narrow(0, 0, n_own) - e_whole.narrow(0, 0, n_own)).abs().max().item<double>());
    const double tol = info.model_dtype == "float32" ? 1e-4 : 1e-10;
    const double scale = std::max(1.0, e_whole.abs().max().item<double>());
    if (!(worst <= tol * scale))
      why << "with the neighbours' features exchanged, own atoms' features or energies differ by " << worst
          << " on a probe chain: the layers keep more per node or per edge than their features";
  } catch (const std::exception &e) {
    why << "a probe of the layers failed: " << error_line(e.what());
  }
  if (why.str().empty() && static_cast<int>(widths.size()) != layers - 1) why << "the layers are not called in order";
  if (!why.str().empty()) {
    info.exchange_note = why.str();
    return;
  }
  info.exchange_widths = widths;
}

void Impl::common_metadata(const std::unordered_map<std::string, std::string> &md,
                                  const std::string &path) {
  auto get = [&](const char *k) {
    auto it = md.find(k);
    return it == md.end() ? std::string() : it->second;
  };
  const std::string r_max = get("r_max"), type_names = get("type_names");
  if (r_max.empty() || type_names.empty())
    throw ModelError(path + ": not a NequIP model (no r_max/type_names metadata)");
  info.r_max = parse_double("r_max", r_max, path);
  info.type_names = split_ws(type_names);
  const std::string n_types = !get("num_types").empty() ? get("num_types") : get("n_species");
  if (!n_types.empty() && std::stoul(n_types) != info.type_names.size())
    throw ModelError(path + ": metadata lists " + n_types + " types but " +
                     std::to_string(info.type_names.size()) + " type names");
  const std::string cut = get("per_edge_type_cutoff");
  if (!cut.empty()) {
    for (auto &w : split_ws(cut)) info.per_edge_type_cutoff.push_back(parse_double("per_edge_type_cutoff", w, path));
    const size_t nt = info.type_names.size();
    if (info.per_edge_type_cutoff.size() != nt * nt)
      throw ModelError(path + ": per_edge_type_cutoff has " + std::to_string(info.per_edge_type_cutoff.size()) +
                       " values, expected num_types^2 = " + std::to_string(nt * nt));
  }
  info.nequip_version = get("nequip_version");
  const std::string blocks = get("interaction_blocks");
  if (!blocks.empty()) {
    const double b = parse_double("interaction_blocks", blocks, path);
    if (b < 1 || b != std::floor(b))
      throw ModelError(path + ": metadata 'interaction_blocks' must be a positive integer, not '" + blocks + "'");
    info.interaction_blocks = static_cast<int>(b);
    info.blocks_source = "the model file's metadata";
  }
}

/* L of a TorchScript nequip model from its modules, as models.deploy counts it: one per interaction layer
   (nequip.nn.ConvNetLayer), or 1 for a model of the allegro package (strictly local); 0 if neither is found. Sets
   WHERE to what the log says. The names are TorchScript's qualified type names, e.g.
   __torch__.nequip.nn.interaction_block.ConvNetLayer (TorchScript may insert ___torch_mangle_N before the class). */
static int blocks_from_modules(const torch::jit::Module &module, std::string &where) {
  static const std::string conv = ".ConvNetLayer", allegro = "__torch__.allegro.";
  int layers = 0;
  bool is_allegro = false;
  for (const auto &sub : module.modules()) {
    const auto name = sub.type()->name();
    if (!name) continue;
    const std::string q = name->qualifiedName();
    if (q.size() > conv.size() && q.compare(q.size() - conv.size(), conv.size(), conv) == 0) ++layers;
    if (q.rfind(allegro, 0) == 0) is_allegro = true;
  }
  if (layers > 0) where = "the model's " + std::to_string(layers) + " ConvNetLayer modules";
  else if (is_allegro) where = "the model's modules (Allegro: strictly local)";
  return layers > 0 ? layers : (is_allegro ? 1 : 0);
}

void Impl::load_torchscript(const std::string &path, const std::string &device_req, int local_rank) {
  std::unordered_map<std::string, std::string> md = {
      {"r_max", ""},          {"type_names", ""},     {"num_types", ""},      {"n_species", ""},
      {"model_dtype", ""},    {"default_dtype", ""},  {"allow_tf32", ""},     {"nequip_version", ""},
      {"per_edge_type_cutoff", ""}, {"interaction_blocks", ""}};
  torch::jit::ExtraFilesMap extra(md.begin(), md.end());
  device = choose_device(device_req, local_rank, path);
  // the TorchScript fusion strategy nequip's own runtime uses (nequip.utils.global_state): dynamic shapes, since
  // the number of edges changes every step
  static bool fusion_set = false;
  if (!fusion_set) {
    torch::jit::FusionStrategy strategy = {{torch::jit::FusionBehavior::DYNAMIC, 10}};
    torch::jit::setFusionStrategy(strategy);
    fusion_set = true;
  }
  try {
    module = torch::jit::load(path, device, extra);
  } catch (const c10::Error &e) {
    throw ModelError(path + ": cannot load as a TorchScript model (corrupt or not a model file): " +
                     first_line(e.what_without_backtrace()));
  }
  for (auto &kv : extra) md[kv.first] = kv.second;
  common_metadata(md, path);

  const bool legacy = !md["n_species"].empty() || (md["num_types"].empty() && !md["nequip_version"].empty());
  if (legacy) {
    info.format = "legacy";
    // nequip <= 0.6: model_dtype (0.6) or default_dtype decides the input dtype; float32 before that.
    info.model_dtype = !md["model_dtype"].empty() ? md["model_dtype"] : "float32";
    const std::string in = !md["default_dtype"].empty() ? md["default_dtype"] : info.model_dtype;
    input_dtype = dtype_from_name(in, path);
  } else {
    info.format = "torchscript";
    info.model_dtype = md["model_dtype"].empty() ? "float64" : md["model_dtype"];
    dtype_from_name(info.model_dtype, path);
    input_dtype = torch::kFloat64;  // nequip >= 0.7 always takes float64 positions
  }
  info.input_dtype = input_dtype == torch::kFloat64 ? "float64" : "float32";
  if (md["allow_tf32"] == "1" && device.is_cuda()) {
    at::globalContext().setAllowTF32CuBLAS(true);
    at::globalContext().setAllowTF32CuDNN(true);
  }
  module.eval();
  if (!legacy && info.interaction_blocks == 0) info.interaction_blocks = blocks_from_modules(module, info.blocks_source);
  // nequip >= 0.7 wraps its energy model as model.func inside the force/stress output module: keep a handle for
  // compute_local (forces of a subset's energy), taken before freezing inlines the submodules
  if (!legacy && module.hasattr("model")) {
    const auto wrapper = module.attr("model");
    if (wrapper.isModule() && wrapper.toModule().hasattr("func") && wrapper.toModule().attr("func").isModule()) {
      energy = wrapper.toModule().attr("func").toModule();
      info.local_energy_ok = true;
      // layer-wise pruning needs the modules one by one: only for nequip's sequential network with >= 2 layers
      const auto name = energy.type()->name();
      if (name && name->qualifiedName().find("SequentialGraphNetwork") != std::string::npos) {
        int layers = 0;
        for (const auto &child : energy.named_children()) {
          const int l = convnet_layer(child.name);
          layers = std::max(layers, l + 1);
          stages.push_back({child.value, l});
        }
        if (layers >= 2) {
          info.pruned_layers = layers;
          probe_exchange(layers);
        } else {
          stages.clear();
        }
      }
    }
  }
  try {
    module = torch::jit::freeze(module);
  } catch (const c10::Error &) {
    // freezing is an optimisation only; some legacy modules refuse it
  }
}

void Impl::load_aoti(const std::string &path, const std::string &device_req, int local_rank) {
#if BEAMHEAT_HAVE_AOTI
  device = choose_device(device_req, local_rank, path);
  try {
    aoti = std::make_unique<torch::inductor::AOTIModelPackageLoader>(
        path, "model", false, 1, device.is_cuda() ? device.index() : static_cast<c10::DeviceIndex>(-1));
  } catch (const std::exception &e) {
    throw ModelError(path + ": cannot load as an AOTInductor package (wrong torch version, CPU/GPU, or corrupt): " +
                     first_line(e.what()));
  }
  auto md = aoti->get_metadata();
  common_metadata(md, path);
  info.format = "aotinductor";
  info.model_dtype = md.count("model_dtype") ? md["model_dtype"] : "float64";
  input_dtype = torch::kFloat64;
  info.input_dtype = "float64";
  aoti_inputs = split_ws(md["nequip_aoti_inputs"]);
  aoti_outputs = split_ws(md["nequip_aoti_outputs"]);
  if (aoti_inputs.empty() || aoti_outputs.empty())
    throw ModelError(path + ": AOTInductor package lacks nequip input/output field lists (not a nequip-compile file)");
  for (auto &k : {"atomic_energy", "forces"})
    if (std::find(aoti_outputs.begin(), aoti_outputs.end(), k) == aoti_outputs.end())
      throw ModelError(path + ": AOTInductor package does not output '" + std::string(k) +
                       "'; compile it with --target pair_nequip");
  info.has_virial = std::find(aoti_outputs.begin(), aoti_outputs.end(), "virial") != aoti_outputs.end();
  const std::string dev = md.count("AOTI_DEVICE_KEY") ? md["AOTI_DEVICE_KEY"] : "";
  if (!dev.empty() && dev.rfind(device.is_cuda() ? "cuda" : "cpu", 0) != 0)
    throw ModelError(path + ": AOTInductor package was compiled for '" + dev + "' but runs on " + device.str() +
                     "; recompile with python -m models.deploy --device");
#else
  (void)device_req;
  (void)local_rank;
  throw ModelError(path + ": this torch build has no AOTInductor package loader; deploy the model as TorchScript");
#endif
}

class TorchModel final : public Model {
 public:
  TorchModel(const std::string &path, const std::string &device_req, int local_rank,
             const std::vector<std::string> &custom_ops);
  const ModelInfo &info() const override { return impl_->info; }
  std::string pruning_off() const override { return impl_->pruning_off; }
  void compute(const Graph &g, Result &out) override;
  void compute_local(const Graph &g, int64_t n_own, Result &out) override;
  void compute_exchange(const Graph &g, int64_t n_own, Exchange &ex, Result &out) override;

 private:
  std::unique_ptr<Impl> impl_;
};

TorchModel::TorchModel(const std::string &path, const std::string &device_req, int local_rank,
                       const std::vector<std::string> &custom_ops)
    : impl_(new Impl) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe.good()) throw ModelError(path + ": cannot open model file");
  probe.close();
  if (!is_zip(path)) throw ModelError(path + ": not a compiled NequIP model (not a zip/TorchScript archive)");
  impl_->info.path = path;
  // the ops the compiled code calls must be registered before torch reads the file
  impl_->info.custom_ops = load_custom_ops(path, custom_ops_names(path), custom_ops);
  const bool pt2 = path.size() >= 4 && path.compare(path.size() - 4, 4, ".pt2") == 0;
  if (pt2)
    impl_->load_aoti(path, device_req, local_rank);
  else
    impl_->load_torchscript(path, device_req, local_rank);
  impl_->info.device = impl_->device.str();
}

void TorchModel::compute(const Graph &g, Result &out) {
  Impl &m = *impl_;
  // Forces are autograd derivatives inside the model: gradients must be on.
  c10::AutoGradMode grad_mode(true);

  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  const bool legacy = m.info.format == "legacy";

  torch::Tensor pos, types, edges, shifts, cell;
  if (g.on_device) {  // detach(): the model may mark its inputs as requiring gradients, not the graph's tensors
    const TorchDeviceGraph &dg = device_graph(g, m.device, m.info.path);
    pos = dg.pos_.detach();
    types = dg.types_;
    edges = dg.edge_index_;
    shifts = dg.edge_shift_;
    cell = dg.cell_.detach();
  } else {
    pos = torch::from_blob(const_cast<double *>(g.pos), {g.n_nodes, 3}, f64);
    types = torch::from_blob(const_cast<int64_t *>(g.atom_types), {g.n_nodes}, i64);
    edges = torch::from_blob(const_cast<int64_t *>(g.edge_index), {2, g.n_edges}, i64);
    shifts = torch::from_blob(const_cast<double *>(g.edge_shift), {g.n_edges, 3}, f64);
    cell = torch::from_blob(const_cast<double *>(g.cell), {3, 3}, f64);
  }
  if (!legacy) cell = cell.view({1, 3, 3});

  // host arrays are copied (the caller reuses them); the device graph's tensors only change dtype if they must
  const bool copy = g.on_device == nullptr;
  auto to_dev = [&](const torch::Tensor &t, bool real) {
    return t.to(m.device, real ? m.input_dtype : torch::kInt64, false, copy);
  };
  pos = to_dev(pos, true);
  types = to_dev(types, false);
  edges = to_dev(edges, false);
  shifts = to_dev(shifts, true);
  cell = to_dev(cell, true);

  torch::Tensor atomic_energy, forces, virial, total_energy;
  if (m.info.format == "aotinductor") {
#if BEAMHEAT_HAVE_AOTI
    std::vector<torch::Tensor> inputs;
    for (auto &k : m.aoti_inputs) {
      if (k == "pos") inputs.push_back(pos);
      else if (k == "edge_index") inputs.push_back(edges);
      else if (k == "atom_types") inputs.push_back(types);
      else if (k == "cell") inputs.push_back(cell);
      else if (k == "edge_cell_shift") inputs.push_back(shifts);
      else throw ModelError(m.info.path + ": AOTInductor package needs unsupported input field '" + k + "'");
    }
    auto outputs = m.aoti->run(inputs);
    for (size_t i = 0; i < m.aoti_outputs.size() && i < outputs.size(); ++i) {
      const auto &k = m.aoti_outputs[i];
      if (k == "atomic_energy") atomic_energy = outputs[i];
      else if (k == "forces") forces = outputs[i];
      else if (k == "virial") virial = outputs[i];
      else if (k == "total_energy") total_energy = outputs[i];
    }
#endif
  } else {
    c10::Dict<std::string, torch::Tensor> input;
    input.insert("pos", pos);
    input.insert("edge_index", edges);
    input.insert("atom_types", types);
    input.insert("cell", cell);
    input.insert("edge_cell_shift", shifts);
    auto result = m.module.forward({input}).toGenericDict();
    auto fetch = [&](const char *k) {
      return result.contains(k) ? result.at(k).toTensor() : torch::Tensor();
    };
    atomic_energy = fetch("atomic_energy");
    forces = fetch("forces");
    virial = fetch("virial");
    total_energy = fetch("total_energy");
  }
  if (!forces.defined()) throw ModelError(m.info.path + ": model returned no forces");

  forces = forces.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  out.forces.resize(3 * g.n_nodes);
  std::memcpy(out.forces.data(), forces.data_ptr<double>(), sizeof(double) * 3 * g.n_nodes);

  out.atomic_energy.resize(g.n_nodes);
  if (atomic_energy.defined()) {
    atomic_energy = atomic_energy.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    std::memcpy(out.atomic_energy.data(), atomic_energy.data_ptr<double>(), sizeof(double) * g.n_nodes);
    out.energy = 0.0;
    for (double e : out.atomic_energy) out.energy += e;
  } else {
    std::fill(out.atomic_energy.begin(), out.atomic_energy.end(), 0.0);
    out.energy = total_energy.defined() ? total_energy.detach().to(torch::kCPU, torch::kFloat64).item<double>() : 0.0;
  }

  out.has_virial = virial.defined();
  if (out.has_virial) {
    virial = virial.detach().to(torch::kCPU, torch::kFloat64).contiguous().view({9});
    std::memcpy(out.virial, virial.data_ptr<double>(), sizeof(double) * 9);
  }
  m.info.has_virial = out.has_virial;
}

void TorchModel::compute_local(const Graph &g, int64_t n_own, Result &out) {
  Impl &m = *impl_;
  if (!m.info.local_energy_ok)
    throw ModelError(m.info.path + ": this model format cannot give forces of a subset's energy");
  if (!m.energy_frozen) {
    m.energy.eval();
    try {
      m.energy = torch::jit::freeze(m.energy);
    } catch (const c10::Error &) {
      // optimisation only
    }
    m.energy_frozen = true;
  }
  // layer-wise pruning: the graph must say how far out its nodes and edges are, and its node and edge counts must
  // tell node fields from edge fields
  const bool prune = m.pruned_layers() > 0 && !m.stages.empty() && g.n_hops >= 1 && g.hop_nodes && g.hop_edges &&
                     g.n_nodes > 1 &&
                     g.n_edges > 1 && g.n_nodes != g.n_edges && g.hop_nodes[g.n_hops] == g.n_nodes &&
                     g.hop_edges[g.n_hops - 1] == g.n_edges;
  if (prune) m.freeze_stages();
  c10::AutoGradMode grad_mode(true);
  bool shifted = false;

  struct Eval {
    torch::Tensor atomic, forces, virial;  // virial: the cell-shift part (3x3), undefined without shifts
    int64_t layer_edges = 0;
  };
  auto evaluate = [&](bool pruned) {
    Eval r;
    Fields data = ghost_fields(g, m.device, m.info.path, shifted);
    const torch::Tensor pos = data.at("pos"), cell = data.at("cell");
    if (!pruned) {
      data = typed(m.energy.forward({data}));
      r.layer_edges = static_cast<int64_t>(m.pruned_layers()) * g.n_edges;  // every layer sees every edge
    } else {
      // layer l (0-based) can reach an own atom's energy only through the nodes within H - l hops, and updates
      // only the nodes at the centres of its edges: it needs the edges centred within H - l - 1 hops
      const int H = g.n_hops;
      for (auto &s : m.stages) {
        if (s.layer >= 1 && s.layer < H) data = narrow_graph(data, g.hop_nodes[H - s.layer], g.hop_edges[H - s.layer - 1]);
        if (s.layer >= 0) r.layer_edges += data.at("edge_index").size(1);
        data = typed(s.module.forward({data}));
      }
    }
    if (!data.contains("atomic_energy")) throw ModelError(m.info.path + ": energy model returned no atomic_energy");
    r.atomic = data.at("atomic_energy").reshape({-1});
    torch::Tensor own = r.atomic.narrow(0, 0, n_own).sum();
    if (own.requires_grad()) {
      std::vector<torch::Tensor> wrt{pos};
      if (shifted) wrt.push_back(cell);
      auto grads = torch::autograd::grad({own}, wrt, {}, false, false, true);
      r.forces = grads[0].defined() ? -grads[0] : torch::zeros_like(pos);
      if (shifted && grads[1].defined())
        r.virial = -torch::matmul(cell.detach().reshape({3, 3}).transpose(0, 1), grads[1].reshape({3, 3}));
    } else {
      r.forces = torch::zeros_like(pos);
    }
    r.atomic = r.atomic.detach();
    return r;
  };

  Eval r;
  if (prune && !m.pruning_checked) {
    // once per model: the pruned layers must give the whole model's forces (a guard against a nequip whose
    // modules use more of the graph than their layer's reach); if not, or if they fail, the whole model runs
    m.pruning_checked = true;
    Eval whole = evaluate(false);
    std::ostringstream why;
    try {
      r = evaluate(true);
      const double fmax = whole.forces.abs().max().item<double>();
      const double diff = (r.forces - whole.forces).abs().max().item<double>();
      const double tol = (m.info.model_dtype == "float32" ? 1e-4 : 1e-9) * std::max(1.0, fmax);
      if (!(diff <= tol)) why << "pruned layers changed the forces by " << diff << " eV/A on a first check";
    } catch (const std::exception &e) {
      why << "pruned layers failed on a first check: " << error_line(e.what());
    }
    if (!why.str().empty()) {
      m.pruning_off = why.str();  // the stages stay: feature exchange has its own check
      r = whole;
    }
  } else {
    r = evaluate(prune);
  }

  std::fill(out.virial, out.virial + 9, 0.0);
  if (r.virial.defined()) {
    torch::Tensor w = r.virial.to(torch::kCPU, torch::kFloat64).contiguous();
    std::memcpy(out.virial, w.data_ptr<double>(), sizeof(double) * 9);
  }
  torch::Tensor forces = r.forces.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  out.forces.resize(3 * g.n_nodes);
  std::memcpy(out.forces.data(), forces.data_ptr<double>(), sizeof(double) * 3 * g.n_nodes);
  // pruned: atomic energies of the nodes the last layers saw (the own atoms first); the rest are not computed
  torch::Tensor atomic = r.atomic.to(torch::kCPU, torch::kFloat64).contiguous();
  out.atomic_energy.assign(g.n_nodes, 0.0);
  std::memcpy(out.atomic_energy.data(), atomic.data_ptr<double>(),
              sizeof(double) * std::min<int64_t>(atomic.numel(), g.n_nodes));
  out.energy = 0.0;
  for (int64_t i = 0; i < n_own; i++) out.energy += out.atomic_energy[i];
  out.has_virial = false;
  out.layer_edges = r.layer_edges;
}


/* Layer-wise feature exchange. Every layer sees the own atoms' edges only; before layer k >= 1 the features of the
   graph's other nodes (neighbours owned elsewhere) come from their owners, who computed them from complete
   neighbourhoods: exact, with no work done twice. Backward, layer by layer from the last: the gradients with respect
   to the received features go to the owners (summed over every rank that used them), whose own features' gradients
   then continue through their earlier layers. The energy summed over ranks is the one-rank energy, and every node
   position's gradient is complete on the rank that holds it (the ghosts' partial forces go to their owners after). */
void TorchModel::compute_exchange(const Graph &g, int64_t n_own, Exchange &ex, Result &out) {
  Impl &m = *impl_;
  const std::vector<int> &widths = m.info.exchange_widths;
  if (widths.empty() || m.stages.empty())
    throw ModelError(m.info.path + ": node features cannot be exchanged between its layers (" + m.info.exchange_note +
                     ")");
  const int K = static_cast<int>(widths.size());
  std::fill(out.virial, out.virial + 9, 0.0);
  out.has_virial = false;
  out.energy = 0.0;
  if (g.n_nodes == 0) {  // no atoms in this subdomain: take part in the exchanges only
    for (int k = 0; k < K; k++) ex.forward(nullptr, widths[k]);
    for (int k = K - 1; k >= 0; k--) ex.reverse(nullptr, widths[k]);
    out.forces.clear();
    out.atomic_energy.clear();
    out.layer_edges = 0;
    return;
  }
  m.freeze_stages();
  c10::AutoGradMode grad_mode(true);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  bool shifted = false;
  Fields data = ghost_fields(g, m.device, m.info.path, shifted);
  const torch::Tensor pos = data.at("pos"), cell = data.at("cell");

  std::vector<torch::Tensor> sent, received;  // per exchange: the own rows computed here, the rows the next layer read
  // the geometry (positions, edge vectors, their embeddings) enters the layers as leaves: each layer's backward
  // stops there, and the geometry is differentiated once at the end with the gradients of every layer summed
  std::vector<torch::Tensor> geo, geo_leaf, geo_grad;
  int64_t layer_edges = 0;
  for (auto &s : m.stages) {
    if (s.layer == 0 && geo.empty()) {
      Fields cut;
      for (const auto &kv : data) {
        torch::Tensor v = kv.value();
        if (v.requires_grad()) {
          geo.push_back(v);
          v = v.detach().requires_grad_(true);
          geo_leaf.push_back(v);
        }
        cut.insert(kv.key(), v);
      }
      data = cut;
      geo_grad.resize(geo.size());
    }
    if (s.layer >= 1) {
      const int w = widths[sent.size()];
      const torch::Tensor h = data.at("node_features");
      if (h.dim() != 2 || h.size(0) != g.n_nodes || h.size(1) != w)
        throw ModelError(m.info.path + ": node_features entering layer " + std::to_string(s.layer) +
                         " are not (nodes, " + std::to_string(w) + ") as the model's probe found");
      torch::Tensor own = h.narrow(0, 0, n_own);
      torch::Tensor rows = torch::empty({g.n_nodes, w}, f64);
      rows.narrow(0, 0, n_own).copy_(own.detach());
      ex.forward(rows.data_ptr<double>(), w);
      torch::Tensor x = rows.to(h.device(), h.scalar_type()).requires_grad_(true);
      sent.push_back(own);
      received.push_back(x);
      data.insert_or_assign("node_features", x);
    }
    if (s.layer >= 0) layer_edges += g.n_edges;
    data = typed(s.module.forward({data}));
  }
  if (!data.contains("atomic_energy")) throw ModelError(m.info.path + ": energy model returned no atomic_energy");
  const torch::Tensor atomic = data.at("atomic_energy").reshape({-1});

  if (geo.empty()) throw ModelError(m.info.path + ": no input of the first layer depends on the positions");
  // backward through the layers, last first; gradients with respect to received features go to their owners
  torch::Tensor target = atomic.narrow(0, 0, n_own).sum(), seed;
  for (int k = K; k >= 0; k--) {
    std::vector<torch::Tensor> wrt(geo_leaf);
    if (k > 0) wrt.push_back(received[k - 1]);
    std::vector<torch::Tensor> grads(wrt.size());
    if (target.requires_grad()) {
      std::vector<torch::Tensor> seeds;
      if (seed.defined()) seeds.push_back(seed);
      grads = torch::autograd::grad({target}, wrt, seeds, /*retain_graph=*/false, false, /*allow_unused=*/true);
    }
    for (size_t i = 0; i < geo.size(); i++)
      if (grads[i].defined()) geo_grad[i] = geo_grad[i].defined() ? geo_grad[i] + grads[i] : grads[i];
    if (k == 0) break;
    const int w = widths[k - 1];
    torch::Tensor rows = grads.back().defined() ? grads.back().detach().to(torch::kCPU, torch::kFloat64).contiguous()
                                                : torch::zeros({g.n_nodes, w}, f64);
    ex.reverse(rows.data_ptr<double>(), w);
    target = sent[k - 1];
    seed = rows.narrow(0, 0, n_own).to(target.device(), target.scalar_type());
  }
  // the geometry, once: positions and cell themselves, and everything computed from them before the first layer
  torch::Tensor gpos = torch::zeros_like(pos), gcell = torch::zeros_like(cell);
  std::vector<torch::Tensor> outs, seeds;
  for (size_t i = 0; i < geo.size(); i++) {
    if (!geo_grad[i].defined()) continue;
    if (geo[i].is_same(pos)) gpos += geo_grad[i];
    else if (geo[i].is_same(cell)) gcell += geo_grad[i];
    else outs.push_back(geo[i]), seeds.push_back(geo_grad[i]);
  }
  if (!outs.empty()) {
    std::vector<torch::Tensor> wrt{pos};
    if (shifted) wrt.push_back(cell);
    auto grads = torch::autograd::grad(outs, wrt, seeds, false, false, /*allow_unused=*/true);
    if (grads[0].defined()) gpos += grads[0];
    if (shifted && grads[1].defined()) gcell += grads[1];
  }

  if (shifted) {
    torch::Tensor w = -torch::matmul(cell.detach().reshape({3, 3}).transpose(0, 1), gcell.reshape({3, 3}));
    w = w.to(torch::kCPU, torch::kFloat64).contiguous();
    std::memcpy(out.virial, w.data_ptr<double>(), sizeof(double) * 9);
  }
  torch::Tensor forces = (-gpos).to(torch::kCPU, torch::kFloat64).contiguous();
  out.forces.resize(3 * g.n_nodes);
  std::memcpy(out.forces.data(), forces.data_ptr<double>(), sizeof(double) * 3 * g.n_nodes);
  torch::Tensor e = atomic.detach().narrow(0, 0, n_own).to(torch::kCPU, torch::kFloat64).contiguous();
  out.atomic_energy.assign(g.n_nodes, 0.0);
  std::memcpy(out.atomic_energy.data(), e.data_ptr<double>(), sizeof(double) * n_own);
  for (int64_t i = 0; i < n_own; i++) out.energy += out.atomic_energy[i];
  out.layer_edges = layer_edges;
}

}  // namespace beamheat

// The one symbol the LAMMPS side looks up (nequip_backend.cpp).
extern "C" __attribute__((visibility("default"))) const beamheat::Backend *beamheat_nequip_backend() {
  static const beamheat::Backend table = [] {
    beamheat::Backend b;
    b.abi = beamheat::kBackendAbi;
    b.load = [](const std::string &path, const std::string &device, int local_rank,
                const std::vector<std::string> &custom_ops) -> beamheat::Model * {
      return new beamheat::TorchModel(path, device, local_rank, custom_ops);
    };
    b.set_threads = [](int n) {
      if (n >= 1) torch::set_num_threads(n);
    };
    b.threads = [] { return static_cast<int>(torch::get_num_threads()); };
    b.graph = [](const std::string &device, const std::vector<double> &cutsq, int n_types) -> beamheat::DeviceGraph * {
      try {
        return new beamheat::TorchDeviceGraph(device, cutsq, n_types);
      } catch (const c10::Error &e) {
        throw beamheat::ModelError("device graph on " + device + ": " + beamheat::first_line(e.what_without_backtrace()));
      }
    };
    static const std::string version = std::to_string(TORCH_VERSION_MAJOR) + "." +
                                       std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH);
    b.torch_version = version.c_str();
    return b;
  }();
  return &table;
}
