// beamheat: pair_style nequip (LAMMPS side). See pair_nequip.h for the syntax and the graph construction.
#include "pair_nequip.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include "element_masses.h"
#include "nequip_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <mpi.h>

using namespace LAMMPS_NS;

PairNequIP::PairNequIP(LAMMPS *lmp) : Pair(lmp) {
  single_enable = 0;
  nextra = 4;  // compute pair nequip: max sigma_F, mean sigma_F, max |F|, number of models
  pvector = new double[nextra]();
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 1;  // the model returns the cell virial itself
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairNequIP::~PairNequIP() {
  delete[] pvector;
  memory->destroy(sigma_f_);
  memory->destroy(fmean_);
  memory->destroy(forces_);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairNequIP::allocate() {
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 1; i <= n; i++)
    for (int j = i; j <= n; j++) setflag[i][j] = 0;
}

/* pair_style nequip [device ...] [ensemble mean|first] [sigma_every N] [interaction_blocks L]
                     [graph auto|images|ghosts|exchange] [graph_build auto|host|device] [malloc keep|system]
                     [mass_check yes|no] [custom_ops FILE.so[:FILE.so ...]] */
void PairNequIP::settings(int narg, char **arg) {
  int iarg = 0;
  auto value = [&](const char *key) -> const char * {
    if (iarg + 1 >= narg) error->all(FLERR, "pair_style nequip: '{}' needs a value", key);
    return arg[iarg + 1];
  };
  while (iarg < narg) {
    if (strcmp(arg[iarg], "ensemble") == 0) {
      const std::string v = value("ensemble");
      if (v != "mean" && v != "first")
        error->all(FLERR, "pair_style nequip: ensemble must be 'mean' or 'first', not '{}'", v);
      ensemble_first_ = v == "first";
      iarg += 2;
    } else if (strcmp(arg[iarg], "halt_fmax") == 0 || strcmp(arg[iarg], "halt_sigma") == 0 ||
               strcmp(arg[iarg], "halt_file") == 0 || strcmp(arg[iarg], "halt_frames") == 0 ||
               strcmp(arg[iarg], "halt_every") == 0) {
      error->all(FLERR,
                 "pair_style nequip: {} moved to fix halt and fix nequip/frames (lammps_inputs/nequip_halt.in): see "
                 "docs/pair_style_nequip.md",
                 arg[iarg]);
    } else if (strcmp(arg[iarg], "mass_check") == 0) {
      const std::string v = value("mass_check");
      if (v != "yes" && v != "no")
        error->all(FLERR, "pair_style nequip: mass_check must be 'yes' or 'no', not '{}'", v);
      mass_check_ = v == "yes";
      iarg += 2;
    } else if (strcmp(arg[iarg], "sigma_every") == 0) {
      sigma_every_ = utils::inumeric(FLERR, value("sigma_every"), false, lmp);
      if (sigma_every_ < 1) error->all(FLERR, "pair_style nequip: sigma_every must be >= 1");
      iarg += 2;
    } else if (strcmp(arg[iarg], "interaction_blocks") == 0) {
      blocks_keyword_ = utils::inumeric(FLERR, value("interaction_blocks"), false, lmp);
      if (blocks_keyword_ < 1)
        error->all(FLERR, "pair_style nequip: interaction_blocks must be >= 1 (1 for strictly local models)");
      iarg += 2;
    } else if (strcmp(arg[iarg], "graph") == 0) {
      const std::string v = value("graph");
      if (v == "auto") graph_request_ = GRAPH_AUTO;
      else if (v == "images") graph_request_ = GRAPH_IMAGES;
      else if (v == "ghosts") graph_request_ = GRAPH_GHOSTS;
      else if (v == "exchange") graph_request_ = GRAPH_EXCHANGE;
      else
        error->all(FLERR, "pair_style nequip: graph must be 'auto', 'images', 'ghosts' or 'exchange', not '{}'", v);
      iarg += 2;
    } else if (strcmp(arg[iarg], "graph_build") == 0) {
      const std::string v = value("graph_build");
      if (v == "auto") build_request_ = BUILD_AUTO;
      else if (v == "host") build_request_ = BUILD_HOST;
      else if (v == "device") build_request_ = BUILD_DEVICE;
      else error->all(FLERR, "pair_style nequip: graph_build must be 'auto', 'host' or 'device', not '{}'", v);
      iarg += 2;
    } else if (strcmp(arg[iarg], "malloc") == 0) {
      const std::string v = value("malloc");
      if (v != "keep" && v != "system")
        error->all(FLERR, "pair_style nequip: malloc must be 'keep' or 'system', not '{}'", v);
      malloc_keep_ = v == "keep";
      iarg += 2;
    } else if (strcmp(arg[iarg], "custom_ops") == 0) {
      const std::string v = value("custom_ops");
      custom_ops_.clear();
      size_t start = 0;
      for (size_t colon; start <= v.size(); start = colon + 1) {
        colon = std::min(v.find(':', start), v.size());
        if (colon == start)
          error->all(FLERR, "pair_style nequip: custom_ops '{}' has an empty entry (FILE.so[:FILE.so ...])", v);
        custom_ops_.push_back(v.substr(start, colon - start));
      }
      iarg += 2;
    } else if (strcmp(arg[iarg], "device") == 0) {
      if (iarg + 1 >= narg) error->all(FLERR, "pair_style nequip: 'device' needs a value (auto, cpu, cuda, cuda:N)");
      device_request_ = arg[iarg + 1];
      if (device_request_ != "auto" && device_request_ != "cpu" && device_request_.rfind("cuda", 0) != 0)
        error->all(FLERR, "pair_style nequip: unknown device '{}' (use auto, cpu, cuda or cuda:N)", device_request_);
      iarg += 2;
    } else {
      error->all(FLERR,
                 "pair_style nequip: unknown keyword '{}' (keywords: device, ensemble, sigma_every, "
                 "interaction_blocks, graph, graph_build, malloc, mass_check, custom_ops)",
                 arg[iarg]);
    }
  }
}

/* The launcher's count of this job's ranks on this node and this rank's index among them (MPICH/Hydra, Open MPI,
   MVAPICH2, Slurm's srun), or -1. LAMMPS may run on a sub-communicator (the lammps Python module in groups, the
   -partition switch): ranks of other groups share the node too, and a count over `world` alone misses them, but a
   count over MPI_COMM_WORLD would be collective over ranks that are not here (a hang). */
static int launcher_local(const char *const *names) {
  for (int k = 0; names[k]; k++) {
    const char *v = getenv(names[k]);
    if (v && *v) {
      char *end = nullptr;
      const long n = strtol(v, &end, 10);
      if (end != v && *end == '\0' && n >= 0) return static_cast<int>(n);
    }
  }
  return -1;
}

/* this rank's index among the ranks on its node (picks the GPU: local rank mod GPUs), and the node's rank count:
   the launcher's when it gives them (all of the job's ranks on the node), else those of `world` on the node */
int PairNequIP::local_rank(int *node_size) const {
  static const char *const size_vars[] = {"MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE",
                                          "MV2_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_ON_NODE", nullptr};
  static const char *const rank_vars[] = {"MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK",
                                          "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", nullptr};
  MPI_Comm node;
  int rank = 0, size = 1;
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->me, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &rank);
  MPI_Comm_size(node, &size);
  MPI_Comm_free(&node);
  const int job_size = launcher_local(size_vars), job_rank = launcher_local(rank_vars);
  if (job_size >= size && job_rank >= 0 && job_rank < job_size) {
    size = job_size;
    rank = job_rank;
  }
  if (node_size) *node_size = size;
  return rank;
}

