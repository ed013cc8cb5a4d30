// beamheat: pair_style nequip — compiled NequIP models (one, or an ensemble) inside LAMMPS.
//
//   pair_style nequip [device auto|cpu|cuda|cuda:N] [ensemble mean|first] [sigma_every N] [interaction_blocks L]
//                     [graph auto|images|ghosts|exchange] [graph_build auto|host|device] [malloc keep|system]
//                     [mass_check yes|no]
//   pair_coeff * * model1.nequip.pth [model2 ...] Au B N   (one model type name, or NULL, per LAMMPS atom type)
//
// With M > 1 models (same type names and cutoffs) every model runs on the same graph; the dynamics use the
// ensemble mean of energy, forces and virial (or the first model's), and the per-atom force spread
//   sigma_F,k = sqrt(1/M sum_j |F_jk - mean_j F_jk|^2)                    (paper eq. 2)
// is available to dumps through `fix ID all pair N nequip sigma_f 0 fmean 0` (and the forces the dynamics use,
// `forces`, 3 columns) and, with max/mean sigma_F and max |F|, to thermo through `compute ID all pair nequip`
// (c_ID[1] max sigma_F, [2] mean sigma_F, [3] max |F|, [4] M). Halting is LAMMPS's fix halt on those values, and
// fix nequip/frames (fix_nequip_frames.h) writes the last frames of a halted run: lammps_inputs/nequip_halt.in.
//
// Three graphs, all exact:
//  images (default on 1 MPI rank): the local atoms are the nodes, one directed edge per neighbour pair within the
//    cutoff; a ghost neighbour is replaced by the local atom it images plus an integer cell shift, so the model sees
//    the periodic system itself and returns forces on local atoms and the cell virial directly.
//  ghosts: a message-passing model with L interaction blocks gives atom i an energy that depends on atoms up to
//    L*r_max away. Each rank takes ghost atoms out to L*r_max (+ skin; comm cutoff set here), builds the graph
//    breadth-first from its own atoms (edges out of nodes at most L-1 hops away, nodes at most L hops away), and
//    counts only its own atoms' energies: E_rank = sum_{i own} e_i. Forces on every node are -dE_rank/dx (the
//    model's energy module differentiated here); the partial forces on ghosts are sent back to their owners by a
//    reverse communication of the pair style (3 values per model per atom, so the ensemble spread sigma_F is formed
//    from complete per-model forces), and the virial is sum_nodes x (x) F over the ranks, since E_rank is a
//    translation-invariant function of explicit node positions. L comes from the interaction_blocks keyword,
//    else the model file's metadata (models.deploy records it), else the model's own modules (one nequip
//    ConvNetLayer per block; Allegro: 1), so files from nequip-compile run unchanged; strictly local models need L = 1. nequip's
//    layers are run one by one, layer l on the nodes within L-l hops only (layer-wise pruning).
//  exchange (default on >1 rank for nequip models of L >= 2 layers): each rank's graph is its own atoms' edges
//    (ghosts within r_max). Before layer k >= 1 the ghosts' node features are replaced by their owners' (a forward
//    communication), and in the backward pass the gradients with respect to them are summed back into their owners'
//    (a reverse communication) before those continue through the owners' earlier layers; the geometry (edge vectors
//    and their embeddings) is differentiated once at the end. Nothing is computed twice. A probe at load (a chain
//    of atoms, whole and as a rank sees it) and a check on the first call against the ghost graph (the ghost
//    cutoff stays L*r_max for it) turn it off, with the reason in the log, for a model whose layers share more
//    than their node features.
//    Needs a nequip >= 0.7 TorchScript file (the energy module inside it is differentiated here).
// Where the graph is built (graph_build): `host` builds it from LAMMPS's neighbour list every step. `device` keeps
// it on the models' device between neighbour-list rebuilds: at a rebuild the candidate edges (the list's pairs
// within the type pair's cutoff + skin, in the node numbering and with the cell shifts above) and the node types
// are copied there once; each step only the node positions go in (and forces, energies, virial come back), and the
// device keeps the candidates within the cutoff. The edges, their order and so the model's inputs are the host's.
// Ghost graphs are then grown breadth-first at the rebuild through the pairs within cutoff + skin, a superset of
// every later step's nodes and edges within L hops, so own atoms' energies and forces stay exact; more edges
// reach the model (L - 1 hops of cutoff + skin). `auto` (the default): device, except for ghost graphs of more
// than one hop (graph ghosts), where those extra edges cost more than the host's graph.
// Memory on CPU (malloc keep, the default): glibc is told to keep freed memory for reuse instead of returning
// each large tensor to the kernel, which re-faulted every page of every activation on every call (half the step
// in sys time for the paper architecture; bench/results/routes_cpu2.md). `malloc system` leaves glibc as it is.
// Threads: each rank uses OMP_NUM_THREADS torch threads; unset and several ranks on a node: 1 (logged). With GPUs,
// rank r uses GPU (local rank mod GPUs).
#ifndef BEAMHEAT_PAIR_NEQUIP_H
#define BEAMHEAT_PAIR_NEQUIP_H

