"""`python -m analysis.eels`: the command line."""

import sys

from analysis.eels import main
from beamheat.cli import run

sys.exit(run(main))
