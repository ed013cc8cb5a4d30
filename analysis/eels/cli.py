"""The command line, `python -m analysis.eels` (usage and method: the package docstring)."""

from __future__ import annotations

import sys

import numpy as np

from analysis.eels.analyse import analyse_file, figure_prefix
from analysis.eels.lambda_np import lambda_iakoubovskii_nm
from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError
from beamheat.io import write_json
from beamheat.results import ABSENT


def _doc() -> str:
    """The package docstring: the usage and the method, for --help."""
    import analysis.eels

    return analysis.eels.__doc__


def _range(name: str, text: str | None, kind):
    if text is None:
        return None
    vals = v.csv_numbers(name, text, kind, count=2, sep=":")
    if not vals[0] < vals[1]:
        raise UserError(f"{name} {text}: START must be below END")
    return tuple(vals)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in ("analyse", "lambda", "-h", "--help"):
        argv = ["analyse", *argv]  # `python -m analysis.eels FILE ...`, the form the README and users know
    p = ArgumentParser(prog="python -m analysis.eels", description=_doc().split("\n\n")[0],
                       epilog=_doc().split("\n\n", 1)[1], formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="{analyse,lambda}")
    la = sub.add_parser("lambda", help="inelastic mean free path from Iakoubovskii et al. (2008), nm",
                        formatter_class=HelpFormatter,
                        description="Inelastic mean free path from Iakoubovskii et al. (2008), nm.")
    la.add_argument("--density", type=float, required=True, help="density, g/cm³ (> 0; Au 19.3)")
    la.add_argument("--beam-kev", type=float, required=True, help="beam energy, keV (> 0)")
    la.add_argument("--collection-mrad", type=float, default=20.0,
                    help="collection semi-angle, mrad (> 0; default 20)")
    an = sub.add_parser("analyse", help="analyse a low-loss spectrum or line scan (the default: "
                        "`python -m analysis.eels FILE` means `analyse FILE`)", formatter_class=HelpFormatter,
                        description=_doc().split("\n\n")[0], epilog=_doc().split("\n\n", 1)[1])
    an.add_argument("file", help="low-loss spectrum or line scan (dm3, dm4, msa, hspy, emd, ...)")
    an.add_argument("--particle", help="particle pixel range START:END, 0-based, END excluded (default: automatic "
                    "from t/lambda)")
    an.add_argument("--no-particle", action="store_true", help="per-pixel results only")
    an.add_argument("--R-est-nm", type=float, help="particle radius for eq. 8, nm (> 0; default: none, then "
                    "--fit-hemisphere or per-pixel results)")
    an.add_argument("--fit-hemisphere", action="store_true", help="fit R and lambda to a hemisphere profile")
    an.add_argument("--threshold-ev", type=float, help="elastic threshold, eV (> 0; default: exspy's estimate, "
                    "median over the scan)")
    an.add_argument("--zlp-range", default="-5:5", help="energy window holding the zero-loss peak, eV, START:END "
                    "(default -5:5)")
    an.add_argument("--upper-ev", type=float, default=110.0,
                    help="upper limit of the loss integrals, eV (> threshold; default 110)")
    an.add_argument("--energy-scale-err", type=float, default=0.005,
                    help="relative uncertainty of the spectrometer's dispersion calibration, a systematic term of "
                         "<E> (0 to 0.5; default 0.005)")
    an.add_argument("--density", type=float, help="particle density, g/cm³ (> 0): adds Iakoubovskii's lambda "
                    "(Au 19.3; default: none)")
    an.add_argument("--beam-kev", type=float, help="beam energy, keV (default: from the file's metadata)")
    an.add_argument("--collection-mrad", type=float, help="collection semi-angle, mrad (default: from metadata)")
    an.add_argument("--json", help="write results here (default: print only)")
    an.add_argument("--plot", help="figure prefix (default: next to the file, <name>_eels.png/.pdf)")
    an.add_argument("--no-plot", action="store_true", help="no figures")
    an.add_argument("--force", action="store_true", help="overwrite existing outputs (--json, figures)")
    a = p.parse_args(argv)
    if a.cmd == "lambda":
        v.positive("--density", a.density, "g/cm³", hi=30.0)
        v.positive("--beam-kev", a.beam_kev, "keV", hi=5000.0)
        v.positive("--collection-mrad", a.collection_mrad, "mrad", hi=1000.0)
        print(f"lambda = {lambda_iakoubovskii_nm(a.density, a.beam_kev, a.collection_mrad):.1f} nm "
              f"(density {a.density} g/cm³, {a.beam_kev:g} keV, collection {a.collection_mrad:g} mrad)")
        return 0
    src = v.input_file(a.file, "FILE", "file")
    particle = _range("--particle", a.particle, int)
    if particle is not None and particle[0] < 0:
        raise UserError(f"--particle {a.particle}: pixels are counted from 0")
    v.conflict(**{"--particle": a.particle, "--no-particle": a.no_particle})
    v.conflict(**{"--R-est-nm": a.R_est_nm, "--no-particle": a.no_particle})
    v.conflict(**{"--fit-hemisphere": a.fit_hemisphere, "--no-particle": a.no_particle})
    v.conflict(**{"--plot": a.plot, "--no-plot": a.no_plot})
    zlp = _range("--zlp-range", a.zlp_range, float)
    v.positive("--R-est-nm", a.R_est_nm, "nm", hi=1e4)
    v.positive("--threshold-ev", a.threshold_ev, "eV", hi=1000.0)
    v.positive("--upper-ev", a.upper_ev, "eV", hi=1e5)
    if a.threshold_ev is not None and not a.threshold_ev < a.upper_ev:
        raise UserError(f"--threshold-ev {a.threshold_ev:g} eV must be below --upper-ev {a.upper_ev:g} eV")
    v.nonnegative("--energy-scale-err", a.energy_scale_err, hi=0.5)
    v.positive("--density", a.density, "g/cm³", hi=30.0)
    v.positive("--beam-kev", a.beam_kev, "keV", hi=5000.0)
    v.positive("--collection-mrad", a.collection_mrad, "mrad", hi=1000.0)
    out = v.output_file(a.json, "--json", force=a.force, inputs=[src])
    if not a.no_plot:
        prefix = figure_prefix(src, a.plot)
        figs = [prefix.with_suffix(".png"), prefix.with_suffix(".pdf")]
        if out is not None and out in figs:
            raise UserError(f"{out}: --json and a figure share this name")
        v.output_files(figs, "--plot", force=a.force, inputs=[src], mkdir=True)
    res = analyse_file(src, particle=particle, no_particle=a.no_particle, R_est_nm=a.R_est_nm,
                       fit_hemisphere=a.fit_hemisphere, threshold_ev=a.threshold_ev, zlp_range=zlp,
                       upper_ev=a.upper_ev, energy_scale_err=a.energy_scale_err, density=a.density,
                       beam_kev=a.beam_kev, collection_mrad=a.collection_mrad, plot=a.plot, no_plot=a.no_plot)
    H = np.array(res.t_over_lambda)
    print(f"{a.file}: {res.n_pixels} pixel(s), t/λ {H.min():.3f} to {H.max():.3f}, "
          f"<E> per inelastic event {np.median(res.mean_energy_loss_eV):.1f} eV (median)")
    pr = res.particle
    if pr is not None:
        print(f"  particle pixels {pr.particle_pixels[0]}:{pr.particle_pixels[1]}, R = {pr.R_nm:.2f} nm "
              f"({pr.R_source}), <dE/dx>_NP = {pr.dEdx_np_eV_per_nm:.3f} eV/nm")
        for name, e, u in (("λ_NP", pr.lambda_np(), "nm"), ("<E>_NP", pr.mean_energy_loss_np(), "eV")):
            (lo, hi), (lo95, hi95) = e.interval, e.interval95
            print(f"  {name} = {e.value:.2f} ± {e.err:.2f} {u} (stat {e.stat_err:.2g}, sys {e.sys_err:.2g}): "
                  f"68 % [{lo:.2f}, {hi:.2f}], 95 % [{lo95:.2f}, {hi95:.2f}] {u}")
        if not pr.reliable:
            print("  UNRELIABLE: the JSON says \"reliable\": false; do not use λ_NP or <E>_NP (see the warnings)",
                  flush=True)
            for reason in pr.unreliable_reasons:
                print(f"WARNING: λ_NP and <E>_NP are UNRELIABLE: {reason}", file=sys.stderr, flush=True)
    if res.lambda_iakoubovskii_nm is not ABSENT:
        print(f"  Iakoubovskii λ at {res.beam_keV:g} keV, {res.collection_mrad:g} mrad: "
              f"{res.lambda_iakoubovskii_nm:.1f} nm")
    if out:
        write_json(out, res.to_json())
        print(f"  json: {out}")
    return 0
