// beamheat: fix nequip/frames — the last configurations before a run was stopped early, as extxyz.
//
//   fix ID group nequip/frames N K FILE
//
// Keeps the last K configurations of the group's atoms, one every N steps (and at the set-up of each run or
// minimisation on a multiple of N), with pair_style nequip's forces (the ones the dynamics use: the ensemble mean, or
// the first model's) and per-atom sigma_F. When a run ends early, because a fix halt stopped it (or the timer timed
// out), rank 0 writes them, oldest first, plus the configuration of the step it stopped on, to FILE (FILE.part, then
// renamed): extxyz with species, positions, forces_ensemble_mean, sigma_f, and step, max_sigma_f, halt_reason,
// Lattice and pbc per frame. A run that ends normally writes nothing.
//
// fix halt resets its forced time-out in its own post_run (error continue); this fix must see it first, so it must be
// defined before any fix halt (checked). Typical use (lammps_inputs/nequip_halt.in; compute pair nequip cannot drive
// fix halt: it needs an energy tally on the step, which a reset_timestep breaks):
//   fix nequip_halt_pair all pair 1 nequip sigma_f 0 fmean 0
//   compute nequip_halt all reduce max f_nequip_halt_pair[1] f_nequip_halt_pair[2]
//   variable nequip_max_f equal c_nequip_halt[2]
//   fix frames all nequip/frames 10 5 nequip_halt.extxyz
//   fix halt_fmax all halt 1 v_nequip_max_f > 100 error continue
#ifndef BEAMHEAT_FIX_NEQUIP_FRAMES_H
#define BEAMHEAT_FIX_NEQUIP_FRAMES_H

#include "fix.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class PairNequIP;

class FixNequIPFrames : public Fix {
 public:
  FixNequIPFrames(class LAMMPS *, int, char **);

  int setmask() override;
  void init() override;
  void setup(int) override;
  void min_setup(int) override;
  void end_of_step() override;
  void min_post_force(int) override;
  void post_run() override;

 private:
  struct Frame {
    bigint step;
    double cell[9];
    std::vector<double> pos, force, sigma;
    std::vector<int> type;
    std::vector<tagint> tag;
  };
  void remember();
  std::vector<Frame> gather() const;
  void write(const std::vector<Frame> &frames) const;

  int keep_;
  std::string file_;
  PairNequIP *pair_ = nullptr;
  std::vector<Frame> frames_;  // ring of the last keep_ configurations
  size_t next_ = 0;            // the oldest frame, overwritten next once the ring is full
  bigint last_step_ = -1;      // step of the newest frame (a minimiser evaluates forces several times per step)
};

}  // namespace LAMMPS_NS

#endif
