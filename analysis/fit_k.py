"""Interfacial thermal conductance k from LAMMPS heat-transfer logs (paper eq. 4-6), with an honest interval.

    python -m analysis.fit_k LOG [LOG ...] [--geometry geometry.json | --area NM2 --natoms N] [--json OUT.json]

Transient (default), from `heat_transfer.in`: only the NVE segment after contact (stage marker nve_contact) is
analysed; a log without one (a run killed before contact) is refused. Two estimators:
  energy balance (eq. 4 integrated, the default): the heat that left the particle, Q(t) = -[E_np(t) - E_np(t0)],
      equals k A int dT dt. It needs no heat capacity and no exponential model;
  eq. 6 (the paper's fit, --method exp_fit): dT(t) = dT0 exp(-(t - t0)/tau), 1/tau = k A (1/C_np + 1/C_support),
      C = dE/dT of each group from the same log (or N c_p with --cp); without support energies the support is
      an infinite bath.
Both are reported; the JSON's k is the chosen one (k_method).
Steady state (--steady), from `steady_state.in` (stage marker heat): P - dE_np/dt = k A dT over the window (after
t_equil_ps), which is P/(A <dT>) once steady and stays right before; the plain P/(A <dT>) is reported beside it.

Uncertainty: the larger of the estimator's own error (fit covariance, or a jackknife over time blocks), a block
bootstrap and, with several runs of one system, the spread between runs; the interval (68 %, and 95 % in the
JSON) is a bootstrap percentile interval when that distribution is skewed or reaches zero. A k whose interval
reaches zero or is wider than k is flagged `reliable: false`, with a WARNING, and left out of multi-run means;
`analysis.heating` refuses it unless told otherwise.

Each LOG is one run; segments of a restarted run are joined with commas (log.lammps,log.restart.lammps).
geometry.json (from the structure builder) is looked up next to each run's log unless --geometry is given; the
keys read are n_atoms_np, n_atoms_support, A_nm2 and optionally V_nm3, support, label.
Columns default to heat_transfer.in's names: Time (ps), v_T_np, v_T_support (K), v_E_np, v_E_support (eV).
Sums are allowed, e.g. --e-np c_ke_np+c_pe_np.
"""

from __future__ import annotations

import sys
from pathlib import Path

from analysis.k_analysis import METHODS, analyse_steady, analyse_transient, combine, summarize
from analysis.k_inputs import Columns, load_geometry
from analysis.k_report import fmt_k, human, plot_transient, write_table
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import write_json

# The command line only: it parses, checks, calls and prints. The library beneath takes data, not options:
# analysis.k_inputs (columns, segment, window, geometry), analysis.k_analysis (analyse_transient, analyse_steady,
# combine) returning analysis.k_results' typed results, analysis.k_report (table, figure, printed lines) and
# analysis.cooling (the equations and their intervals).


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m analysis.fit_k", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("logs", nargs="+", metavar="LOG[,LOG...]", help="log.lammps files (plain or .gz); commas join "
                   "restart segments of one run")
    g = p.add_argument_group("geometry")
    g.add_argument("--geometry", help="geometry.json for all runs (default: geometry.json next to each log)")
    g.add_argument("--A-nm2", "--area", dest="area", type=float,
                   help="NP/support contact area A, nm² (> 0; overrides geometry.json's A_nm2; --area is its older "
                        "name)")
    g.add_argument("--natoms", type=int, help="number of NP atoms N (overrides geometry.json)")
    g.add_argument("--label", help="system label for tables (default: geometry.json 'label')")
    g.add_argument("--support", help="support name for tables (default: geometry.json 'support')")
    c = p.add_argument_group("columns (thermo names; '+' sums columns)")
    c.add_argument("--time", default="Time", help="time column, ps (default Time)")
    c.add_argument("--t-np", default="v_T_np", help="NP temperature, K (default v_T_np)")
    c.add_argument("--t-support", default="v_T_support", help="support temperature, K (default v_T_support)")
    c.add_argument("--e-np", default="v_E_np", help="NP energy (kinetic + potential), eV (default v_E_np)")
    c.add_argument("--e-support", default="v_E_support", help="support energy, eV (default v_E_support)")
    w = p.add_argument_group("segment, window and model")
    w.add_argument("--block", type=int, help="thermo block to analyse, 0-based (-1 = last); default: the block "
                   "after the input's stage marker (nve_contact, or heat with --steady); needed for logs without "
                   "markers")
    w.add_argument("--start", type=float, help="start of the window, ps in the log's time (default: contact; "
                   "steady: t_equil_ps after the start of heating, else the second half)")
    w.add_argument("--stop-temp", type=float, help="end the window when T_np falls below this, K (paper: 420); "
                   "reported when never reached")
    w.add_argument("--method", default="auto", choices=METHODS,
                   help="transient estimator of k (default auto: energy balance when the log has the particle "
                        "energy, else the eq.-6 fit)")
    w.add_argument("--cp", type=float, help="NP heat capacity per atom for eq. 6, eV/K (default: from the log)")
    w.add_argument("--infinite-support", action="store_true",
                   help="eq. 6: ignore support energies and treat the support as an infinite bath")
    w.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples (0 = off; default 200)")
    s = p.add_argument_group("steady state")
    s.add_argument("--steady", action="store_true", help="steady_state.in log: P - dE_np/dt = k A ΔT")
    s.add_argument("--power", type=float, help="heating power P, eV/ps (default: mean of --power-col)")
    s.add_argument("--power-col", default="v_P_np", help="thermo column with P, eV/ps (default v_P_np)")
    o = p.add_argument_group("output")
    o.add_argument("--json", help="write results here (several runs: the combined k at top level, each run in "
                   "'runs')")
    o.add_argument("--plot-dir", help="where figures go (default: next to each log); fit_k.png and .pdf")
    o.add_argument("--no-plot", action="store_true", help="no figures")
    o.add_argument("--force", action="store_true", help="overwrite existing outputs (--json, --table, figures)")
    o.add_argument("--table", help="prefix for the Table-3-like CSV and markdown (default fit_k_table with >1 run)")
    return p.parse_args(argv)


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


