"""Physical constants and unit conversions: the one home for them in beamheat.

Conventions: LAMMPS `units metal` (Å, eV, ps, K, bar, g/mol) for MD; SI where named in a variable's suffix.
"""

from __future__ import annotations

from scipy import constants as _c

K_B_EV_PER_K = _c.k / _c.e                      # Boltzmann constant, eV/K (8.617e-5)
EV_J = _c.e                                     # 1 eV in J
M_E_C2_KEV = _c.m_e * _c.c**2 / _c.e / 1e3      # electron rest energy, keV (511)
AMU_C2_KEV = _c.physical_constants["atomic mass constant energy equivalent in MeV"][0] * 1e3

EV_PER_A3_TO_BAR = _c.e / 1e-30 / 1e5           # stress: eV/Å^3 -> bar (1.602e6)
EV_PER_A3_TO_GPA = _c.e / 1e-30 / 1e9           # eV/Å^3 -> GPa (160.2)

# interfacial conductance: 1 eV/(nm^2 ps K) = 1.602e-19 J / (1e-18 m^2 * 1e-12 s * K) = 1.602e11 W/(m^2 K)
EV_PER_NM2_PS_K_TO_W_PER_M2_K = _c.e / (1e-18 * 1e-12)
EV_PER_NM2_PS_K_TO_MW_PER_M2_K = EV_PER_NM2_PS_K_TO_W_PER_M2_K / 1e6

# lengths, areas, volumes, times: one name per conversion
A_PER_NM = 10.0                                 # Å per nm
A2_PER_NM2 = 100.0                              # Å^2 per nm^2
NM2_PER_A2 = 1e-2                               # nm^2 per Å^2 (dose rates: e-/(Å^2 s) -> e-/(nm^2 s) divides by it)
A3_PER_NM3 = 1000.0                             # Å^3 per nm^3
PS_PER_S = 1e12                                 # ps per s