/* every rank's device (and node-local rank) in rank 0's log: one line when all ranks share one kind of device,
   else one entry per rank, so that the GPU each rank took (local rank mod GPUs) can be read off the log */
void PairNequIP::log_devices(int node_rank, int node_size) {
  constexpr int width = 64;
  char mine[width] = {0};
  snprintf(mine, width, "%s", models_.front()->info().device.c_str());
  std::vector<char> all(comm->me == 0 ? static_cast<size_t>(width) * comm->nprocs : 1);
  std::vector<int> local(comm->me == 0 ? comm->nprocs : 1);
  MPI_Gather(mine, width, MPI_CHAR, all.data(), width, MPI_CHAR, 0, world);
  MPI_Gather(&node_rank, 1, MPI_INT, local.data(), 1, MPI_INT, 0, world);
  if (comm->me != 0) return;
  std::vector<std::string> devices;
  for (int r = 0; r < comm->nprocs; r++) devices.emplace_back(&all[static_cast<size_t>(r) * width]);
  if (std::all_of(devices.begin(), devices.end(), [&](const std::string &d) { return d == devices[0]; })) {
    utils::logmesg(lmp, "pair nequip: device {} on {} rank(s){}\n", devices[0], comm->nprocs,
                   comm->nprocs > 1 ? fmt::format(" ({} per node)", node_size) : "");
    return;
  }
  std::vector<std::string> items;
  for (int r = 0; r < comm->nprocs; r++) items.push_back(fmt::format("{}: {} (local rank {})", r, devices[r], local[r]));
  utils::logmesg(lmp, "pair nequip: devices by rank: {}\n", utils::join_words(items, ", "));
}

/* pair_coeff * * MODEL_FILE [MODEL_FILE ...] NAME_1 ... NAME_ntypes   (NAME = a model type name or NULL) */
void PairNequIP::coeff(int narg, char **arg) {
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  const int n_models = narg - 2 - ntypes;
  if (n_models < 1)
    error->all(FLERR,
               "pair_coeff for nequip: expected '* * MODEL_FILE [MODEL_FILE ...]' and {} type names (one per LAMMPS "
               "atom type, or NULL), got {} arguments",
               ntypes, narg);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for nequip must start with '* *'");

  // the last ntypes arguments are type names; everything before them must be a model file
  const std::vector<std::string> files(arg + 2, arg + 2 + n_models);
  for (const std::string &a : files)
    if (a.find('.') == std::string::npos && a.find('/') == std::string::npos && !platform::file_is_readable(a))
      error->all(FLERR,
                 "pair_coeff for nequip: '{}' is not a model file; with {} LAMMPS atom type(s) pair_coeff needs "
                 "'* * MODEL_FILE [MODEL_FILE ...]' followed by exactly {} type name(s) (one per type, or NULL)",
                 a, ntypes, ntypes);
  warn_identical_members(files);
  load_models(files);
  if (sigma_every_ > 1 && n_models > 1 && !ensemble_first_)
    error->all(FLERR, "pair_style nequip: sigma_every {} needs 'ensemble first' (the ensemble mean needs every "
                      "member at every step)", sigma_every_);
  if (n_models > 1 && comm->me == 0) {
    utils::logmesg(lmp, "pair nequip: ensemble of {} models on one graph; dynamics from the {}\n", n_models,
                   ensemble_first_ ? "first model" : "ensemble mean");
    if (sigma_every_ > 1)
      utils::logmesg(lmp,
                     "pair nequip: sigma_F from all {} models every {} steps (per-atom and global sigma_F between "
                     "them are the last computed); {:.2f} model calls per step\n",
                     n_models, sigma_every_, 1.0 + (n_models - 1.0) / sigma_every_);
  }
  results_.assign(n_models, beamheat::Result());
  if (malloc_keep_ && models_.front()->info().device == "cpu") keep_freed_memory();
  map_types(arg + 2 + n_models);
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) setflag[i][j] = 1;
}

/* the same file twice (or two copies of one model): sigma_F is then 0 and means nothing. Said first, before the
   style's other log lines, so that no reader of the log misses it. */
void PairNequIP::warn_identical_members(const std::vector<std::string> &files) {
  if (files.size() < 2 || comm->me != 0) return;
  std::vector<std::string> contents;
  for (size_t m = 0; m < files.size(); m++) {
    std::string bytes;
    if (FILE *fp = fopen(files[m].c_str(), "rb")) {
      char buf[65536];
      size_t n;
      while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) bytes.append(buf, n);
      fclose(fp);
    }
    for (size_t k = 0; k < m; k++)
      if (!bytes.empty() && contents[k] == bytes)
        error->warning(FLERR,
                       "pair nequip: ensemble members {} and {} are the same model: sigma_F from them is 0, not "
                       "an uncertainty",
                       files[k], files[m]);
    contents.push_back(std::move(bytes));
  }
}

/* the torch side (threads per rank), then every model on this rank's device; all must share type names and
   cutoffs */
void PairNequIP::load_models(const std::vector<std::string> &files) {
  models_.clear();
  exchange_checked_ = false;
  exchange_note_.clear();
  int node_size = 1;
  const int rank = local_rank(&node_size);
  // torch threads per rank: OMP_NUM_THREADS if set; else 1 when several ranks share the node (no oversubscription)
  const char *omp = getenv("OMP_NUM_THREADS");
  int node_max = node_size;
  MPI_Allreduce(&node_size, &node_max, 1, MPI_INT, MPI_MAX, world);
  const beamheat::Backend *torch_side = nullptr;
  try {
    torch_side = &beamheat::backend();
  } catch (const std::exception &e) {
    error->all(FLERR, "pair nequip: {}", e.what());
  }
  if (omp && *omp) {
    torch_side->set_threads(std::max(1, atoi(omp)));
  } else if (node_max > 1) {
    torch_side->set_threads(1);
    if (comm->me == 0)
      utils::logmesg(lmp, "pair nequip: {} MPI ranks share a node and OMP_NUM_THREADS is unset: 1 torch thread per "
                     "rank (set OMP_NUM_THREADS to use more)\n", node_max);
  }
  if (comm->me == 0)
    utils::logmesg(lmp, "pair nequip: torch {} ({}); {} torch thread(s) per MPI rank, {} rank(s)\n",
                   torch_side->torch_version, torch_side->library, torch_side->threads(), comm->nprocs);
  for (const std::string &file : files) {
    try {
      models_.emplace_back(torch_side->load(file, device_request_, rank, custom_ops_));
    } catch (const std::exception &e) {
      error->all(FLERR, "pair nequip: {}", e.what());
    }
    if (comm->me == 0) {
      for (const std::string &lib : models_.back()->info().custom_ops)
        utils::logmesg(lmp, "pair nequip: custom ops for {}: {}\n", file, lib);
      utils::logmesg(lmp, "pair nequip: loaded {}\n", models_.back()->info().describe());
    }
    const auto &a = models_.front()->info(), &b = models_.back()->info();
    if (b.type_names != a.type_names || b.r_max != a.r_max || b.per_edge_type_cutoff != a.per_edge_type_cutoff)
      error->all(FLERR,
                 "pair nequip: ensemble model {} has other type names or cutoffs than {} ({} / r_max {} vs {} / "
                 "r_max {}); all models of an ensemble must share them",
                 b.path, a.path, utils::join_words(b.type_names, " "), b.r_max, utils::join_words(a.type_names, " "),
                 a.r_max);
  }
  log_devices(rank, node_size);
}

