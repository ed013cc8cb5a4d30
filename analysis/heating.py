"""Beam-induced temperature rise of a supported nanoparticle (paper eq. 3-5) and the knock-on limit (eq. 7).

    python -m analysis.heating predict --geometry geometry.json --k-json k.json --eels-json eels.json --dose-rate 1e3
    python -m analysis.heating curves --out heating          # Fig. 3 (shape) and Fig. 4 (beam energy, supports)
    python -m analysis.heating knockon --element Au --beam-kev 300
    python -m analysis.heating compare --k-json hbn=runs/demo/k.json anatase101=runs/tio2/k.json \
        --geometry runs/demo/geometry.json --out supports        # one particle, measured k per support (Fig. 3/4)

Steady state: heat in from inelastic scattering Q_in = S D <E> t / lambda, heat out through the interface
Q_out = k A dT, so
    dT = S D <E> t / (k A lambda)                                                     (eq. 5)
with S the projected area, A the contact area, t = V/S the mean thickness (nm), D the dose rate (e-/(A^2 s) as
microscopists quote it), <E> the mean loss per inelastic event (eV), lambda the inelastic mean free path (nm),
k the interfacial conductance (eV/(nm^2 ps K)). The uncertainty of dT carries the intervals of k, lambda and <E>
(asymmetric ones included) by Monte Carlo: dT is 1/k, so a k interval that is skewed gives a skewed dT interval.
A fit_k or eels JSON marked `reliable: false` is refused unless --allow-unreliable is given.
Knock-on: the largest energy an electron of energy E_b gives a nucleus of mass M is
    E_max = 2 E_b (E_b + 2 m_e c^2) / (M c^2)                                          (eq. 7)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.geometry import read_geometry
from beamheat.io import write_csv, write_json
from beamheat.readers import interval, json_object, number
from beamheat.reliability import undetermined_reason
from beamheat.results import ABSENT, Absent, Record, internal
from beamheat.units import AMU_C2_KEV, M_E_C2_KEV, NM2_PER_A2, PS_PER_S

# reference values from the paper (its Table 3 and Methods): k in eV/(nm^2 ps K), <E> in eV, Au density in g/cm^3
REFERENCE_K = {"hbn": 3.7e-4, "anatase101": 5.1e-4, "rutile101": 1.0e-3}
AU_MEAN_LOSS_EV = 43.6
AU_DENSITY = 19.3
AU_DISPLACEMENT_EV = 3.8


def delta_T_K(S_nm2, A_nm2, t_nm, dose_e_per_A2_s, mean_loss_eV, k_eV_per_nm2_ps_K, lambda_nm):
    """Eq. 5. Works on numpy arrays (broadcasting)."""
    dose_per_nm2_s = np.asarray(dose_e_per_A2_s, float) / NM2_PER_A2
    q_in_eV_per_s = S_nm2 * dose_per_nm2_s * mean_loss_eV * t_nm / lambda_nm
    return q_in_eV_per_s / (np.asarray(k_eV_per_nm2_ps_K) * PS_PER_S * A_nm2)


def sphere_projected_area_nm2(volume_nm3: float) -> float:
    """pi r^2 of the sphere with this volume."""
    return float(np.pi * (3.0 * volume_nm3 / (4.0 * np.pi)) ** (2.0 / 3.0))


def relative_uncertainty(*pairs) -> float:
    """sqrt(sum (err/value)^2) over (value, err) pairs with a known error (None or ABSENT: none)."""
    return float(np.sqrt(sum((e / v) ** 2 for v, e in pairs if e and v)))


def knockon_max_eV(element: str, beam_keV: float) -> float:
    """Eq. 7: maximum energy transferred to a nucleus in a head-on collision, eV."""
    if element not in atomic_numbers:
        raise UserError(f"unknown element {element!r}")
    M_c2_keV = atomic_masses[atomic_numbers[element]] * AMU_C2_KEV
    return 2.0 * beam_keV * (beam_keV + 2.0 * M_E_C2_KEV) / M_c2_keV * 1e3


# ------------------------------------------------------------------------------------------------ inputs
# the inputs of eq. 5: where each comes from (for the error naming a missing one) and its unit
REQUIRED = {"S_nm2": "--S-nm2/--geometry", "A_nm2": "--A-nm2/--geometry", "t_nm": "--t-nm/--geometry",
            "k": "--k/--k-json", "lambda_nm": "--lambda-nm/--eels-json", "E": "--mean-loss-ev/--eels-json"}
REQUIRED_UNITS = {"S_nm2": "nm²", "A_nm2": "nm²", "t_nm": "nm", "k": "eV/(nm² ps K)", "lambda_nm": "nm", "E": "eV"}
# the uncertain ones: their 1-sigma error and 68 % interval keys
UNCERTAIN = {"k": ("k_err", "k_interval"), "lambda_nm": ("lambda_err", "lambda_interval"), "E": ("E_err", "E_interval")}


@dataclass(kw_only=True)
class HeatingInputs(Record):
    """The inputs of eq. 5 (gather_inputs). An error or interval that neither a file nor an option gave is ABSENT
    (left out of the JSON); one a file lacks is None. Intervals are 68 %, [low, high]."""
    S_nm2: float                                    # projected area S
    A_nm2: float                                    # contact area A
    t_nm: float                                     # mean thickness t = V/S
    k: float                                        # interfacial conductance, eV/(nm² ps K)
    k_err: float | None | Absent = ABSENT
    k_interval: list[float] | None | Absent = ABSENT
    lambda_nm: float                                # inelastic mean free path
    lambda_err: float | None | Absent = ABSENT
    lambda_interval: list[float] | None | Absent = ABSENT
    E: float                                        # mean energy loss per inelastic event <E>, eV
    E_err: float | None | Absent = ABSENT
    E_interval: list[float] | None | Absent = ABSENT
    warnings: list[str] | None = internal()         # what allow_unreliable let through


@dataclass(kw_only=True)
class HeatingPrediction(Record):
    """dT (eq. 5) at each dose rate with its 68 % and 95 % intervals (predict)."""
    inputs: HeatingInputs
    dose_rate_e_per_A2_s: list[float]
    dT_K: list[float]
    dT_err_K: list[float]
    relative_uncertainty: float                     # of dT, from the errors of k, lambda and <E> in quadrature
    dT_interval_K: list[list[float]]
    dT_interval95_K: list[list[float]]
    S_over_A: float
    warnings: list[str]
    reliable: bool


@dataclass(kw_only=True)
class CurvesResult(Record):
    """What curves() wrote."""
    figures: list[str]
    csv: str
    n_rows: int


def _check_reliable(d: dict, path, what: str, allow: bool) -> list[str]:
    """A result its own tool flagged unreliable is refused, unless allowed (then it is carried with a warning)."""
    if d.get("reliable", True) is not False:
        return []
    reasons = "; ".join(d.get("unreliable_reasons") or []) or "flagged by the tool that wrote it"
    if not allow:
        raise UserError(f"{path}: the {what} is marked unreliable ({reasons}); refusing to predict dT from it "
                        f"(--allow-unreliable overrides)")
    return [f"{path}: {what} is marked unreliable ({reasons}), used because of --allow-unreliable"]


def gather_inputs(*, geometry=None, k_json=None, eels_json=None, S_nm2=None, A_nm2=None, t_nm=None, k=None,
                  k_err=None, lambda_nm=None, lambda_err=None, mean_loss_eV=None, mean_loss_err=None,
                  allow_unreliable: bool = False) -> HeatingInputs:
    """The inputs of eq. 5 from geometry.json, a fit_k JSON and an eels JSON, values given by hand replacing the
    files' (and their intervals), with the warnings of what allow_unreliable let through."""
    x, warnings_ = {}, []
    if geometry:
        g = read_geometry(geometry, require=("S_nm2", "A_nm2", "t_nm"))
        x.update(S_nm2=g.S_nm2, A_nm2=g.A_nm2, t_nm=g.t_nm)
    if k_json:
        kj = json_object(k_json, "fit_k result")
        warnings_ += _check_reliable(kj, k_json, "interfacial conductance k", allow_unreliable)
        x.update(k=number(kj, "k_eV_per_nm2_ps_K", k_json),
                 k_err=number(kj, "k_err_eV_per_nm2_ps_K", k_json, required=False),
                 k_interval=interval(kj, "k_interval_eV_per_nm2_ps_K", k_json))
    if eels_json:
        ej = json_object(eels_json, "eels result")
        warnings_ += _check_reliable(ej, eels_json, "EELS result (lambda, <E>)", allow_unreliable)
        x.update(lambda_nm=number(ej, "lambda_np_nm", eels_json),
                 lambda_err=number(ej, "lambda_np_err_nm", eels_json, required=False),
                 lambda_interval=interval(ej, "lambda_np_interval_nm", eels_json),
                 E=number(ej, "mean_energy_loss_np_eV", eels_json),
                 E_err=number(ej, "mean_energy_loss_np_err_eV", eels_json, required=False),
                 E_interval=interval(ej, "mean_energy_loss_np_interval_eV", eels_json))
    given = {"S_nm2": S_nm2, "A_nm2": A_nm2, "t_nm": t_nm, "k": k, "k_err": k_err, "lambda_nm": lambda_nm,
             "lambda_err": lambda_err, "E": mean_loss_eV, "E_err": mean_loss_err}
    for value_key, (err_key, interval_key) in UNCERTAIN.items():
        if given[value_key] is not None or given[err_key] is not None:
            x.pop(interval_key, None)  # a value or an error given by hand replaces the file's interval
    x.update({name: val for name, val in given.items() if val is not None})
    missing = [n for n in REQUIRED if n not in x]
    if missing:
        raise UserError("missing " + ", ".join(REQUIRED[m] for m in missing))
    for n, unit in REQUIRED_UNITS.items():
        v.positive(n, x[n], unit)
    for value_key, (err_key, _) in UNCERTAIN.items():
        v.nonnegative(err_key, x.get(err_key), REQUIRED_UNITS[value_key])
    for n, (err_key, interval_key) in UNCERTAIN.items():
        msg = undetermined_reason(n, x[n], x.get(err_key) or None, x.get(interval_key) or None)
        if msg:
            if not allow_unreliable:
                raise UserError(f"{msg}; dT would be undetermined (--allow-unreliable overrides)")
            warnings_.append(msg)
    return HeatingInputs(**x, warnings=warnings_)


