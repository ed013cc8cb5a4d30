"""NequIP models: training (`models.train`), compiling for LAMMPS (`models.deploy`), demo data (`models.demo_data`)."""