/* On CPU every activation tensor of a large graph is bigger than glibc's mmap threshold, so each one was mapped
   fresh and unmapped again: every page faulted in (and zeroed by the kernel) on every call. Keeping freed memory in
   the heap (no mmap, no trim) reuses it instead. Process-wide, once; the memory high-water mark stays mapped. */
void PairNequIP::keep_freed_memory() {
  static bool malloc_set = false;
  if (malloc_set) return;
  malloc_set = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  if (comm->me == 0)
    utils::logmesg(lmp, "pair nequip: malloc keep: {} (pair_style nequip malloc system to leave glibc alone)\n",
                   malloc_set ? "freed memory is kept for reuse (no mmap, no trim)" : "mallopt refused, unchanged");
}

/* names[t - 1] is LAMMPS type t's model type name, or NULL: the type map and the model's cutoffs per type pair */
void PairNequIP::map_types(char **names) {
  const beamheat::ModelInfo &info = models_.front()->info();
  const int ntypes = atom->ntypes, nt_model = n_model_types_ = static_cast<int>(info.type_names.size());
  type_map_.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    const std::string name = names[t - 1];
    if (name == "NULL") continue;
    int found = -1;
    for (int k = 0; k < nt_model; k++)
      if (info.type_names[k] == name) found = k;
    if (found < 0)
      error->all(FLERR, "pair nequip: type name '{}' (LAMMPS type {}) is not in model {}; the model has: {}", name, t,
                 info.path, utils::join_words(info.type_names, " "));
    type_map_[t] = found;
  }
  r_max_ = info.r_max;
  cutsq_model_.assign(static_cast<size_t>(nt_model) * nt_model, r_max_ * r_max_);
  if (!info.per_edge_type_cutoff.empty())
    for (size_t k = 0; k < cutsq_model_.size(); k++)
      cutsq_model_[k] = info.per_edge_type_cutoff[k] * info.per_edge_type_cutoff[k];
}

void PairNequIP::check_masses() {
  // pair_coeff maps types by position: types listed in another order than the data file's give every atom another
  // element's forces without a word. LAMMPS knows each type's mass; an element name must match it.
  if (!mass_check_ || atom->mass == nullptr || atom->mass_setflag == nullptr) return;
  const auto &names = models_.front()->info().type_names;
  for (int t = 1; t <= atom->ntypes; t++) {
    if (type_map_[t] < 0 || !atom->mass_setflag[t]) continue;
    const std::string &name = names[type_map_[t]];
    const double expected = beamheat::element_mass(name.c_str());
    if (expected > 0 && std::fabs(atom->mass[t] - expected) > MASS_TOLERANCE)
      error->all(FLERR,
                 "pair nequip: LAMMPS type {} has mass {:.4g} but pair_coeff maps it to {} ({:.4g}): are the type "
                 "names in the data file's type order? (pair_style nequip mass_check no allows it)",
                 t, atom->mass[t], name, expected);
  }
}

void PairNequIP::init_style() {
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style nequip requires atom IDs (atom_modify id yes)");
  if (models_.empty()) error->all(FLERR, "pair_style nequip: no model loaded (missing pair_coeff * * MODEL ...)");
  check_masses();
  ghost_mode_ = graph_request_ == GRAPH_GHOSTS || graph_request_ == GRAPH_EXCHANGE ||
                (graph_request_ == GRAPH_AUTO && comm->nprocs > 1);
  exchange_ = false;
  if (!ghost_mode_ && comm->nprocs > 1)
    error->all(FLERR, "pair_style nequip: 'graph images' runs on 1 MPI rank only, not {}; use 'graph auto' or "
               "'graph ghosts' with several ranks", comm->nprocs);
  if (strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR,
               "pair_style nequip: units {} are not supported; NequIP models work in eV and Å, so use 'units metal'",
               update->unit_style);
  // the device graph's candidates: pairs within the type pair's cutoff + skin at the neighbour-list build
  cutsq_candidate_.resize(cutsq_model_.size());
  for (size_t k = 0; k < cutsq_model_.size(); k++) {
    const double c = std::sqrt(cutsq_model_[k]) + neighbor->skin;
    cutsq_candidate_[k] = c * c;
  }
  device_graph_.reset();
  candidates_build_ = -1;
  if (!ghost_mode_) {
    comm_forward = comm_reverse = comm_reverse_off = 0;
    neighbor->add_request(this, NeighConst::REQ_FULL);
    log_graph_build();
    return;
  }
  // domain decomposition: ghost atoms out to L * r_max, the model's energy module differentiated here
  const std::string how = comm->nprocs > 1 ? fmt::format("{} MPI ranks", comm->nprocs) : std::string("graph ghosts");
  int from_models = 0;
  bool all_known = true;
  for (const auto &m : models_) {
    const auto &info = m->info();
    if (!info.local_energy_ok)
      error->all(FLERR,
                 "pair_style nequip: {} need a TorchScript model from nequip >= 0.7 (python -m models.deploy "
                 "--format torchscript), not the {} file {}; or run with mpirun -np 1",
                 how, info.format, info.path);
    from_models = std::max(from_models, info.interaction_blocks);
    all_known = all_known && info.interaction_blocks > 0;
  }
  if (blocks_keyword_ > 0) {
    if (from_models > blocks_keyword_)
      error->all(FLERR,
                 "pair_style nequip: interaction_blocks {} is smaller than the model's {}; the ghost "
                 "shell would be too thin to be exact",
                 blocks_keyword_, from_models);
    blocks_ = blocks_keyword_;
  } else if (all_known) {
    blocks_ = from_models;
  } else {
    error->all(FLERR,
               "pair_style nequip: {} need the model's number of interaction blocks L (ghost atoms out to L x r_max) "
               "and {} neither records it nor shows it (no nequip ConvNetLayer or Allegro modules); add "
               "'interaction_blocks L' to pair_style (1 for strictly local models), "
               "or redeploy it with python -m models.deploy",
               how, models_.front()->info().path);
  }
  if (comm->mode != Comm::SINGLE)
    error->all(FLERR, "pair_style nequip: {} need comm_modify mode single (one ghost cutoff)", how);
  // layer-wise feature exchange (graph exchange; graph auto picks it for L >= 2 when every model allows it): ghosts
  // out to r_max only, node features sent to the neighbours between layers
  int width = 0;
  std::string no_exchange;
  for (const auto &m : models_) {
    const auto &info = m->info();
    if (info.exchange_widths.empty() && no_exchange.empty())
      no_exchange = fmt::format("{}: {}", info.path,
                                !info.exchange_note.empty() ? info.exchange_note
                                                            : "not nequip's sequence of two or more layerN_convnet");
    for (int w : info.exchange_widths) width = std::max(width, w);
  }
  if (no_exchange.empty()) no_exchange = exchange_note_;  // a first-call check failed in an earlier run
  if (graph_request_ == GRAPH_EXCHANGE && !no_exchange.empty())
    error->all(FLERR, "pair_style nequip: graph exchange needs node features it can pass between layers; {}; use "
               "graph ghosts", no_exchange);
  exchange_ = no_exchange.empty() && (graph_request_ == GRAPH_EXCHANGE || (graph_request_ == GRAPH_AUTO && blocks_ >= 2));
  hops_ = exchange_ ? 1 : blocks_;
  // the ghosts reach L x r_max either way: exchange is checked against the ghost graph on its first call
  const double shell = blocks_ * r_max_, need = shell + neighbor->skin;
  const double user = comm->cutghostuser;
  if (user < need) comm->cutghostuser = need;
  comm_forward = exchange_ ? width : 0;
  comm_reverse = comm_reverse_off = std::max(3 * static_cast<int>(models_.size()), comm_forward);
  // Under pair_style hybrid/overlay, Comm sizes its buffers from the hybrid style's comm_reverse, which PairHybrid
  // took from its sub-styles when pair_style was read, before pair_coeff loaded the models. Raise it here (Comm::init
  // runs after Force::init), or an ensemble's reverse communication (3 values per model and atom) overruns them.
  if (force->pair && force->pair != this) {
    force->pair->comm_forward = std::max(force->pair->comm_forward, comm_forward);
    force->pair->comm_reverse = std::max(force->pair->comm_reverse, comm_reverse);
    force->pair->comm_reverse_off = std::max(force->pair->comm_reverse_off, comm_reverse_off);
  }
  if (comm->me == 0 && exchange_)
    utils::logmesg(lmp,
                   "pair nequip: {}: each rank's graph = own atoms' edges, ghosts within r_max {} A; node features "
                   "(up to {} values per atom) exchanged before each of layers 1..{} and their gradients returned; "
                   "ghost cutoff {} A, L x r_max + skin for a first check against the ghost graph ({})\n",
                   how, r_max_, width, blocks_ - 1, comm->cutghostuser,
                   blocks_keyword_ > 0 ? std::string("L from pair_style interaction_blocks")
                                       : "L from " + models_.front()->info().blocks_source);
  else if (comm->me == 0)
    utils::logmesg(lmp,
                   "pair nequip: {}: each rank's graph = own atoms + ghosts within {} interaction blocks x r_max {} A "
                   "= {} A; ghost cutoff {} A ({}){}\n",
                   how, blocks_, r_max_, shell, comm->cutghostuser,
                   blocks_keyword_ > 0 ? std::string("L from pair_style interaction_blocks")
                                       : "L from " + models_.front()->info().blocks_source,
                   blocks_ >= 2 && !no_exchange.empty() ? "; no feature exchange: " + no_exchange : std::string());
  neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_GHOST);
  log_graph_build();
}

