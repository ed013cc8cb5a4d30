"""The particle's binding energy on its support from labelled `models.candidates` frames.

For each system, the rigid scan of copy 0 and the two bodies alone in the same cell give
    E_b(gap) = E(particle on support at gap) - E(particle) - E(support)        (eV)
for the labels themselves or for any other energies of the same frames (a potential, an ensemble's members).
"""

from __future__ import annotations

import numpy as np


def binding_curves(frames, copy: int = 0) -> dict:
    """{system: {"gap_A": [...], "E_b_eV": [...], "E_b_d3_eV": [...], "frames": [scan frame indices],
    "_scan": [Atoms], "_bodies": (particle, support)}} for every system whose scan at lateral position COPY and both
    bodies are in FRAMES (frames carry the candidates' info: system, kind, copy, gap_A, frame)."""
    by_system: dict[str, dict] = {}
    for a in frames:
        s = a.info.get("system")
        if s is None:
            continue
        d = by_system.setdefault(s, {"scan": [], "particle": None, "support": None})
        kind = a.info.get("kind")
        if kind == "scan" and int(a.info.get("copy", -1)) == copy:
            d["scan"].append(a)
        elif kind in ("particle", "support"):
            d[kind] = a
    out = {}
    for s, d in by_system.items():
        if d["particle"] is None or d["support"] is None or not d["scan"]:
            continue
        scan = sorted(d["scan"], key=lambda a: float(a.info["gap_A"]))
        bodies = d["particle"].get_potential_energy() + d["support"].get_potential_energy()
        bodies_d3 = float(d["particle"].info.get("energy_d3", np.nan)) + float(d["support"].info.get("energy_d3",
                                                                                                      np.nan))
        out[s] = {"gap_A": [float(a.info["gap_A"]) for a in scan],
                  "E_b_eV": [float(a.get_potential_energy() - bodies) for a in scan],
                  "E_b_d3_eV": [float(a.info.get("energy_d3", np.nan)) - bodies_d3 for a in scan],
                  "frames": [int(a.info["frame"]) for a in scan], "_scan": scan,
                  "_bodies": (d["particle"], d["support"])}
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
