"""beamheat.lammps_log: the one LAMMPS log reader every tool uses (moved here from test_fit_k.py)."""

from __future__ import annotations

import numpy as np
import pytest

from beamheat.lammps_log import LogError, read_thermo
from synthetic_logs import Cooling, write_log


def test_reader_rejects_multiline_thermo(tmp_path):
    (tmp_path / "log.lammps").write_text("Per MPI rank memory allocation (min/avg/max) = 1 | 1 | 1 Mbytes\n"
                                         "------------ Step              0 ----- CPU =            0 (sec) -------\n")
    with pytest.raises(LogError, match="log.lammps:2: expected a one-line thermo header"):
        read_thermo(tmp_path / "log.lammps")


def test_reader_is_independent_of_chunk_boundaries(tmp_path, monkeypatch):
    """Blocks, headers, warnings and the truncated line straddle chunk edges when chunks are 997 bytes."""
    import beamheat.lammps_log as ll

    m = Cooling(seed=9)
    write_log(tmp_path / "log.lammps", m, warn_every=37, truncate_last=True)
    cols = ["Step", "Time", "v_T_np", "v_E_support"]
    whole = read_thermo(tmp_path / "log.lammps", cols)
    monkeypatch.setattr(ll, "_CHUNK", 997)
    chunked = read_thermo(tmp_path / "log.lammps", cols)
    for c in cols:
        np.testing.assert_array_equal(whole[c], chunked[c])
    np.testing.assert_array_equal(whole.block, chunked.block)
    assert sorted(whole.notes) == sorted(chunked.notes)