/* graph_build auto: on the device, except for ghost graphs of 2 or more hops, whose device graph holds every edge
   within L - 1 hops of cutoff + skin (fixed between rebuilds) where the host's holds those within L - 1 hops of
   the cutoff */
/* graph_build auto: the device route where the models run on a GPU (on the CPU the host's loop, which skips the
   pairs beyond the cutoff in place, is faster than tensor ops over every candidate within cutoff + skin), except for
   ghost graphs of L >= 2 hops */
bool PairNequIP::use_device_graph() const {
  if (build_request_ != BUILD_AUTO) return build_request_ == BUILD_DEVICE;
  return models_.front()->info().device.rfind("cuda", 0) == 0 && !(ghost_mode_ && hops_ >= 2);
}

void PairNequIP::log_graph_build() {
  if (comm->me != 0) return;
  const char *how = build_request_ == BUILD_AUTO ? "graph_build auto" : (build_request_ == BUILD_HOST ? "graph_build host" : "graph_build device");
  if (use_device_graph())
    utils::logmesg(lmp,
                   "pair nequip: graph on the model's device ({}) ({}): edges within cutoff + skin {} A copied from "
                   "the neighbour list at each rebuild, then each step only positions in and forces out; the "
                   "device keeps the edges within the cutoff\n",
                   models_.front()->info().device, how, neighbor->skin);
  else
    utils::logmesg(lmp, "pair nequip: graph built on the host every step ({}{})\n", how,
                   build_request_ != BUILD_AUTO ? std::string()
                   : models_.front()->info().device.rfind("cuda", 0) != 0
                       ? std::string(": the models run on the CPU, where the host's graph is faster")
                       : fmt::format(": ghost graphs of {} hops stay on the host", hops_));
}

double PairNequIP::init_one(int i, int j) {
  if (setflag[i][j] == 0) error->all(FLERR, "pair nequip: pair_coeff not set for types {} {}", i, j);
  const int mi = type_map_[i], mj = type_map_[j];
  if (mi < 0 || mj < 0) return r_max_;
  const int nt = n_model_types_;
  const double c2 = std::max(cutsq_model_[mi * nt + mj], cutsq_model_[mj * nt + mi]);
  return std::sqrt(c2);
}

/* mean (or first) energy, forces, virial; per-atom sigma_F and |F|; pvector for compute pair */
void PairNequIP::combine_ensemble(int nlocal) {
  const int M = static_cast<int>(models_.size());
  if (atom->nmax > nmax_) {
    nmax_ = atom->nmax;
    memory->destroy(sigma_f_);
    memory->destroy(fmean_);
    memory->destroy(forces_);
    memory->create(sigma_f_, nmax_, "pair:sigma_f");
    memory->create(fmean_, nmax_, "pair:fmean");
    memory->create(forces_, nmax_, 3, "pair:forces");
  }
  const int n3 = 3 * nlocal;
  if (!sigma_now_) {  // between sigma_F steps (sigma_every, ensemble first): the first model alone
    const auto &r = results_.front();
    energy_atom_.assign(r.atomic_energy.begin(), r.atomic_energy.begin() + nlocal);
    energy_ = r.energy;
    std::copy(r.virial, r.virial + 9, virial9_);
    has_virial_ = r.has_virial;
    force_ = &r.forces;
    const tagint *tag = atom->tag;
    double fmax = 0.0;
    for (int i = 0; i < nlocal; i++) {
      // per-atom sigma_F of the last sigma_F step, by atom ID (0 for an atom that came from another rank since)
      sigma_f_[i] = tag[i] < static_cast<tagint>(sigma_by_tag_.size()) ? sigma_by_tag_[tag[i]] : 0.0;
      const double *fi = &r.forces[3 * i];
      fmean_[i] = std::sqrt(fi[0] * fi[0] + fi[1] * fi[1] + fi[2] * fi[2]);
      std::copy(fi, fi + 3, forces_[i]);
      fmax = std::max(fmax, std::isfinite(fmean_[i]) ? fmean_[i] : INFINITY);
    }
    local_[2] = fmax;  // max sigma_F, sum and count stay those of the last sigma_F step
    return;
  }
  mean_force_.assign(n3, 0.0);
  for (const auto &r : results_)
    for (int k = 0; k < n3; k++) mean_force_[k] += r.forces[k] / M;
  // what the dynamics use: the ensemble mean, or the first model alone
  const int n_use = ensemble_first_ ? 1 : M;
  energy_atom_.assign(nlocal, 0.0);
  energy_ = 0.0;
  std::fill(virial9_, virial9_ + 9, 0.0);
  has_virial_ = true;
  for (int m = 0; m < n_use; m++) {
    const auto &r = results_[m];
    for (int i = 0; i < nlocal; i++) energy_atom_[i] += r.atomic_energy[i] / n_use;
    energy_ += r.energy / n_use;
    for (int k = 0; k < 9; k++) virial9_[k] += r.virial[k] / n_use;
    has_virial_ = has_virial_ && r.has_virial;
  }
  force_ = ensemble_first_ ? &results_.front().forces : &mean_force_;
  double smax = 0.0, ssum = 0.0, fmax = 0.0;
  for (int i = 0; i < nlocal; i++) {
    double var = 0.0;
    for (int m = 0; m < M; m++)
      for (int d = 0; d < 3; d++) {
        const double dev = results_[m].forces[3 * i + d] - mean_force_[3 * i + d];
        var += dev * dev;
      }
    sigma_f_[i] = std::sqrt(var / M);  // eq. 2
    const double *fi = &(*force_)[3 * i];
    fmean_[i] = std::sqrt(fi[0] * fi[0] + fi[1] * fi[1] + fi[2] * fi[2]);
    std::copy(fi, fi + 3, forces_[i]);
    smax = std::max(smax, sigma_f_[i]);
    ssum += sigma_f_[i];
    fmax = std::max(fmax, std::isfinite(fmean_[i]) ? fmean_[i] : INFINITY);
  }
  local_[0] = smax;
  local_[1] = ssum;
  local_[2] = fmax;
  local_[3] = nlocal;
  have_sigma_ = true;
  if (sigma_every_ > 1 && M > 1) {  // kept by atom ID for the steps in between
    const tagint *tag = atom->tag;
    tagint tmax = 0;
    for (int i = 0; i < nlocal; i++) tmax = std::max(tmax, tag[i]);
    if (static_cast<tagint>(sigma_by_tag_.size()) <= tmax) sigma_by_tag_.resize(tmax + 1, 0.0);
    std::fill(sigma_by_tag_.begin(), sigma_by_tag_.end(), 0.0);
    for (int i = 0; i < nlocal; i++) sigma_by_tag_[tag[i]] = sigma_f_[i];
  }
}

