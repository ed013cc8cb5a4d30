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

Energies alone leave the split between Au-O and Au-Ti open when the labels hold few lateral positions: one pair
can carry the whole curve. The DFT interaction force on each particle atom, F(frame) - F(particle alone) (the scan
is rigid and the particle alone has the same internal geometry), is the second target. Its lj/cut counterpart is
4 eps (sigma^12 G12_X - sigma^6 G6_X), G_n_X = -grad S_n_X, which LAMMPS gives from the forces at the same two
sigmas minus those with every Au-X pair off. The forces on the support's atoms are not fitted: their DFT
counterpart holds the support's electronic response, which no Au-X pair term carries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beamheat.cli import UserError

SIGMA_PROBES_A = (2.5, 3.5)   # two sigmas at which LAMMPS's lj/cut energy gives S12 and S6
MIN_POINTS_PER_PARAMETER = 2  # a fit needs at least this many binding energies per free parameter
SIGMA_BOUNDS_A = (1.5, 5.0)
START_EPS_EV = (0.02, 0.3)    # the starts of an eps-sigma fit besides the file's: every pair at each combination
START_SIGMA_A = (2.0, 3.0)


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
    f_dft: np.ndarray | None = None          # DFT interaction force on each particle atom, (n, 3) eV/Å
    g12: dict = field(default_factory=dict)  # {X: -grad S12 on each particle atom, (n, 3) Å^-13}
    g6: dict = field(default_factory=dict)   # {X: -grad S6 on each particle atom, (n, 3) Å^-7}
    particle: np.ndarray | None = None       # indices of the particle's atoms in ATOMS


def lj_energy(s12, s6, eps_eV, sigma_A):
    """4 eps (sigma^12 S12 - sigma^6 S6), eV (array-friendly)."""
    return 4.0 * eps_eV * (sigma_A ** 12 * np.asarray(s12) - sigma_A ** 6 * np.asarray(s6))


def lj_forces(g12, g6, eps_eV, sigma_A):
    """4 eps (sigma^12 G12 - sigma^6 G6), eV/Å: lj_energy's linear form on the gradients G_n = -grad S_n."""
    return lj_energy(g12, g6, eps_eV, sigma_A)


def _forces(atoms):
    results = getattr(atoms.calc, "results", None) or {}
    return None if results.get("forces") is None else np.asarray(results["forces"], float)