def _samples(value, err, interval, n, rng):
    """Samples of a quantity: split normal through its 68 % interval (or value +- err). Samples at or below zero
    are kept: for k or lambda they mean an unbounded dT (predict), so an interval that reaches zero is not cut."""
    if interval:
        lo, hi = max(value - interval[0], 0.0), max(interval[1] - value, 0.0)
    else:
        lo = hi = float(err or 0.0)
    if lo == hi == 0:
        return np.full(n, value)
    z = rng.standard_normal(n)
    return value + np.where(z < 0, lo, hi) * z


def predict(dose_rate_e_per_A2_s, **inputs) -> HeatingPrediction:
    """dT (eq. 5) at each dose rate with 68 % and 95 % intervals; `inputs` as gather_inputs takes them."""
    x = gather_inputs(**inputs)
    dose_list = list(np.atleast_1d(dose_rate_e_per_A2_s))
    v.positive("--dose-rate", [float(d) for d in dose_list], "e⁻/(Å² s)")
    dose = np.array(dose_list, float)
    dT = delta_T_K(x.S_nm2, x.A_nm2, x.t_nm, dose, x.E, x.k, x.lambda_nm)
    rel = relative_uncertainty((x.k, x.k_err), (x.lambda_nm, x.lambda_err), (x.E, x.E_err))
    rng = np.random.default_rng(12345)
    n = 20000
    k_s = _samples(x.k, x.k_err, x.k_interval, n, rng)
    lam_s = _samples(x.lambda_nm, x.lambda_err, x.lambda_interval, n, rng)
    E_s = _samples(x.E, x.E_err, x.E_interval, n, rng)
    # dT scales as <E>/(k lambda); a k (or lambda) at or below zero lets no heat out: dT is unbounded there, so when
    # more than 16 % (2.5 %) of k's distribution lies there the 68 % (95 %) interval has no upper end (inf; null
    # in JSON) instead of one that truncating the distribution would invent
    ok = (k_s > 0) & (lam_s > 0)
    factor = np.full(n, np.inf)
    factor[ok] = (np.maximum(E_s[ok], 0.0) / x.E) * (x.k / k_s[ok]) * (x.lambda_nm / lam_s[ok])
    q = np.percentile(factor, [2.5, 16, 84, 97.5], method="nearest")
    return HeatingPrediction(inputs=x, dose_rate_e_per_A2_s=dose.tolist(), dT_K=dT.tolist(),
                             dT_err_K=(dT * rel).tolist(), relative_uncertainty=rel,
                             dT_interval_K=[[float(d * q[1]), float(d * q[2])] for d in dT],
                             dT_interval95_K=[[float(d * q[0]), float(d * q[3])] for d in dT],
                             S_over_A=x.S_nm2 / x.A_nm2, warnings=x.warnings, reliable=not x.warnings)


