"""beamheat.hashing.stable_hash: the key under which trained members and loop stages are remembered must not
change between processes, key orders or releases (a changed key retrains finished members)."""

from pathlib import Path

from beamheat.hashing import stable_hash


def test_stable_hash_is_pinned_and_ignores_key_order():
    a = {"seed": 1, "members": 5, "files": [Path("a/b.extxyz")]}
    b = {"members": 5, "seed": 1, "files": ["a/b.extxyz"]}  # a Path enters as its str()
    assert stable_hash(a) == stable_hash(b) == "40ec2e51c5a254d1"
    assert stable_hash((1, "x")) == stable_hash([1, "x"]) == "23b788ec0cd22cc9"
    assert stable_hash({"seed": 2, "members": 5}) != stable_hash({"seed": 1, "members": 5})
