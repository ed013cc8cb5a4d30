"""The particle's binding energy on its support from labelled `models.candidates` frames.

For each system, a rigid scan (copy 0 unless asked) and the two bodies alone in the same cell and geometry give
    E_b(gap) = E(particle on support at gap) - E(particle) - E(support)        (eV)
for the labels themselves or for any other energies of the same frames (a potential, an ensemble's members).
"""

from __future__ import annotations

import numpy as np


def body_mismatch_A(scan, body) -> float:
    """The largest displacement (Å) between BODY (a particle or a support alone) and its atoms in the SCAN frame,
    where models.candidates puts the particle's atoms first and the support's last; the particle's up to one
    translation (a rigid scan moves it). inf where the atoms do not correspond."""
    n = len(body)
    part = scan[:n] if body.info.get("kind") == "particle" else scan[len(scan) - n:]
    if n == 0 or n > len(scan) or part.get_chemical_symbols() != body.get_chemical_symbols():
        return float("inf")
    d = part.positions - body.positions
    if body.info.get("kind") == "particle":
        d = d - d.mean(axis=0)
    return float(np.abs(d).max())


def binding_curves(frames, copy: int = 0) -> dict:
    """{system: {"gap_A": [...], "E_b_eV": [...], "E_b_d3_eV": [...], "frames": [scan frame indices],
    "_scan": [Atoms], "_bodies": (particle, support), "bodies_mismatch_A": float}} for every system whose scan at
    lateral position COPY and both bodies are in FRAMES (frames carry the candidates' info: system, kind, copy,
    gap_A, frame). Of several bodies of a kind, the one whose geometry is the scan's is taken (body_mismatch_A);
    a nonzero `bodies_mismatch_A` says that E_b also holds the bodies' deformation energy."""
    by_system: dict[str, dict] = {}
    for a in frames:
        s = a.info.get("system")
        if s is None:
            continue
        d = by_system.setdefault(s, {"scan": [], "particle": [], "support": []})
        kind = a.info.get("kind")
        if kind == "scan" and int(a.info.get("copy", -1)) == copy:
            d["scan"].append(a)
        elif kind in ("particle", "support"):
            d[kind].append(a)
    out = {}
    for s, d in by_system.items():
        if not d["particle"] or not d["support"] or not d["scan"]:
            continue
        scan = sorted(d["scan"], key=lambda a: float(a.info["gap_A"]))
        chosen = [min(d[kind], key=lambda b: body_mismatch_A(scan[0], b)) for kind in ("particle", "support")]
        mismatch = max(body_mismatch_A(scan[0], b) for b in chosen)
        bodies = sum(b.get_potential_energy() for b in chosen)
        bodies_d3 = sum(float(b.info.get("energy_d3", np.nan)) for b in chosen)
        out[s] = {"gap_A": [float(a.info["gap_A"]) for a in scan],
                  "E_b_eV": [float(a.get_potential_energy() - bodies) for a in scan],
                  "E_b_d3_eV": [float(a.info.get("energy_d3", np.nan)) - bodies_d3 for a in scan],
                  "frames": [int(a.info["frame"]) for a in scan], "_scan": scan,
                  "_bodies": tuple(chosen), "bodies_mismatch_A": mismatch}
    return out


def binding_of(curve: dict, energy) -> list[float]:
    """E_b along CURVE's scan from ENERGY(atoms) -> eV (a potential's or a model's energy of a frame)."""
    p, s = curve["_bodies"]
    bodies = energy(p) + energy(s)
    return [float(energy(a) - bodies) for a in curve["_scan"]]


def contact_area_A2(curve: dict) -> float:
    """A of the particle (its bottom layer's dilated hull, beamheat.geometry, as for k), Å²."""
    from beamheat.geometry import particle_geometry

    return particle_geometry(curve["_bodies"][0].positions, "Au")["A_nm2"] * 100.0