CURVES_DEFAULTS = dict(volume_nm3=14.0, s_over_a=(0.5, 1, 2, 4, 8), support="anatase101", beam_kev=(80, 200, 300),
                       lambda_nm=None, mean_loss_eV=AU_MEAN_LOSS_EV, collection_mrad=20.0, dose_min=1e1,
                       dose_max=1e7, k=None)


def curves_outputs(out: str | Path) -> list[Path]:
    out = Path(out)
    return [out.with_suffix(".png"), out.with_suffix(".pdf"), out.with_suffix(".csv")]


def validate_curves(*, volume_nm3, s_over_a, support, beam_kev, lambda_nm, mean_loss_eV, collection_mrad,
                    dose_min, dose_max, k):
    v.positive("--volume-nm3", volume_nm3, "nm³", hi=1e9)
    v.positive("--s-over-a", list(s_over_a), hi=1e3)
    v.choice("--support", support, sorted(REFERENCE_K))
    v.in_range("--beam-kev", list(beam_kev), 1.0, 5000.0, "keV")
    v.positive("--lambda-nm", lambda_nm, "nm", hi=1e5)
    v.positive("--mean-loss-ev", mean_loss_eV, "eV", hi=1e4)
    v.in_range("--collection-mrad", collection_mrad, 0.0, 1000.0, "mrad", lo_open=True)
    v.positive("--dose-min", dose_min, "e⁻/(Å² s)")
    v.positive("--dose-max", dose_max, "e⁻/(Å² s)")
    v.ordered("--dose-min", dose_min, "--dose-max", dose_max, "e⁻/(Å² s)")
    v.positive("--k", k, "eV/(nm² ps K)", hi=1.0)


