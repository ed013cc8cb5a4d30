"""Analysis of simulation and microscopy data.

- `analysis.fit_k`: the command line for the interfacial conductance k from LAMMPS logs; beneath it
  - `analysis.k_inputs`: thermo columns, the stage segment and window to fit, the geometry;
  - `analysis.k_analysis`: analyse_transient, analyse_steady, combine (data in, typed results out);
  - `analysis.k_results`: those results (TransientResult, SteadyResult, CombinedResult) and their JSON;
  - `analysis.k_report`: the table, the figure and the printed lines;
  - `analysis.cooling`: the cooling and energy-balance equations and their intervals;
- `analysis.eels`: t/lambda, lambda and <E> from low-loss EELS line scans;
- `analysis.heating`: the beam-induced temperature rise (eq. 5), Fig. 3/4 curves and the knock-on limit (eq. 7).
"""
