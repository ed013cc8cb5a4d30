"""A short content hash of plain data, the same in every process and on every machine: the key under which a
step's inputs are remembered (trained members, loop stages, DFT settings).

    from beamheat.hashing import stable_hash
    stable_hash({"seed": 1, "members": 5})      # 16 hex digits of sha256 over the sorted-key JSON
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(obj: Any) -> str:
    """16 hex digits of the SHA-256 of OBJ as JSON with sorted keys; what JSON cannot hold (a Path, a numpy
    scalar) enters as its str(). Tuples hash as lists."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
