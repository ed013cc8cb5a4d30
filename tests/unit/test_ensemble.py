"""Ensembles (paper eq. 1-2) without a model: sigma_F from given forces, and models.select's picking rule."""

from __future__ import annotations

import numpy as np
import pytest

from models.ensemble import sigma_f
from models.select import SelectionRule, pick_indices


def test_sigma_f_is_eq2():
    F = np.array([[[1.0, 0, 0]], [[3.0, 0, 0]]])  # two models, one atom: mean 2, deviations +-1
    assert sigma_f(F) == pytest.approx([1.0])
    F = np.random.default_rng(0).normal(size=(5, 7, 3))
    expect = np.sqrt(np.mean(np.sum((F - F.mean(0)) ** 2, axis=2), axis=0))
    np.testing.assert_allclose(sigma_f(F), expect)


def test_select_logic_on_hand_made_series():
    s = np.array([0.01, 0.2, 0.25, 0.22, 0.03, 0.9, 0.4, 0.41, 0.02, 2.5])
    # window [0.1, 1.0): frames 1, 2, 3, 5, 6, 7
    assert pick_indices(s, SelectionRule(0.1, 1.0)) == [1, 2, 3, 5, 6, 7]
    # greedy by sigma with a minimum gap of 2 frames: 5 (0.9), then 7 (0.41; 6 is next to 5), then 2 (0.25; its
    # neighbours 1 and 3 are dropped)
    assert pick_indices(s, SelectionRule(0.1, 1.0, min_gap=2)) == [2, 5, 7]
    assert pick_indices(s, SelectionRule(0.1, 1.0, top_k=2)) == [5, 7]
    forced = np.zeros(len(s), bool)
    forced[-2:] = True  # the last two frames before a halt: kept although 2.5 is above the window
    assert pick_indices(s, SelectionRule(0.1, 1.0, top_k=3), forced=forced) == [5, 8, 9]
