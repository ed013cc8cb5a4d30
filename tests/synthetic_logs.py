"""LAMMPS-format logs of the two-body cooling model, with known tau, c_p and k, for testing analysis.fit_k.

Two heat capacities C_np = N_np c_np and C_sub = N_sub c_sub (None: infinite bath) coupled by k A:
    dT(t) = dT0 exp(-t/tau),   1/tau = k A (1/C_np + 1/C_sub)
    T_np = T_eq + dT C_sub/(C_np + C_sub),   T_sub = T_eq - dT C_np/(C_np + C_sub)
    E_np = C_np T_np + const,   E_sub = C_sub T_sub + const     (energy conserved)
Gaussian noise is added to temperatures and energies. The log mimics what LAMMPS prints, including a first
(Langevin) thermo block with other columns, the memory line before each header and the loop-time line after, and
the stage markers beamheat's inputs print ("beamheat: stage thermalise", "beamheat: stage nve_contact ...").

`Stochastic` is the same two-body model with the interface's own fluctuating heat flux (fluctuation-dissipation:
the heat Q crossing in dt has mean k A dT dt and variance 2 k_B T_np T_sub k A dt), which is what limits a real MD
measurement of k; it is the truth against which the stated intervals are tested. Its `slosh_eV` adds what MD
shows beside that diffusion: energy swinging back and forth between the two groups' per-atom energies (an
Ornstein-Uhlenbeck term of that size and correlation time `slosh_ps`, bounded, added to E_np and taken from
E_sup); on the classical Au45/hBN runs of bench/k_calibration.py it is about 0.15 eV over about 10 ps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from beamheat.markers import NVE_CONTACT, stage_line


@dataclass
class Cooling:
    n_np: int = 500
    n_sub: int | None = 4000
    cp_np_eV_per_K: float = 2.9e-4
    cp_sub_eV_per_K: float = 3.5e-4
    k_eV_per_nm2_ps_K: float = 5.1e-4
    area_nm2: float = 4.0
    T_np0_K: float = 600.0
    T_sub0_K: float = 300.0
    t_end_ps: float = 200.0
    dt_out_ps: float = 0.1
    t_contact_ps: float = 15.0
    noise_T_K: float = 5.0
    noise_E_eV: float = 0.01
    seed: int = 0

    @property
    def C_np(self):
        return self.n_np * self.cp_np_eV_per_K

    @property
    def C_sub(self):
        return None if self.n_sub is None else self.n_sub * self.cp_sub_eV_per_K

    @property
    def tau_ps(self):
        inv = 1.0 / self.C_np + (1.0 / self.C_sub if self.C_sub else 0.0)
        return 1.0 / (self.k_eV_per_nm2_ps_K * self.area_nm2 * inv)

    def series(self):
        rng = np.random.default_rng(self.seed)
        t = np.arange(0.0, self.t_end_ps + 1e-9, self.dt_out_ps)
        dT = (self.T_np0_K - self.T_sub0_K) * np.exp(-t / self.tau_ps)
        if self.C_sub:
            T_eq = (self.C_np * self.T_np0_K + self.C_sub * self.T_sub0_K) / (self.C_np + self.C_sub)
            T_np = T_eq + dT * self.C_sub / (self.C_np + self.C_sub)
            T_sub = T_eq - dT * self.C_np / (self.C_np + self.C_sub)
        else:
            T_np, T_sub = self.T_sub0_K + dT, np.full_like(t, self.T_sub0_K)
        E_np = -1000.0 + self.C_np * T_np
        E_sub = -9000.0 + (self.C_sub or 0.0) * T_sub
        n = len(t)
        return {
            "Time": t + self.t_contact_ps,
            "v_T_np": T_np + rng.normal(0, self.noise_T_K, n),
            "v_T_support": T_sub + rng.normal(0, self.noise_T_K / 3, n),
            "v_E_np": E_np + rng.normal(0, self.noise_E_eV, n),
            "v_E_support": E_sub + rng.normal(0, self.noise_E_eV, n),
        }


@dataclass
class Stochastic(Cooling):
    """Cooling with a fluctuating interface flux (see module docstring); noise_T_K is the fast kinetic noise."""
    slosh_eV: float = 0.0
    slosh_ps: float = 10.0

    def series(self):
        rng = np.random.default_rng(self.seed)
        K_B = 8.617333262e-5
        t = np.arange(0.0, self.t_end_ps + 1e-9, self.dt_out_ps)
        G = self.k_eV_per_nm2_ps_K * self.area_nm2
        C_np, C_sub = self.C_np, self.C_sub
        E_np, E_sub = np.empty(len(t)), np.empty(len(t))
        T_np, T_sub = self.T_np0_K, self.T_sub0_K
        q = 0.0
        for i in range(len(t)):
            E_np[i], E_sub[i] = -q, q
            if i == len(t) - 1:
                break
            dT = T_np - T_sub
            dq = G * dT * self.dt_out_ps + np.sqrt(2 * K_B * T_np * T_sub * G * self.dt_out_ps) * rng.normal()
            q += dq
            T_np -= dq / C_np
            if C_sub:
                T_sub += dq / C_sub
        if self.slosh_eV:
            a = np.exp(-self.dt_out_ps / self.slosh_ps)
            x = np.empty(len(t))
            x[0] = rng.normal(0, self.slosh_eV)
            for i in range(1, len(t)):
                x[i] = a * x[i - 1] + np.sqrt(1 - a * a) * self.slosh_eV * rng.normal()
            E_np, E_sub = E_np + x, E_sub - x
        T_np_t = self.T_np0_K + E_np / C_np
        T_sub_t = self.T_sub0_K + (E_sub / C_sub if C_sub else 0.0)
        n = len(t)
        return {
            "Time": t + self.t_contact_ps,
            "v_T_np": T_np_t + rng.normal(0, self.noise_T_K, n),
            "v_T_support": T_sub_t + rng.normal(0, self.noise_T_K / 3, n),
            "v_E_np": -1000.0 + C_np * self.T_np0_K + E_np + rng.normal(0, self.noise_E_eV, n),
            "v_E_support": -9000.0 + (C_sub or 0.0) * self.T_sub0_K + E_sub + rng.normal(0, self.noise_E_eV, n),
        }


PREAMBLE = """LAMMPS (22 Jul 2025 - Update 4)
  using 1 OpenMP thread(s) per MPI task
