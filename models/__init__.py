"""NequIP models and active learning.

- `models.train`: training (one model or an ensemble); `models.deploy`: compiling for LAMMPS;
- `models.ensemble`: several compiled models as one ASE-style predictor with sigma_F; `models.metrics`: errors vs DFT;
- `models.rerun`: sigma_F along a trajectory; `models.select`: frames for DFT from ensemble disagreement;
- `models.loop`: the active-learning loop; `models.data`: datasets and splits; `models.demo_data`: demo frames.
"""
