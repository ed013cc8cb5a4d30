// beamheat: fix nequip/frames. See fix_nequip_frames.h for the syntax.
#include "fix_nequip_frames.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "modify.h"
#include "timer.h"
#include "update.h"
#include "utils.h"

#include "pair_nequip.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mpi.h>
#include <numeric>

using namespace LAMMPS_NS;
using namespace FixConst;

FixNequIPFrames::FixNequIPFrames(LAMMPS *lmp, int narg, char **arg) : Fix(lmp, narg, arg) {
  if (narg != 6)
    error->all(FLERR, "fix nequip/frames: expected 'fix ID group nequip/frames N K FILE' (a frame every N steps, "
                      "the last K kept, written to FILE when a run is stopped early), got {} arguments",
               narg);
  nevery = utils::inumeric(FLERR, arg[3], false, lmp);
  keep_ = utils::inumeric(FLERR, arg[4], false, lmp);
  file_ = arg[5];
  if (nevery < 1) error->all(FLERR, "fix nequip/frames: N (steps between kept frames) must be >= 1, not {}", nevery);
  if (keep_ < 1) error->all(FLERR, "fix nequip/frames: K (frames kept) must be >= 1, not {}", keep_);
}

int FixNequIPFrames::setmask() { return END_OF_STEP | MIN_POST_FORCE | POST_RUN; }

void FixNequIPFrames::init() {
  pair_ = dynamic_cast<PairNequIP *>(force->pair_match("nequip", 1, 0));
  if (!pair_) error->all(FLERR, "fix nequip/frames needs pair_style nequip (alone or as one sub-style of hybrid)");
  for (Fix *f : modify->get_fix_list()) {
    if (f == this) break;
    if (strcmp(f->style, "halt") == 0)
      error->all(FLERR,
                 "fix nequip/frames {} must be defined before fix halt {} (fix halt resets the time-out it forced in "
                 "its own post_run, and this fix looks at it in its post_run)",
                 id, f->id);
  }
  frames_.clear();
  next_ = 0;
  last_step_ = -1;
}

void FixNequIPFrames::setup(int) {
  if (update->ntimestep % nevery == 0) remember();
}

void FixNequIPFrames::min_setup(int vflag) { setup(vflag); }

void FixNequIPFrames::end_of_step() { remember(); }

void FixNequIPFrames::min_post_force(int) {
  if (update->ntimestep % nevery == 0) remember();
}

/* the group's atoms now (positions, type, ID) with the pair style's forces and sigma_F, into the ring */
void FixNequIPFrames::remember() {
  if (update->ntimestep == last_step_) return;
  int ncol = 0;
  auto *sigma = static_cast<double *>(pair_->extract_peratom("sigma_f", ncol));
  auto **force = static_cast<double **>(pair_->extract_peratom("forces", ncol));
  if (!sigma || !force) error->all(FLERR, "fix nequip/frames: pair_style nequip has not computed forces yet");
  const int nlocal = atom->nlocal;
  const int *mask = atom->mask;
  double **x = atom->x;
  Frame fr;
  fr.step = update->ntimestep;
  const double *h = domain->h;  // rows: a = (xx,0,0), b = (xy,yy,0), c = (xz,yz,zz)
  const double cell[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
  std::copy(cell, cell + 9, fr.cell);
  for (int i = 0; i < nlocal; i++) {
    if (!(mask[i] & groupbit)) continue;
    fr.pos.insert(fr.pos.end(), x[i], x[i] + 3);
    fr.force.insert(fr.force.end(), force[i], force[i] + 3);
    fr.sigma.push_back(sigma[i]);
    fr.type.push_back(atom->type[i]);
    fr.tag.push_back(atom->tag[i]);
  }
  last_step_ = fr.step;
  if (frames_.size() < static_cast<size_t>(keep_)) {
    frames_.push_back(std::move(fr));
  } else {
    frames_[next_] = std::move(fr);  // overwrite the oldest
    next_ = (next_ + 1) % keep_;
  }
}

/* every rank kept its own atoms at the same steps: each frame gathered on rank 0, atoms in ID order, oldest first */
std::vector<FixNequIPFrames::Frame> FixNequIPFrames::gather() const {
  std::vector<const Frame *> mine;
  for (const Frame &f : frames_) mine.push_back(&f);
  std::sort(mine.begin(), mine.end(), [](const Frame *a, const Frame *b) { return a->step < b->step; });
  std::vector<Frame> gathered;
  const int nprocs = comm->nprocs;
  for (const Frame *fr : mine) {
    const int n = static_cast<int>(fr->type.size()), W = 9;  // x y z fx fy fz sigma type tag
    std::vector<double> buf(static_cast<size_t>(W) * n);
    for (int i = 0; i < n; i++) {
      double *b = &buf[static_cast<size_t>(W) * i];
      for (int d = 0; d < 3; d++) b[d] = fr->pos[3 * i + d], b[3 + d] = fr->force[3 * i + d];
      b[6] = fr->sigma[i];
      b[7] = fr->type[i];
      b[8] = static_cast<double>(fr->tag[i]);
    }
    std::vector<int> counts(nprocs, 0), displs(nprocs, 0);
    const int nw = W * n;
    MPI_Gather(&nw, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
    std::vector<double> all;
    if (comm->me == 0) {
      std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
      all.resize(static_cast<size_t>(displs.back()) + counts.back());
    }
    MPI_Gatherv(buf.data(), nw, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0, world);
    if (comm->me != 0) continue;
    const size_t na = all.size() / W;
    std::vector<size_t> order(na);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return all[W * a + 8] < all[W * b + 8]; });
    Frame g;
    g.step = fr->step;
    std::copy(fr->cell, fr->cell + 9, g.cell);
    for (size_t k : order) {
      const double *b = &all[W * k];
      g.pos.insert(g.pos.end(), b, b + 3);
      g.force.insert(g.force.end(), b + 3, b + 6);
      g.sigma.push_back(b[6]);
      g.type.push_back(static_cast<int>(b[7]));
      g.tag.push_back(static_cast<tagint>(b[8]));
    }
    gathered.push_back(std::move(g));
  }
  return gathered;
}

