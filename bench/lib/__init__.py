"""What the bench scripts share: LAMMPS jobs on the main job's system (jobs), what their results record
(records), and the small systems and one-epoch models of the timing benchmarks (systems)."""
