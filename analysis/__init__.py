"""Analysis of simulation and microscopy data.

- `analysis.fit_k`: interfacial conductance k from LAMMPS logs (command line, tables, figures);
- `analysis.cooling`: the cooling and energy-balance equations and their intervals, used by fit_k;
- `analysis.eels`: t/lambda, lambda and <E> from low-loss EELS line scans;
- `analysis.heating`: the beam-induced temperature rise (eq. 5), Fig. 3/4 curves and the knock-on limit (eq. 7).
"""
