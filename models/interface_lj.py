"""Lennard-Jones pair parameters of a particle-support interface fitted to DFT binding energies.

The classical Au/TiO2 reference (lammps_inputs/potentials/classical_au_tio2.in) couples the uncharged Au particle
to the oxide by `lj/cut` alone, one 12-6 pair per support element (Au-O, Au-Ti). Every other term of that file is
within one body (EAM Au-Au, Buckingham + PPPM Coulomb O/Ti), so the classical binding energy of a rigid frame,
E(particle on support) - E(particle) - E(support), is the `lj/cut` energy of the frame, and for each pair X

    E_X(eps, sigma) = 4 eps (sigma^12 S12_X - sigma^6 S6_X),   S_n_X = sum over Au-X pairs within r_c of r^-n.

LAMMPS gives S12_X and S6_X (`compute pair lj/cut` with the real include file, its pair_coeff lines overridden
at two sigmas, the other pair switched off), and a least-squares fit (scipy) of the parameters to the DFT binding
energies of labelled `models.candidates` frames runs on them. Every frame that has the particle alone and the
support alone labelled in the same cell at the same scan copy gives E_b^DFT = E(frame) - E(particle) - E(support).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beamheat.cli import UserError

SIGMA_PROBES_A = (2.5, 3.5)   # two sigmas at which LAMMPS's lj/cut energy gives S12 and S6
MIN_POINTS_PER_PARAMETER = 2  # a fit needs at least this many binding energies per free parameter
SIGMA_BOUNDS_A = (1.5, 5.0)


@dataclass
class Point:
    """One labelled frame's DFT binding energy and its Au-X pair sums (per support element X)."""
    system: str
    copy: int
    gap_A: float
    frame: int
    E_b_dft_eV: float
    s12: dict = field(default_factory=dict)  # {X: sum r^-12 (Å^-12)}
    s6: dict = field(default_factory=dict)   # {X: sum r^-6 (Å^-6)}
    atoms: object = None


def lj_energy(s12, s6, eps_eV, sigma_A):
    """4 eps (sigma^12 S12 - sigma^6 S6), eV (array-friendly)."""
    return 4.0 * eps_eV * (sigma_A ** 12 * np.asarray(s12) - sigma_A ** 6 * np.asarray(s6))


def binding_points(frames, element: str = "Au", source: str = "labels") -> list[Point]:
    """DFT binding energies of every labelled scan frame of FRAMES (dft.label exports of models.candidates frames:
    info system, kind, copy, gap_A, frame). Refuses (UserError naming SOURCE) scan frames whose particle or support
    alone, same system and copy, is not among FRAMES."""
    bodies: dict[tuple, dict] = {}
    scans = []
    for a in frames:
        kind, system = a.info.get("kind"), a.info.get("system")
        if system is None or kind is None:
            continue
        key = (str(system), int(a.info.get("copy", 0)))
        if kind == "scan":
            scans.append((key, a))
        elif kind in ("particle", "support"):
            bodies.setdefault(key, {})[kind] = a
    points = []
    for key, a in sorted(scans, key=lambda x: (x[0], float(x[1].info["gap_A"]))):
        have = bodies.get(key, {})
        missing = [k for k in ("particle", "support") if k not in have]
        if missing:
            raise UserError(f"{source}: {key[0]} copy {key[1]}: scan frame {a.info.get('frame')} has no "
                            f"{' and no '.join(missing)} alone labelled (the binding energy needs both bodies)")
        E_b = a.get_potential_energy() - have["particle"].get_potential_energy() \
            - have["support"].get_potential_energy()
        points.append(Point(key[0], key[1], float(a.info["gap_A"]), int(a.info.get("frame", -1)), float(E_b),
                            atoms=a))
    return points


def _override(coeffs: dict, types: dict) -> list[str]:
    """pair_coeff lines that set Au-X lj/cut to COEFFS {X: (eps, sigma)}."""
    return [f"pair_coeff {types['Au']} {types[x]} lj/cut {eps!r} {sigma!r}" for x, (eps, sigma) in coeffs.items()]


