"""Loop configs the loop and exploration tests share.

YAML: a 2-generation Au/hBN loop (the classical reference as the labeller, 2-member tiny ensembles trained for
3 epochs); fill in `out` with YAML.format(out=FOLDER).
EXPLORE_YAML: one Au/hBN system, an anneal at two temperatures and a short heat transfer, for models.explore; fill
in `halt_sigma` (eV/Å).
"""

YAML = """out: {out}
type_names: [Au, B, N]
initial: {{n_frames: 12, seed: 0, support: hbn}}
systems:
  - {{name: au_hbn, support: hbn, diameter_nm: 0.8, height_ratio: 0.7, margin_A: 2.5}}
protocols:
  - {{name: anneal, kind: anneal, T_K: [600], steps: 200}}
explore: {{dump_every: 20}}
select: {{lo: 0.02, hi: 1.0, budget: 6, top_k: 5, last_n: 2, min_gap: 2}}
labeller: {{kind: lammps, potential: classical_au_hbn}}
train: {{config: models/configs/tiny.yaml, ensemble: 2, overrides: [trainer.max_epochs=3], test_fraction: 0.2,
        val_fraction: 0.15}}
stop: {{generations: 2}}
"""

EXPLORE_YAML = """type_names: [Au, B, N]
systems:
  - {{name: au_hbn, support: hbn, diameter_nm: 0.8, height_ratio: 0.7, margin_A: 2.5}}
protocols:
  - {{name: anneal, kind: anneal, T_K: [300, 1500], steps: 200}}
  - {{name: heat, kind: heat_transfer, T_K: 600, T_support_K: 300, thermalise_steps: 100, steps: 100}}
explore: {{dump_every: 20, halt_sigma: {halt_sigma}}}
select: {{lo: 0.05, hi: 2.0}}
"""
