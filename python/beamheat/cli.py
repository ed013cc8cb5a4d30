"""Shared command-line conventions: a user's mistake is one line on stderr and a non-zero exit status, never a
traceback.

    from beamheat.cli import UserError, run

    class DeployError(UserError): ...

    def main(argv=None) -> int: ...            # raises UserError (BeamheatError) subclasses for bad input
    if __name__ == "__main__":
        sys.exit(run(main))

Every library error derives from `BeamheatError` (a ValueError); `UserError` is the same class under the name
the command lines use. `run` turns them into `error: <message>` (exit 1), Ctrl-C into `interrupted` (exit 130),
and anything unexpected into one line naming the exception (exit 2). `--debug` anywhere on the command line (or
BEAMHEAT_DEBUG=1) shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence


class BeamheatError(ValueError):
    """Bad input or a failed external step, explained in one line (name the file and the problem)."""

    exit_code = 1


UserError = BeamheatError


class UsageError(BeamheatError):
    """A command line argparse cannot parse (unknown option, missing argument, a number that is not one)."""

    exit_code = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: a usage mistake raises UsageError (exit 2, `error: PROG: what (see --help)`)
    instead of printing the usage block; subparsers inherit it. Every beamheat command line uses it."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the module docstring's layout in the epilog and adds "(default X)" to options whose help does not
    state their default already."""

    def _get_help_string(self, action):
        h = action.help or ""
        if "default" in h.lower() or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return h
        return h + " (default %(default)s)"


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("BEAMHEAT_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    try:
        return main(args)
    except BeamheatError as e:
        if debug:
            raise
        print(f"error: {str(e).splitlines()[0] if str(e) else e.__class__.__name__}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the boundary: one line, never a traceback unless asked
        if debug:
            raise
        text = str(e).splitlines()[0] if str(e) else ""
        print(f"error: unexpected {e.__class__.__name__}{': ' + text if text else ''} "
              f"(run with --debug for the traceback)", file=sys.stderr)
        return 2
