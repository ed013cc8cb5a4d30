"""Synthetic EELS low-loss line scans across a hemispherical particle on a support, with known truth.

Inelastic scattering is a Poisson process: a pixel where the beam crosses t_np of particle and t_sub of support
has tau = t_np/lambda_np + t_sub/lambda_sub and single-scattering distribution (SSD)
S = (tau_np S_np + tau_sub S_sub) / tau. Its spectrum is the zero-loss peak convolved with
    exp(-tau) sum_n tau^n S^{*n} / n!  =  IFFT(exp(tau (FFT(S) - 1)))
Counting noise is Poisson, and every pixel's energy axis is offset by a random sub-eV amount (to be aligned).

The defaults are an idealised instrument (a Gaussian zero-loss peak and no losses below 3 eV), for which the
log-ratio method is nearly exact. The options make it realistic, so that the method's own bias shows:
    zlp_tail_fraction, zlp_tail_eV, zlp_tail_asymmetry   a Lorentzian tail of the zero-loss peak (a field-emission
        gun's energy spread), taller on the loss side by the asymmetry factor; part of it lies beyond any elastic
        threshold and is counted as inelastic (thin pixels read high in t/lambda)
    onset_np_eV, onset_sub_eV   losses start this low (Au: interband transitions and the particle's surface
        plasmon near 2.4 eV), so that part of the inelastic signal hides under the zero-loss peak (thick pixels
        read low)
    surface_np_eV   (peak, width, weight): a low-energy loss mixed into the particle's SSD with this weight (Au's
        surface plasmon and interband edge near 2.4 eV), much of it below the elastic threshold
    cutoff_eV   the SSD's upper end; above ~55 eV plural losses spill past the paper's 110 eV window
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def ssd(E, peak_eV, width_eV, onset_eV=3.0, cutoff_eV=60.0):
    """A plasmon-like valence-loss SSD (Lorentzian x E), zero outside [onset, cutoff], normalised. With the cutoff
    at 60 eV, single and double scattering stay inside the paper's 110 eV window."""
    s = E * width_eV / ((E - peak_eV) ** 2 + (width_eV / 2) ** 2)
    s[(E < onset_eV) | (E > cutoff_eV)] = 0.0
    return s / s.sum()


@dataclass
class LineScan:
    R_nm: float = 5.0
    t_sub_nm: float = 10.0
    lambda_np_nm: float = 60.0
    lambda_sub_nm: float = 150.0
    plasmon_np_eV: tuple = (25.0, 18.0)
    plasmon_sub_eV: tuple = (15.0, 8.0)
    x_nm: np.ndarray = None
    counts: float = 2e7
    zlp_sigma_eV: float = 0.35
    seed: int = 0
    onset_np_eV: float = 3.0
    onset_sub_eV: float = 3.0
    surface_np_eV: tuple = (2.4, 1.0, 0.0)
    cutoff_eV: float = 60.0
    zlp_tail_fraction: float = 0.0
    zlp_tail_eV: float = 0.5
    zlp_tail_asymmetry: float = 1.0

    def __post_init__(self):
        if self.x_nm is None:
            self.x_nm = np.arange(-12.0, 12.01, 0.5)
        self.E = np.arange(-20.0, 400.0, 0.1)
        self.S_np = ssd(self.E, *self.plasmon_np_eV, onset_eV=self.onset_np_eV, cutoff_eV=self.cutoff_eV)
        peak, width, weight = self.surface_np_eV
        if weight:
            surface = ssd(self.E, peak, width, onset_eV=min(self.onset_np_eV, 1.0), cutoff_eV=self.cutoff_eV)
            self.S_np = (1 - weight) * self.S_np + weight * surface
        self.S_sub = ssd(self.E, *self.plasmon_sub_eV, onset_eV=self.onset_sub_eV, cutoff_eV=self.cutoff_eV)

    @property
    def t_np_nm(self):
        return np.sqrt(np.clip(self.R_nm**2 - self.x_nm**2, 0, None))

    @property
    def tau(self):
        return self.t_np_nm / self.lambda_np_nm + self.t_sub_nm / self.lambda_sub_nm

    @property
    def mean_loss_np_eV(self):
        return float(np.sum(self.E * self.S_np))

    @property
    def mean_loss_sub_eV(self):
        return float(np.sum(self.E * self.S_sub))

    @property
    def mean_loss_pixel_eV(self):
        """<E> per inelastic event in each pixel: the tau-weighted mean of the two SSDs."""
        t_np = self.t_np_nm / self.lambda_np_nm
        t_sub = self.t_sub_nm / self.lambda_sub_nm
        return (t_np * self.mean_loss_np_eV + t_sub * self.mean_loss_sub_eV) / (t_np + t_sub)

    def zlp(self) -> np.ndarray:
        """Unit-area zero-loss peak: a Gaussian, plus zlp_tail_fraction in a Lorentzian of half width zlp_tail_eV
        whose loss side (E > 0) is zlp_tail_asymmetry times its gain side."""
        g = np.exp(-0.5 * (self.E / self.zlp_sigma_eV) ** 2)
        g /= g.sum()
        if not self.zlp_tail_fraction:
            return g
        lor = self.zlp_tail_eV / (self.E**2 + self.zlp_tail_eV**2) * np.where(self.E > 0, self.zlp_tail_asymmetry, 1.0)
        lor /= lor.sum()
        return (1 - self.zlp_tail_fraction) * g + self.zlp_tail_fraction * lor

    def spectra(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        n = len(self.E)
        i0 = int(np.argmin(np.abs(self.E)))
        out = np.empty((len(self.x_nm), n))
        zlp = self.zlp()
        Z = np.fft.fft(np.roll(zlp, -i0))
        for k, (t_np, t_sub) in enumerate(zip(self.t_np_nm / self.lambda_np_nm,
                                              np.full(len(self.x_nm), self.t_sub_nm / self.lambda_sub_nm))):
            tau = t_np + t_sub
            S = (t_np * self.S_np + t_sub * self.S_sub) / tau
            P = np.fft.fft(np.roll(S, -i0))  # losses measured from E = 0
            dist = np.real(np.fft.ifft(Z * np.exp(tau * (P - 1.0))))
            spec = np.roll(np.clip(dist, 0, None), i0 + int(rng.integers(-4, 5)))  # ZLP offset +-0.4 eV
            out[k] = rng.poisson(spec * self.counts)
        return out

    def write_hspy(self, path, beam_keV=300.0, collection_mrad=20.0, with_metadata=True):
        import hyperspy.api as hs

        s = hs.signals.Signal1D(self.spectra())
        s.set_signal_type("EELS")
        ax = s.axes_manager.signal_axes[0]
        ax.scale, ax.offset, ax.units, ax.name = 0.1, float(self.E[0]), "eV", "Energy loss"
        nav = s.axes_manager.navigation_axes[0]
        nav.scale, nav.offset, nav.units, nav.name = float(self.x_nm[1] - self.x_nm[0]), float(self.x_nm[0]), "nm", "x"
        if with_metadata:
            s.set_microscope_parameters(beam_energy=beam_keV, collection_angle=collection_mrad,
                                        convergence_angle=1.0)
        s.save(str(path), overwrite=True)
        return path
