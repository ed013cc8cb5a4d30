"""The pure pieces of bench.tio2_reference: displacements from ideal sites, the dump reader, coordination counts,
the closest Au-O and Au-Ti distances in contact."""

from __future__ import annotations

import numpy as np
import pytest

from bench.tio2_reference import closest_au_distances, read_dump, scaled_rmsd, ti_o_coordination


def test_scaled_rmsd_removes_drift_and_takes_the_nearest_image():
    rng = np.random.default_rng(0)
    s0 = rng.random((50, 3))
    lengths = np.array([10.0, 12.0, 20.0])
    kick = rng.normal(scale=0.01, size=(50, 3))
    kick -= kick.mean(axis=0)
    s = (s0 + kick + [0.3, -0.2, 0.05]) % 1.0       # a uniform drift and wrapping: neither is a displacement
    r, dr = scaled_rmsd(s, s0, lengths)
    assert r == pytest.approx(np.sqrt(np.mean(np.sum((kick * lengths) ** 2, axis=1))), rel=1e-9)
    np.testing.assert_allclose(dr, kick * lengths, atol=1e-9)


def test_read_dump_reads_every_frame(tmp_path):
    frame = ("ITEM: TIMESTEP\n{t}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 10\n-1 11\n0 30\n"
             "ITEM: ATOMS id type xs ys zs\n1 2 0.1 0.2 0.3\n2 3 0.4 0.5 {z}\n")
    (tmp_path / "d.dump").write_text(frame.format(t=0, z=0.6) + frame.format(t=100, z=0.7))
    frames = read_dump(tmp_path / "d.dump")
    assert len(frames) == 2
    lengths, col = frames[1]
    np.testing.assert_allclose(lengths, [10, 12, 30])
    np.testing.assert_allclose(col["zs"], [0.3, 0.7]) and np.testing.assert_array_equal(col["type"], [2, 3])


def test_coordination_counts_unlike_neighbours_only():
    # a Ti with two O at 1.95 Å and one Ti at 2.0 Å; periodic in x, y over a large cell
    pos = np.array([[5, 5, 5], [6.95, 5, 5], [3.05, 5, 5], [5, 7, 5.0]])
    cn = ti_o_coordination(pos, ["Ti", "O", "O", "Ti"], np.diag([20.0, 20.0, 20.0]))
    assert cn == {"Ti0": 1, "Ti2": 1, "O1": 2}


def test_closest_au_distances_take_the_nearest_image_in_the_periodic_directions_only(tmp_path):
    # Au at x = 0.5 sees the O at x = 9.5 through the periodic x boundary (1 Å), not the Ti 9.5 Å below it in the
    # fixed z direction; the other Ti is 2.5 Å above
    (tmp_path / "c.dump").write_text(
        "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n4\nITEM: BOX BOUNDS pp pp ff\n0 10\n0 10\n0 10\n"
        "ITEM: ATOMS id type x y z\n1 1 0.5 5 9.8\n2 2 9.5 5 9.8\n3 3 0.5 5 0.3\n4 3 0.5 7.5 9.8\n")
    d = closest_au_distances(tmp_path / "c.dump")
    assert d == {"closest_Au_O_A": pytest.approx(1.0), "closest_Au_Ti_A": pytest.approx(2.5)}