/* global max/mean sigma_F and max |F| over all ranks, for compute pair nequip (thermo), which sums pvector over
   ranks, so rank 0 holds the values and the others zeros */
void PairNequIP::reduce_globals() {
  const int M = static_cast<int>(models_.size());
  double mx[2] = {local_[0], local_[2]}, gmx[2];
  std::vector<double> sm{local_[1], local_[3]};
  sm.insert(sm.end(), graph_counts_.begin(), graph_counts_.end());
  std::vector<double> gsm(sm.size());
  MPI_Allreduce(mx, gmx, 2, MPI_DOUBLE, MPI_MAX, world);
  MPI_Allreduce(sm.data(), gsm.data(), static_cast<int>(sm.size()), MPI_DOUBLE, MPI_SUM, world);
  const double global[4] = {gmx[0], gsm[1] > 0 ? gsm[0] / gsm[1] : 0.0, gmx[1], static_cast<double>(M)};
  for (int k = 0; k < 4; k++) pvector[k] = comm->me == 0 ? global[k] : 0.0;
  stats_.resize(graph_counts_.size(), 0.0);
  for (size_t k = 0; k < graph_counts_.size(); k++) stats_[k] += gsm[2 + k];
  natoms_calls_ += static_cast<long>(gsm[1]);
}

void *PairNequIP::extract_peratom(const char *name, int &ncol) {
  ncol = 0;
  if (strcmp(name, "sigma_f") == 0) return sigma_f_;
  if (strcmp(name, "fmean") == 0) return fmean_;
  ncol = 3;
  if (strcmp(name, "forces") == 0) return forces_;
  ncol = 0;
  return nullptr;
}

std::string PairNequIP::type_name(int itype) const {
  const int mt = itype >= 0 && itype < static_cast<int>(type_map_.size()) ? type_map_[itype] : -1;
  return mt < 0 ? std::string("NULL") : models_.front()->info().type_names[mt];
}

double PairNequIP::memory_usage() {
  return Pair::memory_usage() + 5.0 * nmax_ * sizeof(double);
}

/* after each run: where the pair time went (model evaluation vs building the graph) */
void PairNequIP::finish() {
  if (n_calls_ == 0 || comm->me != 0) {
    t_graph_ = t_model_ = 0.0;
    n_calls_ = n_edges_total_ = 0;
    n_rebuilds_ = 0;
    stats_.clear();
    natoms_calls_ = 0;
    return;
  }
  utils::logmesg(lmp,
                 "pair nequip: {} calls, model {:.4g} s ({:.4g} ms/call), graph {:.4g} s ({:.4g} ms/call), "
                 "{:.0f} edges/call; graph {}\n",
                 n_calls_, t_model_, 1e3 * t_model_ / n_calls_, t_graph_, 1e3 * t_graph_ / n_calls_,
                 double(n_edges_total_) / n_calls_,
                 use_device_graph() ? fmt::format("on the device, edges copied at {} neighbour-list rebuild(s)",
                                                  n_rebuilds_)
                                    : std::string("built on the host every call"));
  if (ghost_mode_ && !stats_.empty() && stats_[0] > 0) {
    utils::logmesg(lmp,
                   "pair nequip: ghost graphs over {} rank(s): {:.0f} nodes and {:.0f} edges per step for {:.0f} "
                   "atoms; redundant work {:.1f}% of nodes, {:.1f}% of edges (ghost shell {} A)\n",
                   comm->nprocs, stats_[0] / n_calls_, stats_[1] / n_calls_, double(natoms_calls_) / n_calls_,
                   100.0 * (1.0 - double(natoms_calls_) / stats_[0]),
                   stats_[1] > 0 ? 100.0 * (1.0 - stats_[2] / stats_[1]) : 0.0, hops_ * r_max_);
    const auto &info = models_.front()->info();
    if (exchange_) {
      const int layers = static_cast<int>(info.exchange_widths.size()) + 1;
      utils::logmesg(lmp,
                     "pair nequip: layer-wise feature exchange on: each of the model's {} layers sees the own atoms' "
                     "edges only ({:.0f} edges per step over its layers, {:.1f}% redundant); the ghost nodes carry "
                     "features received from their owners\n",
                     layers, stats_[3] / n_calls_,
                     stats_[3] > 0 ? 100.0 * (1.0 - layers * stats_[2] / stats_[3]) : 0.0);
    } else {
      // an L-layer model pruned layer-wise: layer l sees the edges centred within L-1-l hops
      std::string within;
      double work = 0.0;
      for (int d = 0; d < hops_; d++) {
        within += fmt::format("{}{:.0f}", d ? ", " : "", stats_[4 + d] / n_calls_);
        work += stats_[4 + d];
      }
      utils::logmesg(lmp,
                     "pair nequip: edges per step centred within 0..{} hops of own atoms: {}; pruned layer-wise, {} "
                     "layers do {:.1f}% redundant edge work\n",
                     hops_ - 1, within, hops_, work > 0 ? 100.0 * (1.0 - hops_ * stats_[2] / work) : 0.0);
      const std::string off = models_.front()->pruning_off();
      if (info.pruned_layers > 0 && off.empty() && stats_[3] > 0)
        utils::logmesg(lmp,
                       "pair nequip: layer-wise pruning on: layer l of the model's {} sees only the nodes within {}-l "
                       "hops; {:.0f} edges per step over its layers, {:.1f}% redundant\n",
                       info.pruned_layers, hops_, stats_[3] / n_calls_,
                       100.0 * (1.0 - info.pruned_layers * stats_[2] / stats_[3]));
      else
        utils::logmesg(lmp, "pair nequip: layer-wise pruning off: {}\n",
                       !off.empty() ? off
                                    : std::string("the model is not nequip's sequence of layerN_convnet modules "
                                                  "(strictly local models need none)"));
    }
  }
  t_graph_ = t_model_ = 0.0;
  n_calls_ = n_edges_total_ = 0;
  n_rebuilds_ = 0;
  stats_.clear();
  natoms_calls_ = 0;
}

/* the model type of local atom i; an atom of a type pair_coeff maps to NULL is an error */
int PairNequIP::model_type_of_local(int i) const {
  const int mt = type_map_[atom->type[i]];
  if (mt < 0)
    error->one(FLERR,
               "pair nequip: atom ID {} has LAMMPS type {}, which pair_coeff maps to NULL; every atom must have a "
               "model type",
               atom->tag[i], atom->type[i]);
  return mt;
}

