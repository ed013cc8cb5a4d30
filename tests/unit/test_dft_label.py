"""dft.label refuses a settings file with an unknown setting, in one line, before any calculation."""

from __future__ import annotations

from ase.io import write

from helpers import ROOT, dft_label, h2_molecule


def test_settings_file_errors(tmp_path):
    (tmp_path / "s.yaml").write_text("ecut: 400\n")
    write(tmp_path / "c.extxyz", [h2_molecule(0.74)])
    proc = dft_label(tmp_path / "c.extxyz", "--settings", tmp_path / "s.yaml")
    assert proc.returncode == 1 and "s.yaml: unknown setting(s) ecut; known: ecut_eV" in proc.stderr


def test_a_batch_in_which_every_configuration_failed_is_an_error(tmp_path):
    """Overlapping atoms are refused before GPAW starts; when nothing of the batch was done, the command fails in
    one line naming the database and the reason, and keeps the failures recorded for --retry-failed."""
    write(tmp_path / "c.extxyz", [h2_molecule(0.1), h2_molecule(0.2)])
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db")
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "l.db: all 2 configuration(s) of this run failed, e.g. overlapping atoms" in err[0]
    assert "summary: 0 done, 2 failed" in proc.stdout


def test_reuse_copies_a_finished_label_instead_of_computing_it(tmp_path):
    """--reuse: a configuration that another database finished with the same settings (same uid) is copied with its
    energy, forces and D3 share, and nothing is computed; another configuration is not taken from it."""
    import numpy as np
    from ase.db import connect

    from dft.database import write_row
    from dft.settings import DEFAULT_SETTINGS, config_id

    settings = dict(DEFAULT_SETTINGS, d3=True)
    done, other = h2_molecule(0.74), h2_molecule(0.1)  # the second overlaps: refused if it were computed
    forces = np.array([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]])
    result = {"energy": -6.5, "forces": forces, "stress": None, "converged": True, "wall_time_s": 60.0,
              "d3": {"energy": -0.01, "forces": 0.1 * forces}}
    src = connect(str(tmp_path / "old.db"), serial=True)
    write_row(src, done, config_id(done, settings), "done", settings, {"source": "old"}, result)
    write(tmp_path / "c.extxyz", [done])
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "new.db", "--d3", "--reuse", tmp_path / "old.db")
    assert proc.returncode == 0, proc.stderr
    assert "1 already finished (1 of them copied from --reuse), 0 to compute" in proc.stdout
    row = next(connect(str(tmp_path / "new.db")).select())
    assert row.energy == -6.5 and np.array_equal(row.forces, forces) and row.energy_d3 == -0.01
    assert np.array_equal(row.data["forces_d3"], 0.1 * forces) and row.source == "old"
    # a different configuration is computed (here: refused as overlapping), not copied
    write(tmp_path / "d.extxyz", [other])
    proc = dft_label(tmp_path / "d.extxyz", "--db", tmp_path / "new2.db", "--d3", "--reuse", tmp_path / "old.db")
    assert proc.returncode == 1 and "overlapping atoms" in proc.stderr


def test_reuse_errors(tmp_path):
    write(tmp_path / "c.extxyz", [h2_molecule(0.74)])
    (tmp_path / "x.db").write_text("not a database")
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--reuse", tmp_path / "x.db")
    assert proc.returncode == 1 and proc.stderr.strip() == f"error: {tmp_path / 'x.db'}: not an SQLite database (--reuse)"
    proc = dft_label(tmp_path / "c.extxyz", "--db", tmp_path / "l.db", "--reuse", tmp_path / "nope.db")
    assert proc.returncode == 1 and "nope.db: database not found (--reuse)" in proc.stderr


def test_stress_only_for_bulk_cells():
    """A fully periodic cell with an empty slab wider than 5 Å (a slab, a sheet or a molecule in vacuum) is not
    bulk: GPAW's stress is not computed for it. The widest gap is measured normal to the lattice planes, so a
    skewed cell counts its true spacing."""
    from ase.build import bulk, fcc111
    from ase.io import read

    from dft.calculation import BULK_MAX_GAP_A, widest_gap_A

    assert BULK_MAX_GAP_A == 5.0
    li = bulk("Li", "bcc", a=3.45)
    assert widest_gap_A(li) < 3.0                                  # one atom: the lattice-plane spacing
    au = bulk("Au", "fcc", a=4.08, cubic=True)
    assert abs(widest_gap_A(au) - 2.04) < 1e-9                     # (100) planes 2.04 Å apart
    slab = fcc111("Au", (2, 2, 3), a=4.08, vacuum=4.0, periodic=True)  # 8 Å of vacuum between images
    assert abs(widest_gap_A(slab) - 8.0) < 1e-6
    hbn = read(ROOT / "dft" / "au_hbn" / "loop_pw500" / "gen_002_candidates.extxyz", index="0")
    assert widest_gap_A(hbn) > BULK_MAX_GAP_A                      # Au/hBN frames: slabs
