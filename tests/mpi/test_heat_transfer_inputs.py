"""lammps_inputs/heat_transfer.in with the classical Au/hBN reference on two MPI ranks."""

from __future__ import annotations

from heat_transfer_checks import INPUTS, SHORT, check_heat_transfer_log
from helpers import run_lmp_file


def test_classical_reference_two_mpi_ranks(tmp_path):
    proc = run_lmp_file(INPUTS / "heat_transfer.in", tmp_path, SHORT, nprocs=2)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "2 MPI tasks" in (tmp_path / "log.lammps").read_text() or "by 1 MPI processor grid" in proc.stdout
    check_heat_transfer_log(tmp_path / "log.lammps")