/* the integer cell shift s of an image: x_image = x_atom + s . cell, with h = domain->h (xx yy zz yz xz xy) and
   the cell's rows a = (xx,0,0), b = (xy,yy,0), c = (xz,yz,zz) */
static void cell_shift(const double *x_image, const double *x_atom, const double *h, double s[3]) {
  const double ex = x_image[0] - x_atom[0], ey = x_image[1] - x_atom[1], ez = x_image[2] - x_atom[2];
  s[2] = std::round(ez / h[2]);
  s[1] = std::round((ey - s[2] * h[3]) / h[1]);
  s[0] = std::round((ex - s[1] * h[5] - s[2] * h[4]) / h[0]);
}

/* Nodes = local atoms; edge i -> owner(j) with integer cell shift s so that x_j = x_owner + s . cell. */
void PairNequIP::build_graph(const std::vector<double> &cutsq) {
  const int nlocal = atom->nlocal;
  double **x = atom->x;
  const int *type = atom->type;
  const tagint *tag = atom->tag;

  // tags need not be consecutive: the tag -> owner table is sized by the largest local tag
  tagint maxtag = 0;
  for (int i = 0; i < nlocal; i++) maxtag = std::max(maxtag, tag[i]);
  owner_of_tag_.assign(static_cast<size_t>(maxtag) + 1, -1);
  for (int i = 0; i < nlocal; i++) owner_of_tag_[tag[i]] = i;

  pos_.resize(3 * static_cast<size_t>(nlocal));
  types_.resize(nlocal);
  for (int i = 0; i < nlocal; i++) {
    const int mt = model_type_of_local(i);
    types_[i] = mt;
    for (int d = 0; d < 3; d++) pos_[3 * i + d] = x[i][d];
  }

  const double *h = domain->h;  // xx yy zz yz xz xy
  const int nt = n_model_types_;
  edge_src_.clear();
  edge_dst_.clear();
  shift_.clear();
  const int inum = list->inum;
  const int *ilist = list->ilist;
  const int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;
  for (int ii = 0; ii < inum; ii++) {
    const int i = ilist[ii];
    const int ti = static_cast<int>(types_[i]);
    const int *jlist = firstneigh[i];
    for (int jj = 0; jj < numneigh[i]; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      const double rsq = dx * dx + dy * dy + dz * dz;
      const int tj_l = type[j];
      const int tj = type_map_[tj_l];
      if (tj < 0) continue;  // ghost of a NULL-typed atom: the local one raises the error above
      if (rsq >= cutsq[ti * nt + tj]) continue;
      int owner = j;
      double s[3] = {0.0, 0.0, 0.0};
      if (j >= nlocal) {
        if (tag[j] > maxtag || owner_of_tag_[tag[j]] < 0)
          error->one(FLERR, "pair nequip: ghost atom ID {} has no local owner (more than one rank?)", tag[j]);
        owner = owner_of_tag_[tag[j]];
        cell_shift(x[j], x[owner], h, s);
      }
      edge_src_.push_back(i);
      edge_dst_.push_back(owner);
      shift_.insert(shift_.end(), s, s + 3);
    }
  }
  const size_t ne = edge_src_.size();
  edge_index_.resize(2 * ne);
  std::copy(edge_src_.begin(), edge_src_.end(), edge_index_.begin());
  std::copy(edge_dst_.begin(), edge_dst_.end(), edge_index_.begin() + ne);
}

/* Nodes = own atoms (nodes 0..nlocal-1, in order), then ghosts reached breadth-first: edges leave nodes at most
   L-1 hops from an own atom, so every node whose features reach an own atom's energy has its full neighbourhood,
   and nodes L hops away close the graph. One node per atom ID: a ghost that is a periodic image of an atom
   already in the graph (an own atom, or a ghost reached in fewer or as many hops) is that node, reached through an
   edge with an integer cell shift, as on one rank. This is exact: an atom's features do not depend on which image
   carries them, and the first image reached has the most complete neighbourhood. It removes the images of a rank's
   own atoms across the periodic sides it does not share (on one rank, every ghost), and ghosts seen twice. */
void PairNequIP::build_graph_ghosts(const std::vector<double> &cutsq) {
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  double **x = atom->x;
  const int *type = atom->type;
  const tagint *tag = atom->tag;
  const double *h = domain->h;  // xx yy zz yz xz xy
  const int nt = n_model_types_;
  node_of_.assign(nall, -1);
  node_of_tag_.clear();
  node_atom_.clear();
  types_.clear();
  edge_src_.clear();
  edge_dst_.clear();
  shift_.clear();
  for (int i = 0; i < nlocal; i++) {
    const int mt = model_type_of_local(i);
    node_of_[i] = i;
    node_atom_.push_back(i);
    types_.push_back(mt);
    node_of_tag_.emplace(tag[i], i);
  }
  std::vector<int> frontier(node_atom_), next;
  const int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;
  hop_nodes_.assign(1, nlocal);
  hop_edges_.clear();
  for (int d = 0; d < hops_; d++) {
    next.clear();
    for (const int c : frontier) {
      const int nc = node_of_[c];
      const int tc = static_cast<int>(types_[nc]);
      const int *jlist = firstneigh[c];
      for (int jj = 0; jj < numneigh[c]; jj++) {
        const int j = jlist[jj] & NEIGHMASK;
        const int tj = type_map_[type[j]];
        if (tj < 0) continue;
        const double dx = x[j][0] - x[c][0], dy = x[j][1] - x[c][1], dz = x[j][2] - x[c][2];
        if (dx * dx + dy * dy + dz * dz >= cutsq[tc * nt + tj]) continue;
        int nj = node_of_[j];
        if (nj < 0) {
          const auto found = node_of_tag_.find(tag[j]);
          if (found == node_of_tag_.end()) {
            nj = static_cast<int>(node_atom_.size());
            node_atom_.push_back(j);
            types_.push_back(tj);
            next.push_back(j);
            node_of_tag_.emplace(tag[j], nj);
          } else {
            nj = found->second;
          }
          node_of_[j] = nj;
        }
        // frontier atoms carry their nodes (c = node_atom_[nc]); j may be an image of node nj's atom:
        // x_j = x[node_atom_[nj]] + s . cell, so that the model's edge vector pos[nj] - pos[nc] + s . cell = x_j - x_c
        double s[3] = {0.0, 0.0, 0.0};
        if (node_atom_[nj] != j) cell_shift(x[j], x[node_atom_[nj]], h, s);
        edge_src_.push_back(nc);
        edge_dst_.push_back(nj);
        shift_.insert(shift_.end(), s, s + 3);
      }
    }
    hop_edges_.push_back(static_cast<int64_t>(edge_src_.size()));
    hop_nodes_.push_back(static_cast<int64_t>(node_atom_.size()));
    frontier.swap(next);
  }
  const size_t nn = node_atom_.size(), ne = edge_src_.size();
  pos_.resize(3 * nn);
  for (size_t k = 0; k < nn; k++)
    for (int d = 0; d < 3; d++) pos_[3 * k + d] = x[node_atom_[k]][d];
  edge_index_.resize(2 * ne);
  std::copy(edge_src_.begin(), edge_src_.end(), edge_index_.begin());
  std::copy(edge_dst_.begin(), edge_dst_.end(), edge_index_.begin() + ne);
  graph_counts_.assign(4, 0.0);
  graph_counts_[0] = static_cast<double>(nn);
  graph_counts_[1] = static_cast<double>(ne);
  graph_counts_[2] = static_cast<double>(hop_edges_.front());  // the edges out of own atoms
  graph_counts_.insert(graph_counts_.end(), hop_edges_.begin(), hop_edges_.end());
}

