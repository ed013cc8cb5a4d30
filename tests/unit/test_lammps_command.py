"""beamheat.lammps_command.lmp_command: the one `mpirun -np N lmp -in ... -var ...` command line."""

import sys
from pathlib import Path

from beamheat.lammps_command import lmp_command, tool


def test_lmp_command_builds_mpirun_lmp_in_var():
    argv = lmp_command(Path("lammps_inputs/heat_transfer.in"), {"potential": ["nequip", "a.pth", "b.pth"],
                                                                 "t_nve_ps": 0.1 + 0.2, "seed": 3},
                       nprocs=2, log="log.lammps", screen="none")
    assert argv == [tool("mpirun"), "-np", "2", tool("lmp"), "-in", "lammps_inputs/heat_transfer.in",
                    "-log", "log.lammps", "-screen", "none", "-var", "potential", "nequip", "a.pth", "b.pth",
                    "-var", "t_nve_ps", "0.30000000000000004", "-var", "seed", "3"]
    assert lmp_command("in.t", mpirun=False) == [tool("lmp"), "-in", "in.t"]


def test_tools_are_the_environments_own():
    venv_bin = Path(sys.executable).parent
    for name in ("mpirun", "lmp"):
        assert tool(name) == (str(venv_bin / name) if (venv_bin / name).exists() else name)
    assert tool("no-such-tool-here") == "no-such-tool-here"
