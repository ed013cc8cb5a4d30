// beamheat: a compiled NequIP model behind a plain C++ interface.
//
// This header deliberately includes neither torch nor LAMMPS headers: the torch side lives in nequip_model.cpp,
// the LAMMPS side in pair_nequip.cpp, so their bundled fmt libraries never meet in one translation unit.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace beamheat {

// Thrown with a one-line, user-facing message (the pair style turns it into a LAMMPS error).
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ModelInfo {
  std::string path;
  std::string format;          // "torchscript" (nequip >= 0.7), "aotinductor" (nequip >= 0.7), "legacy" (<= 0.6)
  std::string nequip_version;  // as recorded in the file, may be empty
  double r_max = 0.0;          // Angstrom
  std::vector<std::string> type_names;
  std::vector<double> per_edge_type_cutoff;  // num_types^2 (centre-major), empty if none
  std::string model_dtype;                   // "float32" or "float64"
  std::string input_dtype;                   // dtype of positions fed to the model
  std::string device;                        // "cpu", "cuda:0", ...
  bool has_virial = true;
  int interaction_blocks = 0;   // message-passing blocks L (0: unknown), from the file's metadata or else counted
                                // from the TorchScript model's modules (nequip's ConvNetLayer; Allegro: 1)
  std::string blocks_source;    // where interaction_blocks came from, for the log ("" when unknown)
  bool local_energy_ok = false; // compute_local() available (nequip >= 0.7 TorchScript with its energy model)
  int pruned_layers = 0;         // compute_local can run layers 1..L-1 of these L (nequip's layerN_convnet) on fewer
                                 // nodes and edges (Graph::hop_nodes); 0: whole model, as for Allegro
  // compute_exchange: node features are exchanged between interaction layers; exchange_widths[k] = values per atom
  // passed into layer k + 1 (k = 0..L-2). Empty: not available (exchange_note says why)
  std::vector<int> exchange_widths;
  std::string exchange_note;
  // custom-op libraries loaded for this model (custom_ops.h): one log line each, empty when the file names none
  std::vector<std::string> custom_ops;
  std::string describe() const;              // one line for the LAMMPS log
};

class DeviceGraph;

// One graph: n nodes (atoms), e directed edges (full, both directions), all arrays host-side, or (on_device set)
// the graph a DeviceGraph holds on the model's device, with pos, the hop tables and the counts host-side.
struct Graph {
  int64_t n_nodes = 0;
  int64_t n_edges = 0;
  const double *pos = nullptr;         // (n,3)
  const int64_t *atom_types = nullptr; // (n)
  const int64_t *edge_index = nullptr; // (2,e): row 0 centre, row 1 neighbour
  const double *edge_shift = nullptr;  // (e,3) integer cell shifts
  double cell[9] = {0};                // rows are lattice vectors
  // Ghost graphs (compute_local) built breadth-first from the own atoms, if known: nodes ordered by their hop count
  // from the own atoms, edges by their centre's. hop_nodes[d] = nodes at most d hops out (d = 0..n_hops),
  // hop_edges[d] = edges whose centre is at most d hops out (d = 0..n_hops-1). n_hops = 0: unknown.
  int n_hops = 0;
  const int64_t *hop_nodes = nullptr;
  const int64_t *hop_edges = nullptr;
  const DeviceGraph *on_device = nullptr;  // set by DeviceGraph::update: nodes, types and edges are its tensors
};

// A graph kept on the models' device between neighbour-list rebuilds. At a rebuild the caller hands over the
// candidate edges (every pair within the cutoff + skin, with its integer cell shift) and the node types; each step
// it hands over the node positions and the cell, and the device keeps the candidates whose length is within the
// cutoff of their type pair (strictly less, as on the host), in candidate order.
class DeviceGraph {
 public:
  virtual ~DeviceGraph() = default;
  // c: n_nodes, atom_types, n_edges candidates (edge_index, edge_shift); with c.n_hops = H >= 1, candidates sorted
  // by their centre's hop count, c.hop_nodes[0..H] and c.hop_edges[0..H-1] as in Graph (counting candidates)
  virtual void set_candidates(const Graph &c) = 0;
  // pos (n_nodes,3) and cell (rows are lattice vectors): fills g (n_nodes, n_edges, pos, cell, hop tables counting
  // the edges kept, on_device = this); pos must stay valid while g is used
  virtual void update(const double *pos, const double cell[9], Graph &g) = 0;
  virtual int64_t n_candidates() const = 0;
};

