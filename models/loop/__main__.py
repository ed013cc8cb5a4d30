import sys

from beamheat.cli import run

from models.loop import main

sys.exit(run(main))
