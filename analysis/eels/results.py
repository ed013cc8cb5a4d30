"""The typed results of an analysis (beamheat.results.Record): the particle's values and the whole scan's."""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis.eels.errors import Estimate
from beamheat.results import ABSENT, Absent, Record, flattened


@dataclass(kw_only=True)
class ParticleResult(Record):
    """lambda_NP, <dE/dx>_NP and <E>_NP of the particle (eq. 8 and 10) with their errors (particle_results).
    Each *_err_* is the total sqrt(stat^2 + sys^2); *_interval_* is value -+ total ("68 %"), *_interval95_*
    value -+ INTERVAL95_K total; *_sys_terms_* the systematic error of each source."""
    particle_pixels: list[int]                      # [start, end), 0-based
    t_over_lambda_center: float
    t_over_lambda_background: float
    t_over_lambda_center_err: float
    t_over_lambda_background_err: float
    fit_x0_nm: float | Absent = ABSENT              # the hemisphere fit (--fit-hemisphere)
    fit_amplitude: float | Absent = ABSENT
    fit_t_over_lambda_background: float | Absent = ABSENT
    centre_sampling_factor: float | Absent = ABSENT
    systematic_not_assessed: list[str] | Absent = ABSENT
    R_nm: float
    R_err_nm: float
    R_source: str
    lambda_np_nm: float
    lambda_np_err_nm: float
    lambda_np_stat_err_nm: float
    lambda_np_sys_err_nm: float
    lambda_np_interval_nm: list[float]
    lambda_np_interval95_nm: list[float]
    lambda_np_sys_terms_nm: dict[str, float]
    dEdx_np_eV_per_nm: float
    dEdx_np_err_eV_per_nm: float
    dEdx_np_stat_err_eV_per_nm: float
    dEdx_np_sys_err_eV_per_nm: float
    mean_energy_loss_np_eV: float
    mean_energy_loss_np_err_eV: float
    mean_energy_loss_np_stat_err_eV: float
    mean_energy_loss_np_sys_err_eV: float
    mean_energy_loss_np_interval_eV: list[float]
    mean_energy_loss_np_interval95_eV: list[float]
    mean_energy_loss_np_sys_terms_eV: dict[str, float]
    interval_kind: str
    t_dEdx_background_eV: float
    systematic_variations_failed: list[str] | Absent = ABSENT
    reliable: bool = True
    unreliable_reasons: list[str] = field(default_factory=list)

    def lambda_np(self) -> Estimate:
        return Estimate(value=self.lambda_np_nm, stat_err=self.lambda_np_stat_err_nm,
                        sys_err=self.lambda_np_sys_err_nm, err=self.lambda_np_err_nm,
                        interval=self.lambda_np_interval_nm, interval95=self.lambda_np_interval95_nm,
                        sys_terms=self.lambda_np_sys_terms_nm)

    def mean_energy_loss_np(self) -> Estimate:
        return Estimate(value=self.mean_energy_loss_np_eV, stat_err=self.mean_energy_loss_np_stat_err_eV,
                        sys_err=self.mean_energy_loss_np_sys_err_eV, err=self.mean_energy_loss_np_err_eV,
                        interval=self.mean_energy_loss_np_interval_eV,
                        interval95=self.mean_energy_loss_np_interval95_eV,
                        sys_terms=self.mean_energy_loss_np_sys_terms_eV)


@dataclass(kw_only=True)
class EelsResult(Record):
    """analyse_file's result: per-pixel values (lists over the scan), the particle's (ParticleResult, its keys at
    the top level of the JSON) and Iakoubovskii's lambda when a density was given."""
    file: str
    upper_eV: float
    n_pixels: int
    position: list[float]
    position_units: str
    t_over_lambda: list[float]
    t_dEdx_eV: list[float]
    mean_energy_loss_eV: list[float]
    raw_J_mean_eV: list[float]
    threshold_eV: list[float]
    t_over_lambda_sys_err: list[float]
    t_dEdx_sys_err_eV: list[float]
    mean_energy_loss_sys_err_eV: list[float]
    systematics: dict
    position_nm_per_unit: float | None | Absent = ABSENT   # None: the position axis is not a length
    particle_pixels: list[int] | Absent = ABSENT            # a located particle without R (else in `particle`)
    particle: ParticleResult | None = flattened(None)
    beam_keV: float | Absent = ABSENT
    collection_mrad: float | Absent = ABSENT
    lambda_iakoubovskii_nm: float | Absent = ABSENT
    lambda_iakoubovskii_vs_beam_keV: dict[str, float] | Absent = ABSENT
    figures: list[str] | Absent = ABSENT
