"""The typed results of fit_k's analyses; `to_json()` gives the JSON the tools write and read (analysis.heating
reads k_eV_per_nm2_ps_K, its error, interval and `reliable` from it).

Field names are the JSON keys, units in the name. A k with its interval is a `KEstimate`, written at the level of
the result that holds it (r.k.k_eV_per_nm2_ps_K is the JSON's top-level k_eV_per_nm2_ps_K).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from beamheat.geometry import Geometry
from beamheat.results import ABSENT, Absent, Record, flattened, internal
from beamheat.units import EV_PER_NM2_PS_K_TO_MW_PER_M2_K


@dataclass(kw_only=True)
class KEstimate(Record):
    """k with its honest interval (analysis.cooling.honest_interval). Keys a result does not state are ABSENT:
    the interval kind of a multi-run mean, the run-to-run spread of a single run, all but k and its error when no
    run was reliable (then both are None)."""
    k_eV_per_nm2_ps_K: float | None
    k_err_eV_per_nm2_ps_K: float | None
    k_interval_eV_per_nm2_ps_K: list[float] | Absent = ABSENT       # 68 %
    k_interval95_eV_per_nm2_ps_K: list[float] | Absent = ABSENT
    k_interval_kind: str | Absent = ABSENT
    k_relative_uncertainty: float | Absent = ABSENT
    k_err_sources: dict[str, float] | Absent = ABSENT               # each error source's sigma
    k_err_source: str | Absent = ABSENT                             # the largest of them
    k_std_over_runs_eV_per_nm2_ps_K: float | None | Absent = ABSENT
    k_MW_per_m2_K: float | Absent = ABSENT
    k_err_MW_per_m2_K: float | Absent = ABSENT

    @classmethod
    def from_interval(cls, k: float, unc: dict, *, per_run: bool = True, **extra) -> KEstimate:
        """From honest_interval's dict; per_run=False (a multi-run mean) leaves out the interval kind."""
        return cls(k_eV_per_nm2_ps_K=float(k), k_err_eV_per_nm2_ps_K=unc["sigma"],
                   k_interval_eV_per_nm2_ps_K=unc["interval_68"], k_interval95_eV_per_nm2_ps_K=unc["interval_95"],
                   k_interval_kind=unc["interval_kind"] if per_run else ABSENT,
                   k_relative_uncertainty=unc["relative"], k_err_sources=unc["sigmas"],
                   k_err_source=unc["sigma_source"], k_MW_per_m2_K=float(k) * EV_PER_NM2_PS_K_TO_MW_PER_M2_K,
                   k_err_MW_per_m2_K=unc["sigma"] * EV_PER_NM2_PS_K_TO_MW_PER_M2_K, **extra)


@dataclass(kw_only=True)
class RunHeader(Record):
    """What every run's result starts with: its logs, the geometry used, the thermo block analysed."""
    mode: str                                       # transient or steady
    logs: list[str]
    geometry: str                                   # the geometry.json read ("" when given by options)
    label: str
    support: str
    n_atoms_np: int
    n_atoms_support: int | None | Absent = ABSENT   # transient runs
    A_nm2: float
    V_nm3: float | None
    area_nm2: float = field(init=False)             # older names of A_nm2 and V_nm3, kept for readers
    volume_nm3: float | None = field(init=False)
    block: int
    stage: str | None                               # the stage marker's text

    def __post_init__(self):
        self.area_nm2, self.volume_nm3 = self.A_nm2, self.V_nm3


def run_header(paths, geo: Geometry) -> dict:
    """RunHeader's keys from a run's logs and geometry."""
    return dict(logs=[str(p) for p in paths], geometry=geo.source, label=geo.label, support=geo.support,
                n_atoms_np=geo.n_atoms_np, A_nm2=geo.A_nm2, V_nm3=geo.V_nm3)


