"""Figures the way every beamheat tool writes them: headless (Agg), PNG for looking, PDF for papers."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (tools run on clusters without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, prefix: str | Path, dpi: int = 150) -> list[str]:
    """Write PREFIX.png and PREFIX.pdf, close the figure, return the paths."""
    plt = pyplot()
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)  # --plot newdir/name: the folder is made here, once
    fig.tight_layout()
    paths = []
    for ext in (".png", ".pdf"):
        path = prefix.with_name(prefix.name + ext)
        fig.savefig(path, dpi=dpi)
        paths.append(str(path))
    plt.close(fig)
    return paths