Reading data file ...
  1 by 1 by 1 MPI processor grid
  {natoms} atoms
"""


def _block(columns: list[str], rows: np.ndarray, step0: int, dt_steps: int, warn_every: int | None = None) -> str:
    out = ["Per MPI rank memory allocation (min/avg/max) = 4.05 | 4.05 | 4.05 Mbytes",
           "   " + "   ".join(f"{c:>12s}" for c in ["Step"] + columns)]
    for i, r in enumerate(rows):
        out.append(f"{step0 + i * dt_steps:10d} " + " ".join(f"{v:15.8f}" for v in r))
        if warn_every and i and i % warn_every == 0:
            out.append("WARNING: Too many neighbors in a bin (src/src/npair_bin.cpp:123)")
    out.append(f"Loop time of 12.345 on 1 procs for {len(rows) * dt_steps} steps with 4500 atoms")
    out.append("")
    return "\n".join(out) + "\n"


def write_log(path, model: Cooling, columns=("Time", "v_T_np", "v_T_support", "v_E_np", "v_E_support"),
              warn_every: int | None = None, truncate_last: bool = False, thermalisation: bool = True,
              steps=None, markers: bool = True, nve: bool = True, extra: dict | None = None) -> str:
    """Write a heat-transfer log; returns the text. `steps` restricts the NVE block to a slice of rows.
    markers: print the stage markers of heat_transfer.in; nve False: a run killed before contact."""
    s = {**model.series(), **(extra or {})}  # extra: more NVE columns, e.g. {"v_sep_A": array}
    dt_steps = int(round(model.dt_out_ps / 0.002))
    text = PREAMBLE.format(natoms=model.n_np + (model.n_sub or 0))
    if thermalisation:
        n_eq = int(model.t_contact_ps / model.dt_out_ps)
        eq = np.column_stack([np.arange(n_eq) * model.dt_out_ps, np.full(n_eq, 600.0), np.full(n_eq, 300.0)])
        text += "fix langevin ...\n" + "beamheat: stage thermalise\n" * markers + \
            _block(["Time", "c_T_np_raw", "c_T_sub_raw"], eq, 0, dt_steps)
    if not nve:
        with open(path, "w") as f:
            f.write(text)
        return text
    rows = np.column_stack([s[c] for c in columns])
    sl = steps if steps is not None else slice(None)
    step0 = int(round(model.t_contact_ps / 0.002))
    idx = np.arange(len(rows))[sl]
    marker = (f"{stage_line(NVE_CONTACT)} protocol=in_contact t_start_ps={model.t_contact_ps:g} "
              f"t_planned_ps={model.t_end_ps:g}\n") if markers and thermalisation else ""
    text += "fix nve ...\n" + marker + _block(list(columns), rows[sl], step0 + idx[0] * dt_steps, dt_steps,
                                                  warn_every)
    if truncate_last:
        cut = text.rindex("Loop time")
        text = text[:cut]
        text = text.rstrip("\n")
        text = text[: len(text) - 20]  # the killed job's half-written last row
    with open(path, "w") as f:
        f.write(text)
    return text


def write_steady_log(path, P_eV_per_ps=0.5, area_nm2=4.0, k=5e-4, n=3000, noise_K=3.0, seed=1, C_np=0.04,
                     markers=True) -> float:
    """Steady state: T_np - T_sub = P/(k A) after a transient (time constant C_np/(k A)), with the particle's
    energy obeying C_np dT/dt = P - k A dT; returns the dT the log encodes."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.1
    dT_ss = P_eV_per_ps / (k * area_nm2)
    tau = C_np / (k * area_nm2)
    dT = dT_ss * (1 - np.exp(-t / tau))
    E_np = -500.0 + C_np * dT
    rows = np.column_stack([t, 300 + dT + rng.normal(0, noise_K, n), np.full(n, 300.0) + rng.normal(0, 1, n),
                            np.full(n, P_eV_per_ps), E_np + rng.normal(0, 0.002, n)])
    marker = "beamheat: stage heat P_eV_per_ps={P_eV_per_ps} t_start_ps=0 t_equil_ps={eq:g}\n".format(
        P_eV_per_ps=P_eV_per_ps, eq=0.5 * t[-1]) if markers else ""
    with open(path, "w") as f:
        f.write(PREAMBLE.format(natoms=1000) + marker +
                _block(["Time", "v_T_np", "v_T_support", "v_P_np", "v_E_np"], rows, 0, 50))
    return dT_ss