/* the graph of edges shorter than sqrt(cutsq) of their type pair, built on the host (the one-rank graph or the ghost
   graph) into the member arrays, and G pointing at them */
void PairNequIP::host_graph(const std::vector<double> &cutsq, beamheat::Graph &g) {
  if (ghost_mode_) build_graph_ghosts(cutsq);
  else build_graph(cutsq);
  g.n_nodes = ghost_mode_ ? static_cast<int64_t>(node_atom_.size()) : atom->nlocal;
  g.n_edges = static_cast<int64_t>(edge_src_.size());
  g.pos = pos_.data();
  g.atom_types = types_.data();
  g.edge_index = edge_index_.data();
  g.edge_shift = shift_.data();
  if (ghost_mode_) {
    g.n_hops = hops_;
    g.hop_nodes = hop_nodes_.data();
    g.hop_edges = hop_edges_.data();
  }
}

/* The graph on the models' device. After a neighbour-list build (or a change of the ghost graph's depth): the
   candidate edges, built as the host graph but with cutoff + skin, copied there with the node types. Every step:
   the node positions (an own atom's or a ghost's current x) in, the edges within the cutoff kept there. */
void PairNequIP::device_graph_step(beamheat::Graph &g) {
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  if (!device_graph_) {
    try {
      device_graph_.reset(beamheat::backend().graph(models_.front()->info().device, cutsq_model_, n_model_types_));
    } catch (const std::exception &e) {
      error->one(FLERR, "pair nequip: {}", e.what());
    }
    candidates_build_ = -1;
  }
  if (neighbor->ncalls != candidates_build_ || hops_ != candidates_hops_ || nall != candidates_nall_) {
    beamheat::Graph c;
    host_graph(cutsq_candidate_, c);
    try {
      device_graph_->set_candidates(c);
    } catch (const std::exception &e) {
      error->one(FLERR, "pair nequip: copying the graph to the device failed at step {}: {}", update->ntimestep,
                 e.what());
    }
    candidates_build_ = neighbor->ncalls;
    candidates_hops_ = hops_;
    candidates_nall_ = nall;
    n_rebuilds_++;
  } else {
    double **x = atom->x;
    if (ghost_mode_) {
      for (size_t k = 0; k < node_atom_.size(); k++)
        for (int d = 0; d < 3; d++) pos_[3 * k + d] = x[node_atom_[k]][d];
    } else {
      for (int i = 0; i < nlocal; i++)
        for (int d = 0; d < 3; d++) pos_[3 * i + d] = x[i][d];
    }
  }
  const double *h = domain->h;  // rows: a = (xx,0,0), b = (xy,yy,0), c = (xz,yz,zz)
  const double cell[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
  try {
    device_graph_->update(pos_.data(), cell, g);
  } catch (const std::exception &e) {
    error->one(FLERR, "pair nequip: the graph on the device failed at step {}: {}", update->ntimestep, e.what());
  }
  if (ghost_mode_) {  // this step's counts, as build_graph_ghosts gives them for the host's graph
    graph_counts_.assign(4, 0.0);
    graph_counts_[0] = static_cast<double>(g.n_nodes);
    graph_counts_[1] = static_cast<double>(g.n_edges);
    graph_counts_[2] = g.n_hops > 0 ? static_cast<double>(g.hop_edges[0]) : 0.0;
    for (int d = 0; d < g.n_hops; d++) graph_counts_.push_back(static_cast<double>(g.hop_edges[d]));
  }
}

/* after the models ran on the ghost graph: per-model virial from node positions, the partial forces on ghosts
   sent to their owners, and every model's complete forces on own atoms left in results_ */
void PairNequIP::compute_ghosts() {
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  const int M = static_cast<int>(models_.size()), W = 3 * M;
  const size_t nn = node_atom_.size();
  fbuf_.assign(static_cast<size_t>(nall) * W, 0.0);
  for (int m = 0; m < n_eval_; m++) {
    auto &r = results_[m];
    double v[9];
    std::copy(r.virial, r.virial + 9, v);  // the edges' cell shifts (compute_local), then sum x (x) f over nodes
    for (size_t k = 0; k < nn; k++) {
      const double *xk = &pos_[3 * k], *fk = &r.forces[3 * k];
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) v[3 * a + b] += xk[a] * fk[b];
      double *dst = &fbuf_[static_cast<size_t>(node_atom_[k]) * W + 3 * m];
      dst[0] = fk[0], dst[1] = fk[1], dst[2] = fk[2];
    }
    std::copy(v, v + 9, r.virial);
    r.has_virial = true;
  }
  rev_data_ = fbuf_.data();
  rev_width_ = W;
  comm->reverse_comm(this, W);
  for (int m = 0; m < n_eval_; m++) {
    auto &r = results_[m];
    r.forces.resize(3 * static_cast<size_t>(nlocal));
    for (int i = 0; i < nlocal; i++)
      for (int d = 0; d < 3; d++) r.forces[3 * i + d] = fbuf_[static_cast<size_t>(i) * W + 3 * m + d];
    r.atomic_energy.resize(nlocal);
  }
}

int PairNequIP::pack_reverse_comm(int n, int first, double *buf) {
  const int W = rev_width_;
  int m = 0;
  for (int i = first; i < first + n; i++)
    for (int k = 0; k < W; k++) buf[m++] = rev_data_[static_cast<size_t>(i) * W + k];
  return m;
}

void PairNequIP::unpack_reverse_comm(int n, int *list, double *buf) {
  const int W = rev_width_;
  int m = 0;
  for (int i = 0; i < n; i++) {
    double *dst = &rev_data_[static_cast<size_t>(list[i]) * W];
    for (int k = 0; k < W; k++) dst[k] += buf[m++];
  }
}

/* feature exchange: own atoms' rows to every rank that holds them as ghosts (forward), and the gradients with
   respect to ghosts' rows back to their owners, summed (reverse); rows are graph nodes, own atoms first */
int PairNequIP::pack_forward_comm(int n, int *list, double *buf, int /*pbc_flag*/, int * /*pbc*/) {
  const int W = fwd_width_;
  int m = 0;
  for (int i = 0; i < n; i++) {
    const double *src = &xbuf_[static_cast<size_t>(list[i]) * W];
    for (int k = 0; k < W; k++) buf[m++] = src[k];
  }
  return m;
}

void PairNequIP::unpack_forward_comm(int n, int first, double *buf) {
  const int W = fwd_width_;
  int m = 0;
  for (int i = first; i < first + n; i++)
    for (int k = 0; k < W; k++) xbuf_[static_cast<size_t>(i) * W + k] = buf[m++];
}

void PairNequIP::exchange_forward(double *rows, int width) {
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  const size_t W = width, nn = node_atom_.size();
  xbuf_.resize(static_cast<size_t>(nall) * W);
  if (nn > 0) std::copy(rows, rows + nlocal * W, xbuf_.begin());  // nodes 0..nlocal-1 are the own atoms
  fwd_width_ = width;
  comm->forward_comm(this, width);
  for (size_t k = nlocal; k < nn; k++) std::copy_n(&xbuf_[node_atom_[k] * W], W, rows + k * W);
}

void PairNequIP::exchange_reverse(double *rows, int width) {
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  const size_t W = width, nn = node_atom_.size();
  xbuf_.assign(static_cast<size_t>(nall) * W, 0.0);
  for (size_t k = nlocal; k < nn; k++) std::copy_n(rows + k * W, W, &xbuf_[node_atom_[k] * W]);
  rev_data_ = xbuf_.data();
  rev_width_ = width;
  comm->reverse_comm(this, width);
  if (nn > 0)
    for (size_t k = 0; k < static_cast<size_t>(nlocal) * W; k++) rows[k] += xbuf_[k];
}