def curves(out: str | Path, **options) -> CurvesResult:
    """Fig. 3: dT vs dose for several S/A (one support). Fig. 4: dT vs dose at several beam energies, both
    supports, lambda(E) scaled by Iakoubovskii's formula. `k` (eV/(nm² ps K)) replaces the paper's reference k of
    every support. Options and defaults: CURVES_DEFAULTS."""
    unknown = set(options) - set(CURVES_DEFAULTS)
    if unknown:
        raise TypeError(f"curves() got unknown options {sorted(unknown)}")
    a = SimpleNamespace(**{**CURVES_DEFAULTS, **options})
    validate_curves(**vars(a))
    k_of = (lambda support: a.k) if a.k is not None else REFERENCE_K.get
    k_note = f"k = {a.k:g}" if a.k is not None else "paper's k"
    from analysis.eels import lambda_iakoubovskii_nm

    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()

    dose = np.logspace(np.log10(a.dose_min), np.log10(a.dose_max), 60)
    V = a.volume_nm3
    rows = []
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.5))
    lam300 = a.lambda_nm if a.lambda_nm else lambda_iakoubovskii_nm(AU_DENSITY, 300.0, a.collection_mrad)
    # fixed volume and projected area (that of a sphere of volume V: pi r^2, r = (3V/4pi)^(1/3)); A from S/A
    S = sphere_projected_area_nm2(V)
    for s_over_a in a.s_over_a:
        A, t = S / s_over_a, V / S
        dT = delta_T_K(S, A, t, dose, a.mean_loss_eV, k_of(a.support), lam300)
        ax[0].loglog(dose, dT, label=f"S/A = {s_over_a:g}")
        rows += [{"figure": 3, "support": a.support, "beam_keV": 300, "S_over_A": s_over_a, "dose_e_per_A2_s": d,
                  "dT_K": v} for d, v in zip(dose, dT)]
    ax[0].set_title(f"Au on {a.support} ({k_note}), 300 keV, V = {V:g} nm³", fontsize=10)
    for support, ls in (("hbn", "-"), ("anatase101", "--")):
        for j, e in enumerate(a.beam_kev):
            lam = lam300 * lambda_iakoubovskii_nm(AU_DENSITY, e, a.collection_mrad) / \
                lambda_iakoubovskii_nm(AU_DENSITY, 300.0, a.collection_mrad)
            dT = delta_T_K(S, S / 2.0, V / S, dose, a.mean_loss_eV, k_of(support), lam)
            ax[1].loglog(dose, dT, ls, color=f"C{j}", label=f"{support}, {e:g} keV")
            rows += [{"figure": 4, "support": support, "beam_keV": e, "S_over_A": 2.0, "dose_e_per_A2_s": d,
                      "dT_K": v} for d, v in zip(dose, dT)]
    ax[1].set_title(f"S/A = 2, V = {V:g} nm³, λ(E) from Iakoubovskii", fontsize=10)
    for x in ax:
        x.set_xlabel("dose rate (e⁻/(Å² s))")
        x.set_ylabel("ΔT (K)")
        x.grid(True, which="both", alpha=0.3)
        x.legend(fontsize=8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    write_csv(out.with_suffix(".csv"), rows)
    figs = save_figure(fig, out)
    return CurvesResult(figures=figs, csv=str(out.with_suffix(".csv")), n_rows=len(rows))


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m analysis.heating", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="{predict,curves,compare,knockon}")
    pr = sub.add_parser("predict", help="dT for one particle (eq. 5) with its uncertainty",
                        formatter_class=HelpFormatter,
                        description="dT = S D <E> t / (k A lambda) for one particle, with 68 % and 95 % intervals "
                                    "carried from k, lambda and <E> by Monte Carlo. Values given by hand replace "
                                    "the files'.")
    pr.add_argument("--geometry", help="geometry.json from beamheat.build or beamheat.geometry (S_nm2, A_nm2, t_nm)")
    pr.add_argument("--k-json", help="fit_k JSON (k_eV_per_nm2_ps_K, its error and 68 %% interval)")
    pr.add_argument("--eels-json", help="analysis.eels JSON (lambda_np_nm, mean_energy_loss_np_eV, errors)")
    pr.add_argument("--S-nm2", type=float, help="projected area S, nm² (> 0)")
    pr.add_argument("--A-nm2", type=float, help="contact area A, nm² (> 0)")
    pr.add_argument("--t-nm", type=float, help="mean thickness t = V/S, nm (> 0)")
    pr.add_argument("--k", type=float, help="interfacial conductance, eV/(nm² ps K) (> 0; 1e-4 = 16 MW/(m² K))")
    pr.add_argument("--k-err", type=float, help="1-sigma uncertainty of k, eV/(nm² ps K) (>= 0): dT's interval is "
                    "then a split normal of width k-err around k, replacing the interval from --k-json; "
                    "default: the k JSON's interval, or none (k exact) with --k")
    pr.add_argument("--lambda-nm", type=float, help="inelastic mean free path lambda, nm (> 0)")
    pr.add_argument("--lambda-err", type=float, help="1-sigma uncertainty of lambda, nm (>= 0; default: the EELS "
                    "JSON's interval, or none)")
    pr.add_argument("--mean-loss-ev", type=float, help="mean energy loss per inelastic event <E>, eV (> 0)")
    pr.add_argument("--mean-loss-err", type=float, help="1-sigma uncertainty of <E>, eV (>= 0; default: the EELS "
                    "JSON's interval, or none)")
    pr.add_argument("--dose-rate", type=float, nargs="+", default=[1e3],
                    help="dose rate(s), e⁻/(Å² s) (> 0; default 1000)")
    pr.add_argument("--allow-unreliable", action="store_true",
                    help="use a k or EELS result marked reliable: false (or an interval wider than its value), "
                         "with a warning, instead of refusing it (default: refuse)")
    pr.add_argument("--json", help="write results here (default: print only)")
    pr.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    cu = sub.add_parser("curves", help="Fig. 3 and 4 curves (PNG, PDF, CSV)", formatter_class=HelpFormatter,
                        description="dT against dose rate: Fig. 3 for several S/A on one support, Fig. 4 for several "
                                    "beam energies on hBN and anatase (S/A = 2). k is the paper's per support, or "
                                    "--k for all.")
    cu.add_argument("--out", default="heating_curves", help="output prefix: PREFIX.png, .pdf, .csv "
                    "(default heating_curves)")
    cu.add_argument("--force", action="store_true", help="overwrite existing output files")
    cu.add_argument("--volume-nm3", type=float, default=14.0, help="particle volume, nm³ (default 14, ~3 nm)")
    cu.add_argument("--s-over-a", type=float, nargs="+", default=[0.5, 1, 2, 4, 8],
                    help="S/A values for Fig. 3 (> 0; default 0.5 1 2 4 8)")
    cu.add_argument("--support", default="anatase101", choices=sorted(REFERENCE_K),
                    help="support for Fig. 3, with the paper's k (default anatase101)")
    cu.add_argument("--k", type=float, help="your own interfacial conductance, eV/(nm² ps K), used for every "
                    "curve instead of the paper's k per support (default: the paper's: " +
                    ", ".join(f"{s} {k:g}" for s, k in REFERENCE_K.items()) + ")")
    cu.add_argument("--beam-kev", type=float, nargs="+", default=[80, 200, 300],
                    help="beam energies for Fig. 4, keV (default 80 200 300)")
    cu.add_argument("--lambda-nm", type=float, help="Au lambda at 300 keV, nm (default: Iakoubovskii's formula)")
    cu.add_argument("--mean-loss-ev", type=float, default=AU_MEAN_LOSS_EV, help="<E>, eV (default 43.6, Au)")
    cu.add_argument("--collection-mrad", type=float, default=20.0,
                    help="collection semi-angle, mrad (default 20)")
    cu.add_argument("--dose-min", type=float, default=1e1, help="lowest dose rate, e⁻/(Å² s) (default 10)")
    cu.add_argument("--dose-max", type=float, default=1e7, help="highest dose rate, e⁻/(Å² s) (default 1e7)")
    co = sub.add_parser("compare", help="one particle on several supports, each with its measured k (Fig. 3/4)",
                        formatter_class=HelpFormatter,
                        description="dT of the particle of --geometry on each support, from that support's fit_k "
                                    "JSON: against dose rate at 300 keV and against beam energy at --dose-rate, "
                                    "with 68 % intervals (analysis.supports). Writes PREFIX.png/.pdf/.csv/.json and "
                                    "prints each support's dT over the first one's, beside the paper's k ratio.")
    co.add_argument("--k-json", nargs="+", required=True, metavar="SUPPORT=FILE",
                    help="fit_k JSON per support, e.g. hbn=runs/demo/k.json anatase101=runs/tio2/k.json (the paper's "
                         "k is shown for " + ", ".join(REFERENCE_K) + ")")
    co.add_argument("--geometry", required=True, help="geometry.json of the particle (S_nm2, A_nm2, t_nm)")
    co.add_argument("--lambda-nm", type=float, default=104.0,
                    help="Au inelastic mean free path at 300 keV, nm (default 104, the paper's)")
    co.add_argument("--mean-loss-ev", type=float, default=AU_MEAN_LOSS_EV, help="<E>, eV (default 43.6, Au)")
    co.add_argument("--dose-rate", type=float, default=1e3,
                    help="dose rate of the beam-energy panel, e⁻/(Å² s) (default 1000)")
    co.add_argument("--beam-kev", type=float, nargs="+", default=[80, 120, 200, 300],
                    help="beam energies, keV (default 80 120 200 300)")
    co.add_argument("--collection-mrad", type=float, default=20.0, help="collection semi-angle, mrad (default 20)")
    co.add_argument("--out", default="supports", help="output prefix (default supports)")
    co.add_argument("--allow-unreliable", action="store_true", help="use a k marked reliable: false, with a "
                    "warning, instead of refusing it (default: refuse)")
    co.add_argument("--force", action="store_true", help="overwrite existing output files")
    ko = sub.add_parser("knockon", help="maximum energy transfer to a nucleus (eq. 7)", formatter_class=HelpFormatter)
    ko.add_argument("--element", required=True, help="element symbol")
    ko.add_argument("--beam-kev", type=float, required=True, help="beam energy, keV (> 0)")
    ko.add_argument("--threshold-ev", type=float, help="displacement threshold, eV (default 3.8 for Au, none for "
                    "other elements)")
    a = p.parse_args(argv)

    if a.cmd == "knockon":
        v.in_range("--beam-kev", a.beam_kev, 0.0, 1e5, "keV", lo_open=True)
        v.positive("--threshold-ev", a.threshold_ev, "eV")
        e = knockon_max_eV(a.element, a.beam_kev)
        thr = a.threshold_ev if a.threshold_ev is not None else (AU_DISPLACEMENT_EV if a.element == "Au" else None)
        print(f"E_max({a.element}, {a.beam_kev:g} keV) = {e:.2f} eV")
        if thr is not None and e > thr:
            print(f"warning: E_max exceeds the displacement threshold {thr:g} eV: knock-on damage is possible",
                  file=sys.stderr)
        return 0
    if a.cmd == "compare":
        return _compare(a)
    if a.cmd == "curves":
        opts = dict(volume_nm3=a.volume_nm3, s_over_a=a.s_over_a, support=a.support, beam_kev=a.beam_kev,
                    lambda_nm=a.lambda_nm, mean_loss_eV=a.mean_loss_ev, collection_mrad=a.collection_mrad,
                    dose_min=a.dose_min, dose_max=a.dose_max, k=a.k)
        validate_curves(**opts)
        v.output_files(curves_outputs(a.out), "--out", force=a.force, mkdir=True)
        r = curves(a.out, **opts)
        print(f"wrote {', '.join(r.figures)} and {r.csv} ({r.n_rows} rows)")
        return 0
    inputs = [x for x in (a.geometry, a.k_json, a.eels_json) if x]
    for name, path in (("--geometry", a.geometry), ("--k-json", a.k_json), ("--eels-json", a.eels_json)):
        if path:
            v.input_file(path, name, "file")
    for name, val, unit in (("--S-nm2", a.S_nm2, "nm²"), ("--A-nm2", a.A_nm2, "nm²"), ("--t-nm", a.t_nm, "nm"),
                            ("--k", a.k, "eV/(nm² ps K)"), ("--lambda-nm", a.lambda_nm, "nm"),
                            ("--mean-loss-ev", a.mean_loss_ev, "eV")):
        v.positive(name, val, unit)
    for name, val, unit in (("--k-err", a.k_err, "eV/(nm² ps K)"), ("--lambda-err", a.lambda_err, "nm"),
                            ("--mean-loss-err", a.mean_loss_err, "eV")):
        v.nonnegative(name, val, unit)
    v.positive("--dose-rate", a.dose_rate, "e⁻/(Å² s)")
    out = v.output_file(a.json, "--json", force=a.force, inputs=inputs)
    r = predict(a.dose_rate, geometry=a.geometry, k_json=a.k_json, eels_json=a.eels_json, S_nm2=a.S_nm2,
                A_nm2=a.A_nm2, t_nm=a.t_nm, k=a.k, k_err=a.k_err, lambda_nm=a.lambda_nm, lambda_err=a.lambda_err,
                mean_loss_eV=a.mean_loss_ev, mean_loss_err=a.mean_loss_err, allow_unreliable=a.allow_unreliable)
    x = r.inputs
    print(f"S = {x.S_nm2:.3g} nm², A = {x.A_nm2:.3g} nm² (S/A = {r.S_over_A:.2f}), t = {x.t_nm:.3g} nm, "
          f"k = {x.k:.3g} eV/(nm² ps K), λ = {x.lambda_nm:.3g} nm, <E> = {x.E:.3g} eV")
    for w in r.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    for d, dt, (lo, hi) in zip(r.dose_rate_e_per_A2_s, r.dT_K, r.dT_interval_K):
        upper = f"{hi:.3g} K" if np.isfinite(hi) else "unbounded (k may be zero)"
        print(f"  dose rate {d:.3g} e⁻/(Å² s): ΔT = {dt:.3g} K (68 % interval {lo:.3g} K – {upper})")
    if out:
        write_json(out, r.to_json())
    return 0


def _compare(a) -> int:
    from analysis.supports import compare_supports, outputs, write_comparison

    k_jsons = {}
    for item in a.k_json:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--k-json {item}: give SUPPORT=FILE, e.g. hbn=runs/demo/k.json")
        if name in k_jsons:
            raise UserError(f"--k-json: support {name} given twice")
        k_jsons[name] = v.input_file(path, f"--k-json {name}", "fit_k JSON")
    geometry = v.input_file(a.geometry, "--geometry", "file")
    v.positive("--lambda-nm", a.lambda_nm, "nm", hi=1e5)
    v.positive("--mean-loss-ev", a.mean_loss_ev, "eV", hi=1e4)
    v.positive("--dose-rate", a.dose_rate, "e⁻/(Å² s)")
    v.in_range("--beam-kev", list(a.beam_kev), 1.0, 5000.0, "keV")
    v.in_range("--collection-mrad", a.collection_mrad, 0.0, 1000.0, "mrad", lo_open=True)
    paths = v.output_files(outputs(a.out), "--out", force=a.force, inputs=[geometry, *k_jsons.values()], mkdir=True)
    r = compare_supports(k_jsons, geometry=geometry, lambda_300_nm=a.lambda_nm, mean_loss_eV=a.mean_loss_ev,
                         reference_dose_rate=a.dose_rate, beam_keV=a.beam_kev, collection_mrad=a.collection_mrad,
                         allow_unreliable=a.allow_unreliable)
    files = write_comparison(r, a.out)
    write_json(paths[-1], r.to_json())
    first = r.supports[0].support
    i300 = r.supports[0].beam_keV.index(300.0) if 300.0 in r.supports[0].beam_keV else -1
    for c in r.supports:
        for w in c.warnings:
            print(f"WARNING: {w}", file=sys.stderr)
        lo, hi = c.dT_at_dose_rate_interval_K[i300]
        upper = f"{hi:.3g}" if np.isfinite(hi) else "unbounded"
        paper = r.dT_ratio_to_first_paper[c.support]
        print(f"{c.support}: k = {c.k_eV_per_nm2_ps_K:.3g} eV/(nm² ps K); ΔT = {c.dT_at_dose_rate_K[i300]:.3g} K "
              f"(68 % {lo:.3g}–{upper} K) at {a.dose_rate:g} e⁻/(Å² s), {c.beam_keV[i300]:g} keV; "
              f"ΔT / ΔT({first}) = {r.dT_ratio_to_first[c.support]:.3g}"
              + (f" (from the paper's k: {paper:.3g})" if paper else "") + ("" if c.reliable else "  [NOT reliable]"))
    print(f"wrote {', '.join(files + [str(paths[-1])])}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
