import sys

from beamheat.cli import run

from models.loop.cli import main

sys.exit(run(main))