namespace {
// the model's view of the pair style's feature exchange
class NodeExchange final : public beamheat::Exchange {
 public:
  explicit NodeExchange(PairNequIP *pair) : pair_(pair) {}
  void forward(double *rows, int width) override { pair_->exchange_forward(rows, width); }
  void reverse(double *rows, int width) override { pair_->exchange_reverse(rows, width); }

 private:
  PairNequIP *pair_;
};
}  // namespace

/* the graph, the first n_eval_ models on it, and (ghost graphs) every model's complete forces on own atoms */
void PairNequIP::run_models() {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const int nlocal = atom->nlocal;
  beamheat::Graph g;
  if (use_device_graph()) {
    device_graph_step(g);
  } else {
    host_graph(cutsq_model_, g);
    const double *h = domain->h;  // rows: a = (xx,0,0), b = (xy,yy,0), c = (xz,yz,zz)
    const double cell[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
    std::memcpy(g.cell, cell, sizeof(cell));
  }
  const auto t1 = clock::now();

  for (int m = 0; m < n_eval_; m++) {
    try {
      if (!ghost_mode_) {
        models_[m]->compute(g, results_[m]);
      } else if (exchange_) {  // every rank, with or without atoms: the exchanges between layers must match
        NodeExchange ex(this);
        models_[m]->compute_exchange(g, nlocal, ex, results_[m]);
      } else if (g.n_nodes > 0) {
        models_[m]->compute_local(g, nlocal, results_[m]);
      } else {  // a subdomain without atoms (vacuum)
        std::fill(results_[m].virial, results_[m].virial + 9, 0.0);
        results_[m].forces.clear();
        results_[m].atomic_energy.clear();
        results_[m].energy = 0.0;
      }
    } catch (const std::exception &e) {
      error->one(FLERR, "pair nequip: model evaluation failed at step {}: {}", update->ntimestep, e.what());
    }
  }
  const auto t2 = clock::now();
  t_graph_ += std::chrono::duration<double>(t1 - t0).count();
  t_model_ += std::chrono::duration<double>(t2 - t1).count();
  n_edges_last_ = g.n_edges;
  if (ghost_mode_) {
    graph_counts_[3] = g.n_nodes > 0 ? static_cast<double>(results_[0].layer_edges) : 0.0;
    compute_ghosts();
  } else {
    graph_counts_.assign(4, 0.0);
    graph_counts_[0] = nlocal;
    graph_counts_[1] = graph_counts_[2] = static_cast<double>(g.n_edges);
  }
}

/* Once per set of models, on the first call with feature exchange: every model on the ghost graph of L hops (the
   route checked against one rank in the tests, itself checked against the whole model on its first call) and with
   exchanged features; their forces and per-atom energies must agree (a guard against a model whose layers share
   more than their node features). If not, the ghost graph from then on: the ghost cutoff was set for it. The step's
   own evaluation follows, on whichever route is then on. */
void PairNequIP::check_exchange() {
  exchange_checked_ = true;
  const int keep = n_eval_, nlocal = atom->nlocal;
  n_eval_ = static_cast<int>(models_.size());
  exchange_ = false;
  hops_ = blocks_;
  run_models();
  std::vector<std::vector<double>> ref_f(n_eval_), ref_e(n_eval_);
  for (int m = 0; m < n_eval_; m++) {
    ref_f[m] = results_[m].forces;
    ref_e[m] = results_[m].atomic_energy;
  }
  exchange_ = true;
  hops_ = 1;
  run_models();
  n_eval_ = keep;
  double local[2] = {0.0, 0.0}, global[2];  // max |dF|, max |F|
  for (size_t m = 0; m < ref_f.size(); m++) {
    for (int k = 0; k < 3 * nlocal; k++) {
      local[0] = std::max(local[0], std::fabs(results_[m].forces[k] - ref_f[m][k]));
      local[1] = std::max(local[1], std::fabs(ref_f[m][k]));
    }
    for (int i = 0; i < nlocal; i++)
      local[0] = std::max(local[0], std::fabs(results_[m].atomic_energy[i] - ref_e[m][i]));
  }
  for (double &v : local)
    if (!std::isfinite(v)) v = HUGE_VAL;
  MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_MAX, world);
  const double tol = (models_.front()->info().model_dtype == "float32" ? 1e-4 : 1e-9) * std::max(1.0, global[1]);
  if (!(global[0] <= tol)) {
    exchange_ = false;
    hops_ = blocks_;
    exchange_note_ = fmt::format("exchanged features changed the forces or per-atom energies by {:.3g} (eV/A, eV) "
                                 "on a first check against the ghost graph", global[0]);
    if (comm->me == 0)
      error->warning(FLERR, "pair nequip: layer-wise feature exchange off: {}; ghost graphs of {} hops from now on{}",
                     exchange_note_, blocks_, use_device_graph() ? "" : ", built on the host");
  } else if (comm->me == 0) {
    utils::logmesg(lmp,
                   "pair nequip: layer-wise feature exchange checked on its first call against the ghost graph of "
                   "{} hops: forces and per-atom energies agree to {:.3g}\n",
                   blocks_, global[0]);
  }
}

void PairNequIP::compute(int eflag, int vflag) {
  ev_init(eflag, vflag);
  if (vflag_atom || cvflag_atom)
    error->all(FLERR, "pair nequip: per-atom virial (compute stress/atom) is not available from NequIP models");
  const int nlocal = atom->nlocal;
  const int M_all = static_cast<int>(models_.size());
  sigma_now_ = M_all == 1 || sigma_every_ == 1 || !have_sigma_ || update->ntimestep % sigma_every_ == 0;
  n_eval_ = sigma_now_ ? M_all : 1;
  if (exchange_ && !exchange_checked_) check_exchange();
  run_models();
  n_calls_++;
  n_edges_total_ += n_edges_last_;
  combine_ensemble(nlocal);
  reduce_globals();

  double **f = atom->f;
  const tagint *tag = atom->tag;
  for (int i = 0; i < nlocal; i++) {
    const double *fi = &(*force_)[3 * i];
    if (!std::isfinite(fi[0]) || !std::isfinite(fi[1]) || !std::isfinite(fi[2]))
      error->one(FLERR,
                 "pair nequip: non-finite force on atom ID {} at step {} (overlapping atoms, or a configuration far "
                 "outside the training data)",
                 tag[i], update->ntimestep);
    f[i][0] += fi[0];
    f[i][1] += fi[1];
    f[i][2] += fi[2];
  }

  if (eflag_global) eng_vdwl += energy_;
  if (eflag_atom)
    for (int i = 0; i < nlocal; i++) eatom[i] += energy_atom_[i];
  if (vflag_global) {
    if (has_virial_) {
      const double *v = virial9_;  // row-major 3x3
      virial[0] += v[0];
      virial[1] += v[4];
      virial[2] += v[8];
      virial[3] += 0.5 * (v[1] + v[3]);
      virial[4] += 0.5 * (v[2] + v[6]);
      virial[5] += 0.5 * (v[5] + v[7]);
    } else if (!warned_no_virial_) {
      warned_no_virial_ = true;
      if (comm->me == 0)
        error->warning(FLERR, "pair nequip: model {} returns no virial: pressure excludes this pair style",
                       models_.front()->info().path);
    }
  }
}
