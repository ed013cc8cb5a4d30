"""dft.label with real GPAW on two MPI ranks: one calculation on both ranks, or one calculation per rank."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.db import connect
from ase.io import write

from helpers import dft_label, h2_molecule

pytest.importorskip("gpaw", reason="GPAW is installed by scripts/setup.sh unless BEAMHEAT_SKIP_GPAW=1")
FAST = ["--ecut-ev", "250"]


def test_two_ranks_give_the_serial_energies(tmp_path):
    write(tmp_path / "c.extxyz", [Atoms("Au2", positions=[[0, 0, 0], [2.5, 0, 0]]), h2_molecule(0.74)])
    serial = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "s.db", *FAST)
    both = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "p.db", *FAST, nprocs=2)  # one calculation on 2 ranks
    groups = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "g.db", "--ranks-per-calc", "1", *FAST, nprocs=2)
    for proc in (serial, both, groups):
        assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert "1 group(s) of 2 rank(s)" in both.stdout and "2 group(s) of 1 rank(s)" in groups.stdout
    ref = {r.uid: r for r in connect(tmp_path / "s.db").select()}
    for name in ("p.db", "g.db"):
        rows = list(connect(tmp_path / name).select())
        assert len(rows) == 2
        for r in rows:
            assert abs(r.energy - ref[r.uid].energy) < 1e-6
            np.testing.assert_allclose(r.forces, ref[r.uid].forces, atol=1e-5)


@pytest.mark.parametrize("ranks_per_calc", [2, 1])
def test_scf_checkpoints_on_two_ranks(tmp_path, ranks_per_calc):
    """Every SCF iteration's checkpoint (GPAW's collective .gpw write, renamed by the group's rank 0) on one
    calculation of two ranks, or two calculations of one: the serial energies, and no checkpoint left."""
    write(tmp_path / "c.extxyz", [Atoms("Au2", positions=[[0, 0, 0], [2.5, 0, 0]]), h2_molecule(0.74)])
    serial = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "s.db", *FAST)
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "p.db", "--ranks-per-calc", ranks_per_calc,
                     "--log-dir", tmp_path / "gpaw", "--checkpoint-every", "1", *FAST, nprocs=2)
    for p in (serial, proc):
        assert p.returncode == 0, p.stdout[-1500:] + p.stderr[-1500:]
    ref = {r.uid: r.energy for r in connect(tmp_path / "s.db").select()}
    rows = list(connect(tmp_path / "p.db").select())
    assert len(rows) == 2 and all(abs(r.energy - ref[r.uid]) < 1e-6 for r in rows)
    assert len(list((tmp_path / "gpaw").glob("*.txt"))) == 2 and not list((tmp_path / "gpaw").glob("*.gpw*"))


def test_an_idle_group_waits_asleep(tmp_path):
    """Two one-rank groups and one frame: the group without a frame waits for the other's row asleep
    (dft.database.wait_for_rows), not in MPI's collective, which would spin its core for the whole calculation.
    The two ranks together then use about the CPU time of the serial run."""
    import resource

    write(tmp_path / "c.extxyz", [Atoms("Au2", positions=[[0, 0, 0], [2.5, 0, 0]])])

    def cpu_s(*args, **kw):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = dft_label(tmp_path / "c.extxyz", *args, *FAST, **kw)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    serial = cpu_s("--db", tmp_path / "s.db")
    groups = cpu_s("--db", tmp_path / "g.db", "--ranks-per-calc", "1", nprocs=2)
    print(f"CPU time: serial {serial:.1f} s, two groups {groups:.1f} s")
    assert groups < 1.5 * serial, f"two groups used {groups:.1f} s of CPU for a {serial:.1f} s calculation"
