"""The `beamheat` command: one front door to every tool, beside the `python -m ...` forms.

    beamheat build --out runs/au_hbn            = python -m beamheat.build --out runs/au_hbn
    beamheat fit-k log.lammps --json k.json      = python -m analysis.fit_k log.lammps --json k.json
    beamheat heating predict ...                 = python -m analysis.heating predict ...

Each subcommand runs the same `main` as its module, with the same options, errors and exit status.
"""

from __future__ import annotations

import importlib
import sys

from .cli import run

COMMANDS = {  # subcommand: (module, one line)
    "build": ("beamheat.build", "build a particle on a support (LAMMPS data, extxyz, geometry.json)"),
    "geometry": ("beamheat.geometry", "V, S, A, t and S/A of the particle in a structure or trajectory frame"),
    "fit-k": ("analysis.fit_k", "interfacial conductance k from heat_transfer.in / steady_state.in logs"),
    "eels": ("analysis.eels", "t/lambda, lambda and <E> from low-loss EELS (analyse FILE | lambda)"),
    "heating": ("analysis.heating", "beam-induced dT (predict), Fig. 3/4 curves, knock-on limit"),
    "report": ("analysis.report", "the main job's report: k, sigma_F, dT under the beam (markdown, JSON, figures)"),
    "train": ("models.train", "train a NequIP model or an ensemble"),
    "deploy": ("models.deploy", "compile a checkpoint (or an ensemble) for pair_style nequip"),
    "rerun": ("models.rerun", "ensemble sigma_F along a trajectory"),
    "select": ("models.select", "frames for DFT from ensemble disagreement"),
    "label": ("dft.label", "label configurations with GPAW DFT"),
    "explore": ("models.explore", "LAMMPS exploration runs with an ensemble (the loop's explore stage alone)"),
    "loop": ("models.loop", "the active-learning loop"),
    "bundle": ("models.bundle", "a loop generation as a ready ensemble folder"),
    "accelerate": ("models.accelerate", "compile a bundled ensemble for this machine (AOTInductor, 1.7x faster on the main job)"),
    "demo-data": ("models.demo_data", "demo training frames (EMT or the classical Au/hBN reference)"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: beamheat COMMAND [options]   (beamheat COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {text} (python -m {mod})" for name, (mod, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    from .cli import UsageError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from . import __version__

        print(f"beamheat {__version__}")
        return 0
    name = argv[0].replace("_", "-")
    if name not in COMMANDS:
        raise UsageError(f"beamheat: unknown command {argv[0]!r}; choose one of {', '.join(COMMANDS)} "
                         f"(see beamheat --help)")
    module = importlib.import_module(COMMANDS[name][0])
    sys.argv[0] = f"beamheat {name}"
    return module.main(argv[1:])


def entry() -> None:
    """Console-script entry point (pyproject [project.scripts])."""
    sys.exit(run(main))


if __name__ == "__main__":
    entry()
