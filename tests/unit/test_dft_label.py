"""dft.label refuses a settings file with an unknown setting, in one line, before any calculation."""

from __future__ import annotations

from ase.io import write

from helpers import dft_label, h2_molecule


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
