"""Shared command-line conventions: a user's mistake is one line on stderr and exit status 1, never a traceback.

    from beamheat.cli import UserError, run

    class DeployError(UserError): ...

    def main(argv=None) -> int: ...            # raises UserError subclasses for bad input
    if __name__ == "__main__":
        sys.exit(run(main))
"""

from __future__ import annotations

import sys
from typing import Callable, Sequence


class UserError(Exception):
    """Bad input or a failed external step, explained in one line (name the file and the problem)."""


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    try:
        return main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