struct Result {
  double energy = 0.0;
  std::vector<double> atomic_energy;  // (n)
  std::vector<double> forces;         // (n,3)
  double virial[9] = {0};             // full 3x3, = -stress * V (LAMMPS sign convention)
  bool has_virial = false;
  int64_t layer_edges = 0;            // compute_local: edges summed over the interaction layers (0: not counted)
};

// Domain decomposition with feature exchange: the caller's communication between interaction layers.
// Rows are graph nodes (own atoms first), `width` values each, row-major, host memory.
class Exchange {
 public:
  virtual ~Exchange() = default;
  // rows 0..n_own-1 hold the own atoms' features: fill every other row with its atom's features from its owner
  virtual void forward(double *rows, int width) = 0;
  // rows n_own.. hold gradients with respect to other ranks' atoms' features: add them into their owners' rows
  // (on whichever rank owns them); this rank's own rows receive what the other ranks send
  virtual void reverse(double *rows, int width) = 0;
};

// A loaded model. The torch implementation lives in a library of its own (libnequip_torch.so, beside the plugin)
// that the LAMMPS side loads at run time through backend(): see nequip_backend.cpp for why.
class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo &info() const = 0;  // what the file holds, fixed at load
  // why compute_local's first check (pruned layers against the whole model) turned layer-wise pruning off, for good
  // (empty: it did not, or it has not run)
  virtual std::string pruning_off() const = 0;
  virtual void compute(const Graph &g, Result &out) = 0;
  // Domain decomposition: energy = sum of the atomic energies of the first n_own nodes only; forces on every node
  // are -d(energy)/d(pos) (ghost nodes get partial forces for their owners). out.virial holds only the part from
  // edges with cell shifts, -cell^T . d(energy)/d(cell) (zero without shifts); the caller adds sum x (x) f over
  // the nodes, and has_virial is false. Needs info().local_energy_ok.
  // With g.n_hops = H >= 1 and info().pruned_layers = L (and pruning_off() empty), layer l (0-based) sees only the
  // nodes within H - l hops and the edges centred within H - l - 1 hops: the only ones through which it can reach
  // an own atom's energy.
  virtual void compute_local(const Graph &g, int64_t n_own, Result &out) = 0;
  // As compute_local, on a graph of the own atoms' edges only (nodes: own atoms, then their neighbours): before
  // interaction layer k >= 1 the node features of the neighbours are replaced by their owners' (ex.forward), and in
  // the backward pass the gradients with respect to them go to their owners (ex.reverse). Every rank must call it,
  // with g.n_nodes = 0 when it holds no atoms, so that the exchanges match. Needs info().exchange_widths.
  virtual void compute_exchange(const Graph &g, int64_t n_own, Exchange &ex, Result &out) = 0;
};

// The torch side's entry points. libnequip_torch.so exports one C function, beamheat_nequip_backend(), that
// returns this table; abi must equal kBackendAbi (both sides are built together, the check catches stale files).
constexpr int kBackendAbi = 7;  // 2: compute_local returns the cell-shift part of the virial; 3: layer-wise pruning;
                                // 4: compute_exchange; 5: Model::pruning_off; 6: DeviceGraph; 7: custom-op libraries
struct Backend {
  int abi = 0;
  // device: "auto" (CUDA if torch sees one, else CPU), "cpu", "cuda" or "cuda:N"; local_rank picks the GPU
  // (local_rank % device count) for "auto" and "cuda", for TorchScript and AOTInductor files alike. custom_ops:
  // shared libraries to open before the model (pair_style nequip custom_ops); when empty, the libraries of the
  // modules the file names are looked up (custom_ops.h). Throws ModelError with a one-line message.
  Model *(*load)(const std::string &path, const std::string &device, int local_rank,
                 const std::vector<std::string> &custom_ops) = nullptr;
  void (*set_threads)(int n) = nullptr;  // torch's intra-op threads for this process (n >= 1)
  int (*threads)() = nullptr;
  // a DeviceGraph on `device` (a model's info().device) whose edges of centre type a and neighbour type b are
  // kept while shorter than sqrt(cutsq[a * n_types + b]); throws ModelError
  DeviceGraph *(*graph)(const std::string &device, const std::vector<double> &cutsq, int n_types) = nullptr;
  const char *torch_version = "";
  std::string library;  // the file it came from (filled in by the loader)
};

// LAMMPS side: loads libnequip_torch.so (next to the plugin, or $BEAMHEAT_NEQUIP_TORCH) once, with its own
// symbols first; throws ModelError saying what is missing.
const Backend &backend();

}  // namespace beamheat
