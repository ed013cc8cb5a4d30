"""beamheat.reliability: one rule for k, ΔT and their inputs (68 % interval above zero, spanning at most a factor 3),
which a quantity and its inverse pass or fail together."""

from __future__ import annotations

import math

import pytest

from beamheat.reliability import is_determined, undetermined_reason


@pytest.mark.parametrize("rel, determined", [(0.25, True), (0.49, True), (0.5, True), (0.51, False), (0.9, False)])
def test_k_and_the_dT_made_from_it_are_determined_together(rel, determined):
    k = 7.3e-5
    k_iv = (k * (1 - rel), k * (1 + rel))
    dT = 1.0 / k  # ΔT ∝ 1/k: its interval is the inverted one
    dT_iv = (1.0 / k_iv[1], 1.0 / k_iv[0])
    assert is_determined(k, interval=k_iv) is determined
    assert is_determined(dT, interval=dT_iv) is determined
    assert is_determined(3.0 * dT, interval=(3.0 * dT_iv[0], 3.0 * dT_iv[1])) is determined


def test_symmetric_error_is_no_wider_than_the_value():
    assert is_determined(10.0, err=5.0) and not is_determined(10.0, err=5.01)


def test_an_interval_reaching_zero_or_unbounded_is_undetermined():
    assert "reaches zero" in undetermined_reason("k", 1.0, interval=(-0.1, 1.5))
    assert not is_determined(1.0, interval=(0.5, None)) and not is_determined(1.0, interval=(0.5, math.inf))
    assert "not a positive number" in undetermined_reason("λ", -2.0, err=0.1, unit="nm")
    assert undetermined_reason("k", 1.0, interval=(0.7, 1.3)) is None


def test_the_reason_names_the_quantity_and_its_interval():
    why = undetermined_reason("k", 5e-5, interval=(1e-5, 7e-5))
    assert why.startswith("k = 5e-05") and "1e-05 – 7e-05" in why and "wider than k" in why


def test_no_uncertainty_at_all_counts_as_determined():
    assert is_determined(2.0) and undetermined_reason("t", 2.0) is None
