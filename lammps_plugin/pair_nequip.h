// beamheat: pair_style nequip — compiled NequIP models inside LAMMPS.
//
//   pair_style nequip [device auto|cpu|cuda|cuda:N]
//   pair_coeff * * model.nequip.pth Au B N      (one model type name, or NULL, per LAMMPS atom type)
//
// The graph handed to the model has the local atoms as nodes and one directed edge per neighbour pair within the
// cutoff; a ghost neighbour is replaced by the local atom it images plus an integer cell shift, so the model sees
// the periodic system itself and returns forces on local atoms and the cell virial directly. This is exact on one
// MPI rank; multi-rank decomposition needs ghost nodes out to L*r_max and is a separate development.
#ifndef BEAMHEAT_PAIR_NEQUIP_H
#define BEAMHEAT_PAIR_NEQUIP_H

#include "pair.h"

#include <memory>
#include <string>
#include <vector>

namespace beamheat {
class Model;
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

 protected:
  void allocate();
  void build_graph();
  int local_rank() const;

  std::string device_request_ = "auto";
  std::vector<std::unique_ptr<beamheat::Model>> models_;
  std::vector<int> type_map_;           // LAMMPS type (1..ntypes) -> model type index, -1 for NULL
  std::vector<double> cutsq_model_;     // model type (centre, neighbour) -> cutoff^2, row-major
  int n_model_types_ = 0;
  double r_max_ = 0.0;

  // graph buffers, reused between steps
  std::vector<double> pos_, shift_;
  std::vector<int64_t> types_, edge_src_, edge_dst_, edge_index_;
  std::vector<int> owner_of_tag_;
  std::unique_ptr<beamheat::Result> result_;
  bool warned_no_virial_ = false;

  // wall time inside compute(), split into graph construction and model evaluation (reported by finish())
  double t_graph_ = 0.0, t_model_ = 0.0;
  long n_calls_ = 0, n_edges_total_ = 0;
};

}  // namespace LAMMPS_NS

#endif
