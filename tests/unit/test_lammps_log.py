"""beamheat.lammps_log: the one LAMMPS log reader every tool uses (moved here from test_fit_k.py)."""

from __future__ import annotations

import numpy as np
import pytest

from beamheat.lammps_log import LogError, read_thermo
from beamheat.markers import HALT_TEXT
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


def test_read_warnings_with_their_stage_plain_and_gzipped(tmp_path):
    import gzip

    from beamheat.lammps_log import LogError, read_warnings

    text = ("LAMMPS (22 Jul 2025)\nWARNING: before any stage (src/x.cpp:1)\nbeamheat: stage thermalise\n"
            "Step Temp\n0 1.0\nWARNING: pair nequip: halting at step 5: max sigma_F = 2 eV/A > halt_sigma 1.5\n"
            "beamheat: stage nve\nnot a WARNING-free line? no: this mentions WARNING too\n"
            "WARNING: pair nequip: halting at step 9: max |F| = 200 eV/A > halt_fmax 100\n")
    plain = tmp_path / "log.lammps"
    plain.write_text(text)
    gz = tmp_path / "log.lammps.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    for path in (plain, gz):
        halts = read_warnings(path, HALT_TEXT.encode())
        assert [stage for stage, _ in halts] == ["thermalise", "nve"]
        assert halts[0][1].startswith("WARNING: pair nequip: halting at step 5")
        assert len(read_warnings(path)) == 4 and read_warnings(path)[0][0] is None
        assert read_warnings(path, "halt_fmax")[0][1].endswith("halt_fmax 100")
    with pytest.raises(LogError, match="nope.lammps: file not found"):
        read_warnings(tmp_path / "nope.lammps")
