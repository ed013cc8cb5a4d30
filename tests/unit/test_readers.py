"""beamheat.readers: the one reader of the tools' JSON results (numbers, intervals, objects)."""

import math

import pytest

from beamheat.cli import UserError
from beamheat.readers import as_interval, interval, intervals, json_object, number, numbers


def test_number_reads_ints_and_floats_and_names_file_and_key():
    d = {"a": 2, "b": 1.5, "c": None, "t": True, "s": "1e-4"}
    assert number(d, "a", "k.json") == 2.0 and isinstance(number(d, "a", "k.json"), float)
    assert number(d, "b", "k.json") == 1.5
    assert number(d, "c", "k.json", required=False) is None and number(d, "x", "k.json", required=False) is None
    with pytest.raises(UserError, match=r"^k.json: missing 'c'$"):
        number(d, "c", "k.json")
    for key in ("t", "s"):  # a boolean or a numeric string is not a number
        with pytest.raises(UserError, match=rf"^k.json: '{key}' must be a number, got "):
            number(d, key, "k.json", required=False)


def test_interval_has_one_meaning_of_null():
    assert as_interval([1, 2]) == [1.0, 2.0]
    assert as_interval([1, None]) == [1.0, math.inf]  # unbounded above
    assert as_interval(None) is None and as_interval([None, None]) is None  # no interval
    d = {"iv": [0.5, None], "bad": [None, 2.0], "short": [1.0], "text": ["a", "b"]}
    assert interval(d, "iv", "h.json") == [0.5, math.inf] and interval(d, "missing", "h.json") is None
    for key in ("bad", "short", "text"):
        with pytest.raises(UserError, match=rf"^h.json: '{key}' must be \[low, high\]"):
            interval(d, key, "h.json")


def test_lists_of_intervals_and_numbers():
    d = {"dT": [1.0, 2.0], "iv": [[0.5, 1.5], [1.0, None]], "short": [[0.5, 1.5]], "mixed": [1.0, True]}
    assert numbers(d, "dT", "h.json") == [1.0, 2.0]
    assert intervals(d, "iv", "h.json", 2) == [[0.5, 1.5], [1.0, math.inf]]
    assert intervals(d, "missing", "h.json", 2) == [None, None]
    with pytest.raises(UserError, match=r"^h.json: 'short' must be a list of 2 intervals"):
        intervals(d, "short", "h.json", 2)
    with pytest.raises(UserError, match=r"^h.json: 'mixed' must be a non-empty list of numbers"):
        numbers(d, "mixed", "h.json")


def test_json_object_refuses_what_is_not_an_object(tmp_path):
    p = tmp_path / "k.json"
    p.write_text("[1, 2]\n")
    with pytest.raises(UserError, match=r"k.json: not a fit_k result \(expected a JSON object\)$"):
        json_object(p, "fit_k result")
    p.write_text('{"k": 1}')
    assert json_object(p, "fit_k result") == {"k": 1}
    with pytest.raises(UserError, match=r"nope.json: fit_k result file not found"):
        json_object(tmp_path / "nope.json", "fit_k result")
