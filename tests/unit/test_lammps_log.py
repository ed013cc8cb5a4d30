"""beamheat.lammps_log: the one LAMMPS log reader every tool uses (moved here from test_fit_k.py)."""

from __future__ import annotations

import numpy as np
import pytest

from beamheat.lammps_log import LogError, read_thermo
from beamheat.markers import HALT_RE, HALT_TEXT
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


def test_thermo_rows_around_a_halt_are_read(tmp_path):
    """fix halt prints its message between thermo rows, and fix nequip/frames a warning, as LAMMPS 22 Jul 2025 does
    for a run halted on step 2; both the fast and the line-by-line path skip them."""
    text = ("Per MPI rank memory allocation (min/avg/max) = 3.1 | 3.1 | 3.1 Mbytes\n"
            "   Step          Temp          c_nq[3]\n"
            "         0   300            5.5\n"
            "         1   301            9.5\n"
            "Fix halt condition for fix-id nequip_halt_fmax met on step 2 with value 10.25\n"
            "         2   302            10.25\n"
            "WARNING: fix nequip/frames: the run stopped early at step 2: wrote 3 frame(s) to h.extxyz (x.cpp:1)\n"
            "Loop time of 0.5 on 1 procs for 2 steps with 32 atoms\n")
    for tail in ("", "         2   oops\n"):  # a row the fast path cannot parse sends the block the careful way
        (tmp_path / "log.lammps").write_text(text.replace("Loop time", tail + "Loop time") if tail else text)
        if tail:
            with pytest.raises(LogError, match="log.lammps:8: thermo row has 2 values but the header has 3"):
                read_thermo(tmp_path / "log.lammps")
            continue
        th = read_thermo(tmp_path / "log.lammps", ["Step", "c_nq[3]"])
        np.testing.assert_array_equal(th["Step"], [0, 1, 2])
        np.testing.assert_array_equal(th["c_nq[3]"], [5.5, 9.5, 10.25])
        assert any("skipped 2 WARNING or fix halt line(s)" in n for n in th.notes), th.notes


def test_read_warnings_and_messages_with_their_stage_plain_and_gzipped(tmp_path):
    import gzip

    from beamheat.lammps_log import LogError, read_messages, read_warnings

    text = ("LAMMPS (22 Jul 2025)\nWARNING: before any stage (src/x.cpp:1)\nbeamheat: stage thermalise\n"
            "Step Temp\n0 1.0\nFix halt condition for fix-id nequip_halt_sigma met on step 5 with value 2\n"
            "WARNING: pair nequip: model m returns no virial\n"
            "beamheat: stage nve\nnot a WARNING-free line? no: this mentions WARNING too\n"
            "# an echoed comment: Fix halt condition for fix-id ID met on step N with value V\n"
            "Fix halt condition for fix-id nequip_halt_fmax met on step 9 with value 200.5\n"
            "WARNING: halt_fmax 100\n")
    plain = tmp_path / "log.lammps"
    plain.write_text(text)
    gz = tmp_path / "log.lammps.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    for path in (plain, gz):
        halts = read_messages(path, HALT_TEXT)
        assert [stage for stage, _ in halts] == ["thermalise", "nve"]
        assert halts[0][1] == "Fix halt condition for fix-id nequip_halt_sigma met on step 5 with value 2"
        assert [HALT_RE.search(h).groups() for _, h in halts] == [("nequip_halt_sigma", "5", "2"),
                                                                  ("nequip_halt_fmax", "9", "200.5")]
        assert read_warnings(path, HALT_TEXT) == []
        assert len(read_warnings(path)) == 4 and read_warnings(path)[0][0] is None
        assert read_warnings(path, "halt_fmax")[0] == ("nve", "WARNING: halt_fmax 100")
    with pytest.raises(LogError, match="nope.lammps: file not found"):
        read_warnings(tmp_path / "nope.lammps")
    with pytest.raises(LogError, match="nope.lammps: file not found"):
        read_messages(tmp_path / "nope.lammps", HALT_TEXT)
