"""pair_style nequip on several MPI ranks needs a TorchScript model: a legacy file is refused in one line."""

from __future__ import annotations

from helpers import error_line, header, run_lmp


def test_more_than_one_mpi_rank_needs_torchscript(au_bulk, model_legacy):
    """Several ranks differentiate the model's energy module (tests/mpi/test_pair_nequip_mpi.py); a legacy (or AOTI)
    file has none to offer and is refused in one line."""
    err = error_line(run_lmp(header() + f"pair_style nequip\npair_coeff * * {model_legacy} Au\nrun 0\n", au_bulk,
                             nprocs=2))
    assert "2 MPI ranks need a TorchScript model" in err and "mpirun -np 1" in err
