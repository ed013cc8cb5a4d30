"""dft.label refuses a settings file with an unknown setting, in one line, before any calculation."""

from __future__ import annotations

from ase.io import write

from helpers import dft_label, h2_molecule


def test_settings_file_errors(tmp_path):
    (tmp_path / "s.yaml").write_text("ecut: 400\n")
    write(tmp_path / "c.extxyz", [h2_molecule(0.74)])
    proc = dft_label(tmp_path / "c.extxyz", "--settings", tmp_path / "s.yaml")
    assert proc.returncode == 1 and "s.yaml: unknown setting(s) ecut; known: ecut_eV" in proc.stderr