#include "pair.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace beamheat {
class Model;
class DeviceGraph;
struct Graph;
struct Result;
}  // namespace beamheat

namespace LAMMPS_NS {

class PairNequIP : public Pair {
 public:
  PairNequIP(class LAMMPS *);
  ~PairNequIP() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  void finish() override;
  void *extract_peratom(const char *, int &) override;
  std::string type_name(int itype) const;  // the model type name pair_coeff maps LAMMPS type itype to, or NULL
  double memory_usage() override;
  // graph exchange: node features (rows = graph nodes, own atoms first) to and from the other ranks
  void exchange_forward(double *rows, int width);
  void exchange_reverse(double *rows, int width);

 protected:
  void allocate();
  void warn_identical_members(const std::vector<std::string> &files);
  void load_models(const std::vector<std::string> &files);
  void keep_freed_memory();
  void map_types(char **names);
  void build_graph(const std::vector<double> &cutsq);
  int model_type_of_local(int i) const;
  void build_graph_ghosts(const std::vector<double> &cutsq);
  bool use_device_graph() const;
  void log_graph_build();
  void device_graph_step(beamheat::Graph &g);
  void host_graph(const std::vector<double> &cutsq, beamheat::Graph &g);
  void compute_ghosts();
  void run_models();
  void check_exchange();
  void reduce_globals();
  int local_rank(int *node_size = nullptr) const;
  void log_devices(int node_rank, int node_size);
  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;
  void combine_ensemble(int nlocal);
  void check_masses();
  static constexpr double MASS_TOLERANCE = 1.0;  // amu: isotopes and rounded masses pass, another element does not

