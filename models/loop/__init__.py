"""The active-learning loop (python -m models.loop; models.loop.cli has the overview), as modules:

    config       the loop YAML's schema, load_config, the reference page (python -m models.loop.config --markdown)
    manifest     a generation's folder and manifest.json: stage states, input hashes, run_stage
    stages       the stages explore, select, label, train, deploy, evaluate and run_loop
    exploration  exploration jobs and their LAMMPS runs     structures  builder structures, systems, rigid scans
    labellers    emt, lammps, gpaw                          distribute  the MPI work distribution
    status       the status table                           figures     a generation's figures

The names other code uses are importable from models.loop itself (loaded on first use, so that
`python -m models.loop.config` does not import the module it runs twice).
"""

from __future__ import annotations

import importlib

_HOME = {
    "config": ("LoopError", "load_config", "for_generation", "train_for_generation", "resolve_path",
               "SCAN_GAPS_A", "markdown"),
    "manifest": ("Generation", "run_stage", "STAGES", "STAGES_G0", "content_hash"),
    "labellers": ("label_frames", "gpaw_label", "labeller_for", "LABEL_KEYS"),
    "exploration": ("explore_jobs", "explore_runs", "explore_summary", "members_best_first", "validation_errors",
                    "read_dump", "run_job", "run_scan"),
    "structures": ("initial_structures", "system_atoms", "scan_frames"),
    "distribute": ("mpi_world", "on_rank0", "explore_worker", "run_explore_jobs", "stop_workers"),
    "stages": ("run_loop", "run_generation", "stage_explore", "stage_select", "stage_label", "stage_train",
               "stage_deploy", "stage_evaluate", "scan_selected"),
    "status": ("history", "status_table"),
    "cli": ("main",),
}
_WHERE = {name: module for module, names in _HOME.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'models.loop' has no attribute {name!r}")
    return getattr(importlib.import_module(f"models.loop.{_WHERE[name]}"), name)


def __dir__():
    return __all__