def binding_points(frames, element: str = "Au", source: str = "labels") -> list[Point]:
    """DFT binding energies of every labelled scan frame of FRAMES (dft.label exports of models.candidates frames:
    info system, kind, copy, gap_A, frame), and, where the frame and its particle alone carry forces, the DFT
    interaction force on each particle atom. Refuses (UserError naming SOURCE) scan frames whose particle or support
    alone, is not among FRAMES, and a particle alone whose atoms are not the frame's. A body alone is the one of
    the same system and copy, or else the one whose configuration is exactly the frame's atoms of that body (a
    relaxed frame over the slab of an earlier copy: relaxed_candidates)."""
    from models.data import frame_uid

    bodies: dict[tuple, dict] = {}
    by_content: dict[str, object] = {}
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
            by_content[frame_uid(a)] = a
    points = []
    for key, a in sorted(scans, key=lambda x: (x[0], float(x[1].info["gap_A"]))):
        have = dict(bodies.get(key, {}))
        is_particle = np.array(a.get_chemical_symbols()) == element
        for kind, mask in (("particle", is_particle), ("support", ~is_particle)):
            if kind not in have and frame_uid(a[mask]) in by_content:
                have[kind] = by_content[frame_uid(a[mask])]
        missing = [k for k in ("particle", "support") if k not in have]
        if missing:
            raise UserError(f"{source}: {key[0]} copy {key[1]}: scan frame {a.info.get('frame')} has no "
                            f"{' and no '.join(missing)} alone labelled (the binding energy needs both bodies)")
        E_b = a.get_potential_energy() - have["particle"].get_potential_energy() \
            - have["support"].get_potential_energy()
        mine = np.flatnonzero(is_particle)
        alone = have["particle"]
        if len(alone) != len(mine) or alone.get_chemical_symbols() != [element] * len(mine):
            raise UserError(f"{source}: {key[0]} copy {key[1]}: the particle alone (frame "
                            f"{alone.info.get('frame')}) is not the {len(mine)} {element} atoms of scan frame "
                            f"{a.info.get('frame')}")
        f_frame, f_alone = _forces(a), _forces(alone)
        f_dft = None if f_frame is None or f_alone is None else f_frame[mine] - f_alone
        points.append(Point(key[0], key[1], float(a.info["gap_A"]), int(a.info.get("frame", -1)), float(E_b),
                            atoms=a, f_dft=f_dft, particle=mine))
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

    def open(self, atoms):
        """(lmp, prism): LAMMPS with ATOMS set up, the include file run and `compute bh_lj` (the lj/cut energy)."""
        from beamheat.lammps_run import open_lammps, setup_system

        lmp = open_lammps()
        try:
            prism = setup_system(lmp, atoms, sorted(self.types, key=self.types.get))
            lmp.commands_list([f"variable kspace_accuracy index {self.kspace_accuracy!r}",
                               f"include {self.potential}", "compute bh_lj all pair lj/cut"])
        except BaseException:
            lmp.close()
            raise
        return lmp, prism

    def evaluate(self, atoms, coeff_sets: list[dict]) -> list[dict]:
        """For each {X: (eps, sigma)} of COEFF_SETS (pairs not named are switched off): the frame's lj/cut energy,
        its total potential energy (eV) and the forces on every atom (eV/Å, ASE's frame and order)."""
        lmp, prism = self.open(atoms)
        out = []
        try:
            lmp.commands_list(["thermo_style custom step pe c_bh_lj", "thermo_modify format float %.17g"])
            for coeffs in coeff_sets:
                full = {x: coeffs.get(x, (0.0, 1.0)) for x in self.partners}
                lmp.commands_list(_override(full, self.types) + ["run 0 post no"])
                f = np.array(lmp.gather_atoms("f", 1, 3), dtype=float).reshape(len(atoms), 3)
                out.append({"lj_eV": float(lmp.extract_compute("bh_lj", 0, 0)), "pe_eV": float(lmp.get_thermo("pe")),
                            "forces_eV_per_A": prism.vector_to_ase(f)})
        finally:
            lmp.close()
        return out

    def pair_terms(self, atoms) -> tuple[dict, dict, dict, dict]:
        """({X: S12_X}, {X: S6_X}, {X: G12_X}, {X: G6_X}) of ATOMS, G per atom (n, 3), from the lj/cut energies and
        forces at the two SIGMA_PROBES_A (eps = 1/4 eV) and the forces with every Au-X pair off."""
        sets = [{}] + [{x: (0.25, s)} for x in self.partners for s in SIGMA_PROBES_A]
        runs = self.evaluate(atoms, sets)
        f_off = runs[0]["forces_eV_per_A"]
        a, b = SIGMA_PROBES_A
        m = np.array([[a ** 12, -a ** 6], [b ** 12, -b ** 6]])
        s12, s6, g12, g6 = {}, {}, {}, {}
        for k, x in enumerate(self.partners):
            r = runs[1 + 2 * k: 3 + 2 * k]
            s12[x], s6[x] = (float(v) for v in np.linalg.solve(m, [q["lj_eV"] for q in r]))
            df = np.stack([q["forces_eV_per_A"] - f_off for q in r])  # (2, n, 3)
            g = np.linalg.solve(m, df.reshape(2, -1))
            g12[x], g6[x] = g[0].reshape(-1, 3), g[1].reshape(-1, 3)
        return s12, s6, g12, g6

    def fill(self, points: list[Point]) -> list[Point]:
        for p in points:
            p.s12, p.s6, g12, g6 = self.pair_terms(p.atoms)
            p.g12 = {x: g[p.particle] for x, g in g12.items()}
            p.g6 = {x: g[p.particle] for x, g in g6.items()}
        return points


