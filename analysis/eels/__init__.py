"""EELS low-loss line scans: t/lambda, the particle's inelastic mean free path lambda and mean energy loss <E>.

    python -m analysis.eels [analyse] LINESCAN.(dm3|dm4|msa|hspy|emd) --R-est-nm 5 [--particle 12:30] [--json eels.json]
    python -m analysis.eels lambda --density 19.3 --beam-kev 300 [--collection-mrad 20]

Per pixel (exspy): the zero-loss peak is aligned, the elastic threshold found, and
    t/lambda = ln(I_total / I_ZLP)                          (log-ratio)
    t<dE/dx> = sum_E E I(E) / I_total                        (mean energy lost per incident electron, to --upper-eV)
    <E>      = t<dE/dx> / (t/lambda)                         (mean loss per inelastic event)
The last line is exact for Poisson plural scattering (the mean number of events is t/lambda), so <E> is the
single-scattering mean without a deconvolution, as long as the multiple losses stay below --upper-ev (paper:
110 eV); in thick regions raise it (or expect <E> low by about the fraction of plural losses beyond it).
The raw mean of J(E) above the threshold is reported too.
Particle (paper eq. 8 and 10), for a hemispherical particle of radius R on a support:
    lambda_NP = R / (H_center - H_background),     H = t/lambda
    <dE/dx>_NP = (t<dE/dx>_center - t<dE/dx>_background) / R,   <E>_NP = <dE/dx>_NP * lambda_NP
with R given (--R-est-nm) or fitted as the hemisphere profile H(x) = H_bg + (R/lambda) sqrt(1 - (x - x0)^2/R^2)
(--fit-hemisphere, needs a calibrated position axis). The particle is located automatically from the t/lambda
profile (half maximum above the background) or given as a pixel range (--particle START:END).
Iakoubovskii's lambda(E_beam, collection angle, density) gives lambda at other beam energies (exspy).

Uncertainties. The statistical error comes from the pixel scatter (or a residual bootstrap of the fit). The
log-ratio method also has a bias of its own, which the pixel scatter does not see; each of its sources is varied
and the whole chain (per pixel, then eq. 8/10 with the same pixels) re-evaluated, so a shift common to particle
and background cancels in H_center - H_background as it does in the measurement:
  - elastic/inelastic split: a threshold leaves the ZLP's tail beyond it among the losses (thin pixels read high)
    and the losses below it in I_ZLP (thick pixels read low). Varied: threshold -+ the ZLP's FWHM, and a split
    with no threshold (the ZLP's loss-side tail = the mirror of its gain side, the losses under the ZLP
    extrapolated linearly to zero at E = 0). The largest shift counts.
  - plural losses beyond --upper-eV: t<dE/dx> misses them; estimated from Poisson statistics with the measured
    t/lambda and the single-scattering distribution from a Fourier-log deconvolution.
  - energy axis: its zero off by half a channel, its dispersion by --energy-scale-err (default 0.5 %).
  - eq. 8 only: the centre pixels' mean thickness is f R < R (f from R and the pixel spacing).
Sources add in quadrature to the systematic error; total = sqrt(stat^2 + sys^2) (the *_err keys), and the stated
intervals are value -+ total (*_interval_*, "68 %", the convention of fit_k and heating) and value -+ 2 total
(*_interval95_*: the one this tool stands behind; on synthetic scans with known truth the truth lies inside it).
The result is marked unreliable (JSON "reliable": false, a WARNING on stderr) when a 95 % interval's half-width
reaches its value (it then reaches zero), or when the particle does not stand out of the background robustly.
"""

from analysis.eels.analyse import analyse_file, figure_prefix, json_safe
from analysis.eels.cli import main
from analysis.eels.errors import INTERVAL95_K, Estimate, combine_errors, standard_errors
from analysis.eels.lambda_np import (ThicknessContrast, centre_sampling_factor, hemisphere_fit_bootstrap,
                                     hemisphere_profile, lambda_iakoubovskii_nm, thickness_contrast)
from analysis.eels.linescan import PixelResults, analyse_pixels, locate_particle
from analysis.eels.mean_energy import LossContrast, loss_contrast, mean_loss_per_event_eV
from analysis.eels.particle import Chain, NpValues, particle_chain, particle_results, unreliable_reasons
from analysis.eels.plot import plot_figure
from analysis.eels.results import EelsResult, ParticleResult
from analysis.eels.spectra import (align_zero_loss, beam_conditions, channel_index, elastic_threshold_eV,
                                   first_moment_eV, load_lowloss, log_ratio, log_ratio_exspy, quiet_hyperspy)
from analysis.eels.systematics import (SYSTEMATIC_GROUPS, mirrored_zlp_split, plural_truncation_deficit_eV,
                                       single_scattering, systematic_variations, zlp_end_eV, zlp_fwhm_eV,
                                       zlp_tail_model, zlp_tail_removed)

__all__ = ["Chain", "EelsResult", "Estimate", "INTERVAL95_K", "LossContrast", "NpValues", "ParticleResult",
           "PixelResults", "SYSTEMATIC_GROUPS", "ThicknessContrast", "align_zero_loss", "analyse_file",
           "analyse_pixels", "beam_conditions", "centre_sampling_factor", "channel_index", "combine_errors",
           "elastic_threshold_eV", "figure_prefix", "first_moment_eV", "hemisphere_fit_bootstrap", "hemisphere_profile",
           "json_safe", "lambda_iakoubovskii_nm", "load_lowloss", "locate_particle", "log_ratio", "log_ratio_exspy",
           "loss_contrast", "main", "mean_loss_per_event_eV", "mirrored_zlp_split", "particle_chain",
           "particle_results", "plot_figure", "plural_truncation_deficit_eV", "quiet_hyperspy", "single_scattering",
           "standard_errors", "systematic_variations", "thickness_contrast", "unreliable_reasons", "zlp_end_eV",
           "zlp_fwhm_eV", "zlp_tail_model", "zlp_tail_removed"]
