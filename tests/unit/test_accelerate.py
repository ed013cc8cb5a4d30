"""models.accelerate refuses a folder that is not a complete bundle, and bad options, in one line."""

from __future__ import annotations

import models.accelerate as acc
from beamheat.cli import run


def test_bad_bundles_get_one_line(tmp_path, capsys):
    def error(*args):
        assert run(acc.main, [str(a) for a in args]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        return err

    assert "nope: no such bundle folder" in error(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    assert "file: a file, not a bundle folder" in error(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    assert "no member_K.nequip.pth" in error(tmp_path / "empty", "--check")
    b = tmp_path / "b"
    b.mkdir()
    (b / "member_0.nequip.pth").write_bytes(b"x")
    assert "member_0.nequip.zip: missing" in error(b)
    (b / "member_0.nequip.zip").write_bytes(b"x")
    assert "labels.extxyz.gz: missing" in error(b)
    assert "--jobs 0: must be at least 1" in error(b, "--jobs", "0")
    assert "--device gpu" in error(b, "--device", "gpu")