def predict(points: list[Point], params: dict) -> np.ndarray:
    """Classical binding energies (eV) of POINTS at PARAMS {X: (eps_eV, sigma_A)}."""
    return np.array([sum(lj_energy(p.s12[x], p.s6[x], *params[x]) for x in params) for p in points])


def predict_forces(point: Point, params: dict) -> np.ndarray:
    """Classical interaction forces (eV/Å) on the particle atoms of POINT at PARAMS, (n, 3)."""
    return sum(lj_forces(point.g12[x], point.g6[x], *params[x]) for x in params)


def force_rmse(points: list[Point], params: dict) -> float | None:
    """RMS over the particle atoms' force components of POINTS that carry DFT forces, eV/Å (None if none do)."""
    d = [(predict_forces(p, params) - p.f_dft).ravel() for p in points if p.f_dft is not None]
    return float(np.sqrt(np.mean(np.concatenate(d) ** 2))) if d else None


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


def fit(points: list[Point], start: dict, free: str = "eps-sigma", source: str = "labels",
        force_weight_A2: float = 0.0) -> dict:
    """Least-squares Au-X parameters: minimise, over POINTS,

        sum_points [ (E_b^classical - E_b^DFT)^2 + FORCE_WEIGHT_A2 * mean_components (F^classical - F^DFT)^2 ]

    (the forces: the interaction forces on the particle atoms of the points that carry them; the weight in Å^2
    puts a frame's mean squared force error beside its squared energy error). FREE "eps" keeps the sigmas of START
    {X: (eps_eV, sigma_A)} and starts from its eps; "eps-sigma" fits both, from START and from every combination
    of START_EPS_EV x START_SIGMA_A per pair, and keeps the lowest cost. Refuses (UserError) fewer than
    MIN_POINTS_PER_PARAMETER points per free parameter. Returns {"params": {X: (eps, sigma)}, "rmse_eV",
    "force_rmse_eV_per_A", "n_points", "n_force_points" (points with DFT forces), "n_starts", "n_parameters",
    "success", "message"}."""
    from scipy.optimize import least_squares

    partners = list(start)
    n_par = require_points(len(points), len(partners), free, source)
    target = np.array([p.E_b_dft_eV for p in points])

    def unpack(x):
        if free == "eps-sigma":
            return {e: (x[2 * k], x[2 * k + 1]) for k, e in enumerate(partners)}
        return {e: (x[k], start[e][1]) for k, e in enumerate(partners)}

    if free == "eps-sigma":
        lo = [b for _ in partners for b in (0.0, SIGMA_BOUNDS_A[0])]
        hi = [b for _ in partners for b in (1.0, SIGMA_BOUNDS_A[1])]
        grid = [(e, s) for e in START_EPS_EV for s in START_SIGMA_A]
        starts = [[v for e in partners for v in start[e]]]
        starts += [[v for pair in combo for v in pair] for combo in itertools.product(grid, repeat=len(partners))]
    else:
        lo, hi = [0.0] * len(partners), [1.0] * len(partners)
        starts = [[start[e][0] for e in partners]]
    with_forces = [p for p in points if p.f_dft is not None]

    def residuals(x):
        params = unpack(x)
        r = [predict(points, params) - target]
        if force_weight_A2 > 0:
            r += [np.sqrt(force_weight_A2 / p.f_dft.size) * (predict_forces(p, params) - p.f_dft).ravel()
                  for p in with_forces]
        return np.concatenate(r)

    res = None
    for x0 in starts:  # the problem has local minima (a pair switched off): the best of several starts
        x0 = np.clip(x0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
        r = least_squares(residuals, x0, bounds=(lo, hi), x_scale="jac")
        if res is None or r.cost < res.cost - 1e-12:
            res = r
    params = {e: (float(a), float(b)) for e, (a, b) in unpack(res.x).items()}
    resid = predict(points, params) - target
    return {"params": params, "rmse_eV": float(np.sqrt(np.mean(resid ** 2))),
            "force_rmse_eV_per_A": force_rmse(points, params), "n_points": len(points),
            "n_force_points": len(with_forces), "n_starts": len(starts), "n_parameters": n_par,
            "success": bool(res.success), "message": str(res.message)}


def relax_on_support(atoms, potential: str | Path, types: dict, params: dict, element: str = "Au",
                     kspace_accuracy: float = 1.0e-5, fmax_eV_per_A: float = 1.0e-3, max_iter: int = 5000):
    """ATOMS with the particle (the ELEMENT atoms) relaxed over the fixed support by the potential include file
    with Au-X lj/cut at PARAMS {X: (eps, sigma)} (FIRE, as relax.in: PPPM's forces are not its energy's exact
    gradient). Returns (relaxed copy, its lj/cut binding energy in eV)."""
    partners = [e for e in sorted(types, key=types.get) if e != element]
    lmp, prism = LammpsInterface(potential, types, kspace_accuracy).open(atoms)
    try:
        lmp.commands_list(_override({x: params.get(x, (0.0, 1.0)) for x in partners}, types)
                          + [f"group bh_support type {' '.join(str(types[x]) for x in partners)}",
                             "fix bh_fixed bh_support setforce 0.0 0.0 0.0", "min_style fire",
                             f"minimize 0.0 {fmax_eV_per_A!r} {max_iter} {10 * max_iter}"])
        x = np.array(lmp.gather_atoms("x", 1, 3), dtype=float).reshape(len(atoms), 3)
        e_lj = float(lmp.extract_compute("bh_lj", 0, 0))
    finally:
        lmp.close()
    out = atoms.copy()
    out.calc = None
    mine = np.array(out.get_chemical_symbols()) == element
    pos = prism.vector_to_ase(x, wrap=False)
    out.positions[mine] = pos[mine]  # the support's atoms keep ASE's positions exactly (the bodies' content)
    return out, e_lj


RELAXED_COPY_OFFSET = 10  # relaxed_candidates' frames take copies from here up: the rigid scans' are below


def relaxed_candidates(points: list[Point], potential: str | Path, types: dict, params: dict, element: str = "Au",
                       first_frame: int = 0) -> list:
    """Frames to label next for the fit: for each rigid scan (system, copy < RELAXED_COPY_OFFSET) of POINTS, its
    frame where PARAMS bind most, the particle relaxed over the fixed support with PARAMS (relax_on_support), and
    that relaxed particle alone. A pair potential fitted to rigid scans may bind a relaxed particle far more than
    DFT does: these frames test it there. Each pair gets the next copy of its system not in POINTS, from
    RELAXED_COPY_OFFSET up; the support alone is the scan's own (by content, binding_points). Frames are numbered
    from FIRST_FRAME."""
    from ase import Atoms

    out = []
    for key in sorted({(p.system, p.copy) for p in points if p.copy < RELAXED_COPY_OFFSET}):
        scan = [p for p in points if (p.system, p.copy) == key]
        start = scan[int(np.argmin(predict(scan, params)))]
        relaxed, e_lj = relax_on_support(start.atoms, potential, types, params, element)
        sym = np.array(relaxed.get_chemical_symbols())
        gap = float(relaxed.positions[sym == element, 2].min() - relaxed.positions[sym != element, 2].max())
        taken = [p.copy for p in points if p.system == key[0]] + [a.info["copy"] for a in out
                                                                   if a.info["system"] == key[0]]
        info = {"system": key[0], "copy": max([RELAXED_COPY_OFFSET - 1] + taken) + 1,
                "source": "fit_interface:relaxed", "relaxed_from_frame": start.frame, "E_b_fitted_eV": e_lj,
                "gap_A": round(gap, 4)}
        relaxed.info = dict(info, kind="scan", frame=first_frame + len(out))
        alone = Atoms(relaxed.numbers[sym == element], relaxed.positions[sym == element], cell=relaxed.cell,
                      pbc=relaxed.pbc)
        alone.info = dict(info, kind="particle", frame=first_frame + len(out) + 1)
        out += [relaxed, alone]
    return out


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