@dataclass(kw_only=True)
class TransientResult(RunHeader):
    """k from the NVE segment after contact (analysis.k_analysis.analyse_transient)."""
    mode: str = "transient"
    segment_finished: bool
    t_planned_ps: float | None | Absent = ABSENT    # from the stage marker, when it states them readably
    t_ran_ps: float | None | Absent = ABSENT
    stop_temp_K: float | None
    stop_temp_reached: bool | None
    t_contact_ps: float
    t_end_ps: float
    n_points: int
    k_method: str                                   # energy_balance or exp_fit: the estimator k comes from
    k: KEstimate = flattened()
    tau_ps: float
    tau_err_ps: float
    dT0_K: float
    dT0_err_K: float
    cp_eV_per_K: float                              # per atom
    cp_err_eV_per_K: float
    cp_source: str
    C_support_eV_per_K: float | None
    C_support_err_eV_per_K: float | None
    support_model: str
    k_exp_fit_eV_per_nm2_ps_K: float | None
    k_exp_fit_err_eV_per_nm2_ps_K: float | None
    k_exp_fit_interval_eV_per_nm2_ps_K: list[float] | None
    k_err_fit_eV_per_nm2_ps_K: float
    k_err_bootstrap_eV_per_nm2_ps_K: float
    k_energy_balance_eV_per_nm2_ps_K: float | None
    k_energy_balance_err_eV_per_nm2_ps_K: float | None
    k_energy_balance_interval_eV_per_nm2_ps_K: list[float] | None
    heat_out_eV: float | None
    integral_dT_K_ps: float | None
    r2: float
    rms_residual_K: float
    residual_lag1_autocorrelation: float
    notes: list[str]
    reliable: bool
    unreliable_reasons: list[str]
    figures: list[str] | Absent = ABSENT            # set by the command line once it has drawn them
    # (t since contact, dT, eq.-6 fit, (int dT dt, heat out) or None): what analysis.k_report.plot_transient draws
    plot_data: tuple | None = internal()


@dataclass(kw_only=True)
class SteadyResult(RunHeader):
    """k from a steady_state.in log (analysis.k_analysis.analyse_steady)."""
    mode: str = "steady"
    t_start_ps: float
    t_end_ps: float
    n_points: int
    power_eV_per_ps: float
    dT_K: float
    dT_err_K: float
    k_plain_eV_per_nm2_ps_K: float                  # P / (A <dT>)
    k_plain_err_eV_per_nm2_ps_K: float
    k_method: str                                   # energy_balance, or steady_plain without the particle energy
    stored_fraction: float | None                   # of P t stored in the particle over the window
    heat_out_eV: float | Absent = ABSENT
    k: KEstimate = flattened()
    notes: list[str]
    reliable: bool
    unreliable_reasons: list[str]


RunResult = TransientResult | SteadyResult


@dataclass(kw_only=True)
class KStats(Record):
    """Mean and spread of k over the averaged runs (reliable, or undetermined alone) of one system or support."""
    n_runs: int
    k_mean_eV_per_nm2_ps_K: float
    k_std_eV_per_nm2_ps_K: float | None             # None with one run
    k_mean_MW_per_m2_K: float
    cp_mean_eV_per_K: float | Absent = ABSENT       # transient runs


@dataclass(kw_only=True)
class RunSummary(Record):
    by_label: dict[str, KStats]
    by_support: dict[str, KStats]


@dataclass(kw_only=True)
class CombinedResult(Record):
    """Several runs: k averaged over the runs (analysis.k_analysis.combine), including those too short to be
    determined alone. The geometry keys are present when every averaged run has the same value; notes when runs of
    several systems were averaged."""
    n_runs: int
    n_runs_reliable: int                            # runs whose own interval determines k
    n_runs_combined: int                            # runs in the mean: the reliable ones and the undetermined ones
    excluded_runs: list[dict]                       # {"log": first log, "reasons": [...]} of each run left out
    by_label: dict[str, KStats]
    by_support: dict[str, KStats]
    runs: list[RunResult]
    k: KEstimate = flattened()
    k_method: str | Absent = ABSENT
    labels: list[str] | Absent = ABSENT
    reliable: bool
    unreliable_reasons: list[str]
    A_nm2: float | None | Absent = ABSENT
    V_nm3: float | None | Absent = ABSENT
    area_nm2: float | None | Absent = ABSENT
    n_atoms_np: int | None | Absent = ABSENT
    n_atoms_support: int | None | Absent = ABSENT
    volume_nm3: float | None | Absent = ABSENT
    label: str | None | Absent = ABSENT
    support: str | None | Absent = ABSENT
    geometry: str | None | Absent = ABSENT
    notes: list[str] | Absent = ABSENT