/* rank 0: the gathered frames to FILE.part, renamed to FILE */
void FixNequIPFrames::write(const std::vector<Frame> &frames) const {
  const std::string tmp = file_ + ".part";
  FILE *fp = fopen(tmp.c_str(), "w");
  if (!fp) error->one(FLERR, "fix nequip/frames: cannot write {}: {}", tmp, utils::getsyserror());
  const char *pbc[2] = {"F", "T"};
  for (const Frame &fr : frames) {
    const size_t na = fr.type.size();
    double smax = 0.0, fmax = 0.0;
    for (double v : fr.sigma) smax = std::max(smax, v);
    for (size_t i = 0; i < na; i++) {
      const double *f = &fr.force[3 * i];
      fmax = std::max(fmax, std::sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]));
    }
    const std::string why =
        fr.step == update->ntimestep
            ? fmt::format("halted at step {}: max |F| = {:.4g} eV/A, max sigma_F = {:.4g} eV/A", fr.step, fmax, smax)
            : std::string("before halt");
    fprintf(fp, "%zu\n", na);
    fprintf(fp,
            "Lattice=\"%.10g %.10g %.10g %.10g %.10g %.10g %.10g %.10g %.10g\" "
            "Properties=species:S:1:pos:R:3:forces_ensemble_mean:R:3:sigma_f:R:1 step=%lld "
            "max_sigma_f=%.8g halt_reason=\"%s\" pbc=\"%s %s %s\"\n",
            fr.cell[0], fr.cell[1], fr.cell[2], fr.cell[3], fr.cell[4], fr.cell[5], fr.cell[6], fr.cell[7],
            fr.cell[8], static_cast<long long>(fr.step), smax, why.c_str(), pbc[domain->xperiodic],
            pbc[domain->yperiodic], pbc[domain->zperiodic]);
    for (size_t i = 0; i < na; i++)
      fprintf(fp, "%s %.10f %.10f %.10f %.10g %.10g %.10g %.8g\n", pair_->type_name(fr.type[i]).c_str(),
              fr.pos[3 * i], fr.pos[3 * i + 1], fr.pos[3 * i + 2], fr.force[3 * i], fr.force[3 * i + 1],
              fr.force[3 * i + 2], fr.sigma[i]);
  }
  fclose(fp);
  if (std::rename(tmp.c_str(), file_.c_str()) != 0)
    error->one(FLERR, "fix nequip/frames: cannot rename {} to {}: {}", tmp, file_, utils::getsyserror());
  error->warning(FLERR, "fix nequip/frames: the run stopped early at step {}: wrote {} frame(s) to {}",
                 update->ntimestep, frames.size(), file_);
}

/* a run stopped early (fix halt forced the timer's time-out, or it ran out): its last frames to FILE */
void FixNequIPFrames::post_run() {
  if (timer->is_timeout()) {
    if (last_step_ != update->ntimestep) remember();  // the step it stopped on
    const std::vector<Frame> frames = gather();
    if (comm->me == 0) write(frames);
  }
  frames_.clear();
  next_ = 0;
  last_step_ = -1;
}