class LammpsInterface:
    """The real potential include file in LAMMPS, its Au-X lj/cut pair_coeff lines overridden: the lj/cut energy
    of a frame at any Au-X parameters. TYPES: element -> LAMMPS type as the include file expects."""

    def __init__(self, potential: str | Path, types: dict, kspace_accuracy: float = 1.0e-5):
        self.potential = Path(potential)
        self.types = dict(types)
        self.partners = [e for e in sorted(self.types, key=self.types.get) if e != "Au"]
        self.kspace_accuracy = kspace_accuracy

    def energies(self, atoms, coeff_sets: list[dict]) -> list[dict]:
        """For each {X: (eps, sigma)} of COEFF_SETS (pairs not named are switched off): the frame's lj/cut energy
        and its total potential energy, eV."""
        from beamheat.lammps_run import open_lammps, setup_system

        names = sorted(self.types, key=self.types.get)
        lmp = open_lammps()
        out = []
        try:
            setup_system(lmp, atoms, names)
            lmp.commands_list([f"variable kspace_accuracy index {self.kspace_accuracy!r}",
                               f"include {self.potential}", "compute bh_lj all pair lj/cut",
                               "thermo_style custom step pe c_bh_lj", "thermo_modify format float %.17g"])
            for coeffs in coeff_sets:
                full = {x: coeffs.get(x, (0.0, 1.0)) for x in self.partners}
                lmp.commands_list(_override(full, self.types) + ["run 0 post no"])
                out.append({"lj_eV": float(lmp.extract_compute("bh_lj", 0, 0)), "pe_eV": float(lmp.get_thermo("pe"))})
        finally:
            lmp.close()
        return out

    def pair_sums(self, atoms) -> tuple[dict, dict]:
        """({X: S12_X}, {X: S6_X}) of ATOMS from lj/cut energies at the two SIGMA_PROBES_A (eps = 1/4 eV)."""
        sets = [{x: (0.25, s)} for x in self.partners for s in SIGMA_PROBES_A]
        e = [r["lj_eV"] for r in self.energies(atoms, sets)]
        a, b = SIGMA_PROBES_A
        m = np.array([[a ** 12, -a ** 6], [b ** 12, -b ** 6]])
        s12, s6 = {}, {}
        for k, x in enumerate(self.partners):
            s12[x], s6[x] = (float(v) for v in np.linalg.solve(m, e[2 * k: 2 * k + 2]))
        return s12, s6

    def fill(self, points: list[Point]) -> list[Point]:
        for p in points:
            p.s12, p.s6 = self.pair_sums(p.atoms)
        return points


def predict(points: list[Point], params: dict) -> np.ndarray:
    """Classical binding energies (eV) of POINTS at PARAMS {X: (eps_eV, sigma_A)}."""
    return np.array([sum(lj_energy(p.s12[x], p.s6[x], *params[x]) for x in params) for p in points])


def require_points(n_points: int, n_pairs: int, free: str, source: str = "labels") -> int:
    """The number of free parameters of a fit of N_PAIRS pairs; refuses (UserError naming SOURCE) fewer than
    MIN_POINTS_PER_PARAMETER binding energies per parameter."""
    if free not in ("eps", "eps-sigma"):
        raise ValueError(f"free must be eps or eps-sigma, not {free!r}")
    n_par = n_pairs * (2 if free == "eps-sigma" else 1)
    if n_points < MIN_POINTS_PER_PARAMETER * n_par:
        raise UserError(f"{source}: {n_points} binding energies for {n_par} parameters; the fit needs at least "
                        f"{MIN_POINTS_PER_PARAMETER * n_par} (label more frames)")
    return n_par


def fit(points: list[Point], start: dict, free: str = "eps-sigma", source: str = "labels") -> dict:
    """Least-squares Au-X parameters: minimise sum (E_b^classical - E_b^DFT)^2 over POINTS, from START
    {X: (eps_eV, sigma_A)}; FREE "eps" keeps the sigmas of START (then the problem is linear in eps), "eps-sigma"
    fits both. Refuses (UserError) fewer than MIN_POINTS_PER_PARAMETER points per free parameter. Returns
    {"params": {X: (eps, sigma)}, "rmse_eV", "n_points", "n_parameters", "success", "message"}."""
    from scipy.optimize import least_squares

    partners = list(start)
    n_par = require_points(len(points), len(partners), free, source)
    target = np.array([p.E_b_dft_eV for p in points])

    def unpack(x):
        if free == "eps-sigma":
            return {e: (x[2 * k], x[2 * k + 1]) for k, e in enumerate(partners)}
        return {e: (x[k], start[e][1]) for k, e in enumerate(partners)}

    if free == "eps-sigma":
        x0 = [v for e in partners for v in start[e]]
        lo = [b for _ in partners for b in (0.0, SIGMA_BOUNDS_A[0])]
        hi = [b for _ in partners for b in (1.0, SIGMA_BOUNDS_A[1])]
    else:
        x0 = [start[e][0] for e in partners]
        lo, hi = [0.0] * len(partners), [1.0] * len(partners)
    x0 = np.clip(x0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    res = least_squares(lambda x: predict(points, unpack(x)) - target, x0, bounds=(lo, hi), x_scale="jac")
    params = {e: (float(a), float(b)) for e, (a, b) in unpack(res.x).items()}
    resid = predict(points, params) - target
    return {"params": params, "rmse_eV": float(np.sqrt(np.mean(resid ** 2))), "n_points": len(points),
            "n_parameters": n_par, "success": bool(res.success), "message": str(res.message)}


def read_pair_coeffs(potential: str | Path, types: dict) -> dict:
    """{X: (eps, sigma)} of the Au-X `lj/cut` pair_coeff lines of a potential include file."""
    by_type = {t: e for e, t in types.items()}
    out = {}
    for raw in Path(potential).read_text().splitlines():
        w = raw.split("#", 1)[0].split()
        if len(w) >= 6 and w[0] == "pair_coeff" and w[3] == "lj/cut":
            i, j = sorted((int(w[1]), int(w[2])))
            if by_type.get(i) == "Au" and j in by_type:
                out[by_type[j]] = (float(w[4]), float(w[5]))
    return out