def main(argv=None) -> int:
    a = parse_args(argv)
    v.integer("--bootstrap", a.bootstrap, 0, 100000)
    v.positive("--A-nm2", a.area, "nm²")
    v.positive("--cp", a.cp, "eV/K per atom", hi=1.0)
    v.positive("--power", a.power, "eV/ps")
    v.integer("--natoms", a.natoms, 1)
    v.in_range("--stop-temp", a.stop_temp, 0.0, 1e5, "K", lo_open=True)
    v.finite("--start", a.start, "ps")
    if a.steady and a.method != "auto":
        raise UserError(f"--method {a.method}: applies to transient logs, not --steady")
    columns = Columns(a.time, a.t_np, a.t_support, a.e_np, a.e_support, a.power_col)
    runs = [[Path(p) for p in arg.split(",") if p] for arg in a.logs]
    results = []
    names = {}
    for paths in runs:
        if not paths:
            raise UserError("an empty log argument")
        for path in paths:
            v.input_file(path, "LOG", "file", allow_empty=True)  # lammps_log says what an empty one lacks
        out_dir = Path(a.plot_dir) if a.plot_dir else paths[0].parent
        names.setdefault(out_dir, []).append(paths[0])
    if a.geometry:
        v.input_file(a.geometry, "--geometry", "geometry file")
    inputs = [p for paths in runs for p in paths] + ([a.geometry] if a.geometry else [])
    figure_names = {}
    for i, paths in enumerate(runs):
        out_dir = Path(a.plot_dir) if a.plot_dir else paths[0].parent
        same_dir = names[out_dir]
        figure_names[i] = out_dir / ("fit_k" if len(same_dir) == 1 else f"fit_k_{paths[0].stem}" if
                                     len({p.stem for p in same_dir}) == len(same_dir) else f"fit_k_{i:03d}")
    outputs = [Path(a.json)] if a.json else []
    table = Path(a.table) if a.table else (Path("fit_k_table") if len(runs) > 1 else None)
    if table is not None:
        outputs += [table.with_suffix(".csv"), table.with_suffix(".md")]
    if not a.steady and not a.no_plot:
        outputs += [f.with_suffix(ext) for f in figure_names.values() for ext in (".png", ".pdf")]
    if len(set(map(str, outputs))) < len(outputs):
        raise UserError(f"two outputs share a name ({', '.join(map(str, outputs))})")
    names_given = {Path(a.json): "--json"} if a.json else {}
    for out in outputs:
        opt = names_given.get(out, "--table" if out.suffix in (".csv", ".md") else "--plot-dir")
        v.output_file(out, opt, force=a.force, inputs=inputs, mkdir=opt == "--plot-dir")
    geos = [load_geometry(paths[0], a.geometry, area_nm2=a.area, n_atoms_np=a.natoms, support=a.support,
                          label=a.label) for paths in runs]
    for i, (paths, geo) in enumerate(zip(runs, geos)):
        if a.steady:
            r = analyse_steady(paths, geo, columns=columns, start_ps=a.start, block=a.block, power_eV_per_ps=a.power,
                               n_boot=a.bootstrap)
        else:
            r = analyse_transient(paths, geo, columns=columns, start_ps=a.start, stop_temp_K=a.stop_temp,
                                  block=a.block, cp_eV_per_K=a.cp, infinite_support=a.infinite_support,
                                  n_boot=a.bootstrap, method=a.method)
        print(human(r))
        for note in r.notes:
            print(f"  note: {note}")
        if not r.reliable:
            warn(f"{paths[0]}: k is NOT reliable: {'; '.join(r.unreliable_reasons)}")
        results.append(r)
    for i, r in enumerate(results):  # every run analysed before anything is written: a failure leaves no files
        if not a.steady and not a.no_plot:
            figure_names[i].parent.mkdir(parents=True, exist_ok=True)
            r.figures = plot_transient(r, figure_names[i])
            print(f"  figures ({r.logs[0]}): {', '.join(r.figures)}")
    if len(results) > 1:
        out = combine(results)
        if out.k.k_eV_per_nm2_ps_K is None:
            print(f"{len(results)} runs: none usable, no combined k")
        else:
            print(f"{len(results)} runs, {out.n_runs_reliable} determined alone, {out.n_runs_combined} averaged: "
                  f"combined {fmt_k(out.k)} [largest error: {out.k.k_err_source}]")
        for ex in out.excluded_runs:
            print(f"  left out (unreliable): {ex['log']}: {'; '.join(ex['reasons'])}")
        for name, st in out.by_support.items():
            std = st.k_std_eV_per_nm2_ps_K
            print(f"  support {name}: {st.n_runs} runs averaged, k = {st.k_mean_eV_per_nm2_ps_K:.4g}"
                  + (f" ± {std:.2g} (std)" if std is not None else "") + " eV/(nm² ps K)")
        print(f"  table: {', '.join(str(p) for p in write_table(results, out.by_support, table))}")
        if not out.reliable:
            warn(f"the combined k is NOT reliable: {'; '.join(out.unreliable_reasons)}")
    else:
        out = results[0]
        if a.table:
            write_table(results, summarize(results).by_support, Path(a.table))
    if a.json:
        write_json(a.json, out.to_json())
        print(f"  json: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