  std::string device_request_ = "auto";
  std::vector<std::string> custom_ops_;  // pair_style custom_ops: libraries opened before each model (else the file's)
  bool malloc_keep_ = true;  // keep freed heap memory for reuse on CPU (see coeff)
  bool mass_check_ = true;   // a type's mass must be that of the element pair_coeff maps it to (see init_style)
  std::vector<std::unique_ptr<beamheat::Model>> models_;
  bool ensemble_first_ = false;        // dynamics from the first model instead of the mean
  int sigma_every_ = 1;                // with ensemble first: all members (sigma_F) every N steps, else the first
  bool sigma_now_ = true;              // this call evaluates every member
  int n_eval_ = 0;                     // members evaluated in this call
  bool have_sigma_ = false;            // sigma_F computed at least once
  std::vector<double> sigma_by_tag_;   // last sigma_F per atom ID on this rank (between sigma_F steps)
  std::vector<int> type_map_;           // LAMMPS type (1..ntypes) -> model type index, -1 for NULL
  std::vector<double> cutsq_model_;     // model type (centre, neighbour) -> cutoff^2, row-major
  int n_model_types_ = 0;
  double r_max_ = 0.0;
  int blocks_keyword_ = 0;              // interaction_blocks from pair_style (0: from the models)
  int blocks_ = 0;                      // L used for the ghost shell
  enum { GRAPH_AUTO, GRAPH_IMAGES, GRAPH_GHOSTS, GRAPH_EXCHANGE } graph_request_ = GRAPH_AUTO;
  enum { BUILD_AUTO, BUILD_HOST, BUILD_DEVICE } build_request_ = BUILD_AUTO;
  std::unique_ptr<beamheat::DeviceGraph> device_graph_;  // the graph on the models' device (graph_build device)
  std::vector<double> cutsq_candidate_;  // model type pair -> (cutoff + skin)^2: candidate edges of the device graph
  bigint candidates_build_ = -1;         // neighbor->ncalls when the device graph's candidates were copied
  int candidates_hops_ = -1;             // hops_ then
  int candidates_nall_ = -1;             // local + ghost atoms then
  long n_rebuilds_ = 0;                  // candidate copies since the last finish()
  bool ghost_mode_ = false;
  bool exchange_ = false;               // ghost graphs of r_max, node features exchanged between layers
  std::string exchange_note_;           // why the first-call check turned exchange off (kept for later runs)
  int hops_ = 0;                        // ghost graph depth: L (ghosts), 1 (exchange)
  bool exchange_checked_ = false;       // exchange compared with the ghost graph (once per set of models)
  int64_t n_edges_last_ = 0;
  std::vector<double> xbuf_;            // per-atom (local + ghost) rows of one feature exchange
  int fwd_width_ = 0, rev_width_ = 0;   // values per atom of the current forward / reverse communication
  double *rev_data_ = nullptr;          // per-atom rows the reverse communication sums into (fbuf_ or xbuf_)
  std::vector<int> node_of_;            // LAMMPS atom index -> graph node (-1: none)
  std::vector<int> node_atom_;          // graph node -> LAMMPS atom index
  std::unordered_map<tagint, int> node_of_tag_;  // atom ID -> its graph node (one node per atom ID)
  std::vector<double> fbuf_;            // per-atom (local + ghost) forces of every model, 3*M per atom
  double local_[4] = {0};               // this rank: max sigma_F, sum sigma_F, max |F|, own atoms
  // this rank, this call: nodes, edges, edges out of own atoms, edges the first model's interaction layers saw
  // (summed over its layers, 0 if not counted), then edges centred within d = 0..L-1 hops (ghost graphs)
  std::vector<double> graph_counts_;
  std::vector<int64_t> hop_nodes_, hop_edges_;  // ghost graph: nodes within d hops, edges centred within d hops
  std::vector<double> stats_;           // graph_counts_ summed over ranks and calls
  long natoms_calls_ = 0;

  // graph buffers, reused between steps
  std::vector<double> pos_, shift_;
  std::vector<int64_t> types_, edge_src_, edge_dst_, edge_index_;
  std::vector<int> owner_of_tag_;
  std::vector<beamheat::Result> results_;   // one per model
  std::vector<double> mean_force_, energy_atom_;      // ensemble mean force; per-atom energy the dynamics use
  const std::vector<double> *force_ = &mean_force_;  // forces the dynamics use: the mean, or the first model's
  double energy_ = 0.0, virial9_[9] = {0};
  bool has_virial_ = false;
  int nmax_ = 0;
  double *sigma_f_ = nullptr, *fmean_ = nullptr;  // per-atom, for fix pair
  double **forces_ = nullptr;                     // per-atom forces the dynamics use, for fix pair and nequip/frames
  bool warned_no_virial_ = false;

  // wall time inside compute(), split into graph construction and model evaluation (reported by finish())
  double t_graph_ = 0.0, t_model_ = 0.0;
  long n_calls_ = 0, n_edges_total_ = 0;
};

}  // namespace LAMMPS_NS

#endif
