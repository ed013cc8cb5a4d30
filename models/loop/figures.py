"""A generation's figures in GEN/figures: the exploration's sigma_F histogram, dF against sigma_F on the new frames,
the learning curve and the accurate/halted fractions by generation."""

from __future__ import annotations

import json
from pathlib import Path

from models.loop.manifest import Generation
from models.loop.status import history


def figures(cfg, work: Path, gen: Generation, new) -> list[str]:
    """The figures of generation GEN; NEW: the previous ensemble evaluated on the new labels (models.metrics), or
    None. The paths written."""
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()
    figdir = gen.dir / "figures"
    paths = []
    lo, hi = cfg["select"]["lo"], cfg["select"]["hi"]
    if gen.g > 0:  # sigma_F histograms of this generation's exploration
        sig = []
        for name in gen.stage("explore")["outputs"]["runs"]:
            res = json.loads((gen.dir / "explore" / name / "result.json").read_text())
            if not res.get("scan"):
                sig += res["frame_max_sigma_f"]
        if sig:
            fig, ax = plt.subplots(figsize=(5.5, 4))
            ax.hist(sig, bins=40, color="C0")
            for v, lab in ((lo, "lo"), (hi, "hi")):
                ax.axvline(v, color="k", ls="--", lw=0.8)
                ax.text(v, ax.get_ylim()[1] * 0.95, f" {lab}", fontsize=8)
            ax.set_xlabel("max σF per frame (eV/Å)")
            ax.set_ylabel("exploration frames")
            ax.set_title(f"generation {gen.g}: exploration with the ensemble of generation {gen.g - 1}", fontsize=9)
            paths += save_figure(fig, figdir / "sigma_hist")
    if new is not None and new.get("_sigma_f") is not None and len(new["_sigma_f"]) > 2:
        s, d = new["_sigma_f"], new["_delta_f"]
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        h = ax.hist2d(s, d, bins=40, cmin=1, cmap="viridis")
        fig.colorbar(h[3], ax=ax, label="atoms")
        lim = float(max(s.max(), d.max()))
        ax.plot([0, lim], [0, lim], "k--", lw=0.8, label="δF = σF")
        rho = new["ensemble"]["spearman_sigma_delta"]
        ax.set_title(f"new frames of gen {gen.g}: Spearman ρ = {rho:.2f}" if rho is not None else "new frames",
                     fontsize=9)
        ax.set_xlabel("σF (eV/Å)")
        ax.set_ylabel("δF = |F̄ − F_ref| (eV/Å)")
        ax.legend(fontsize=8)
        paths += save_figure(fig, figdir / "error_vs_sigma")
    hist = history(work, gen.g)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    pts = [(h["n_train"], h["test_force_rmse"]) for h in hist if h["test_force_rmse"] is not None]
    if pts:
        ax.plot(*zip(*pts), "o-")
        for h in hist:
            if h["test_force_rmse"] is not None:
                ax.annotate(f"g{h['generation']}", (h["n_train"], h["test_force_rmse"]), fontsize=7)
    ax.set_xlabel("training frames")
    ax.set_ylabel("force RMSE on the fixed test split (eV/Å)")
    ax.set_title("learning curve", fontsize=9)
    paths += save_figure(fig, figdir / "learning_curve")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for key, lab in (("accurate_fraction", "accurate (max σF < lo)"), ("halted_fraction", "runs halted")):
        pts = [(h["generation"], h[key]) for h in hist if h[key] is not None]
        if pts:
            ax.plot(*zip(*pts), "o-", label=lab)
    ax.set_xlabel("generation")
    ax.set_ylabel("fraction")
    ax.set_ylim(-0.05, 1.05)
    if ax.get_lines():
        ax.legend(fontsize=8)
    paths += save_figure(fig, figdir / "fractions")
    return paths
