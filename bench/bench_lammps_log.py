"""Benchmark: beamheat.lammps_log.read_thermo throughput and memory on a large heat-transfer log.

    python -m bench.bench_lammps_log [--size-mb 1024] [--repeats 3] [--keep 3] [--json OUT.json]

Writes a LAMMPS-style log of SIZE MB (one thermalisation block, one long NVE block with 10 columns, a WARNING
line every ~50 MB), then reads KEEP columns from it REPEATS times, each in a fresh process so peak RSS is that
read's alone. Reports the median throughput (MB/s) and peak RSS against the size of the kept columns.
Goal: >= 100 MB/s with memory bounded by the columns kept.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COLUMNS = ["Step", "Time", "v_T_np", "v_T_support", "v_dT", "v_E_np", "v_E_support", "PotEng", "KinEng", "Press"]

CHILD = """
import resource, sys, time
from beamheat.lammps_log import read_thermo
t0 = time.perf_counter()
th = read_thermo(sys.argv[1], sys.argv[2].split(","))
dt = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(dt, rss, len(th), sum(v.nbytes for v in th.columns.values()) + th.block.nbytes)
"""


def write_log(path: Path, size_mb: float) -> int:
    rng = np.random.default_rng(0)
    n_rows = 100_000
    block = rng.normal(size=(n_rows, len(COLUMNS))) * 100
    block[:, 0] = np.arange(n_rows) * 10
    buf = io.BytesIO()
    np.savetxt(buf, block, fmt="%14.8g")
    chunk = buf.getvalue()
    header = ("   " + "   ".join(COLUMNS) + "\n").encode()
    with open(path, "wb") as f:
        f.write(b"LAMMPS (22 Jul 2025 - Update 4)\n")
        f.write(b"Per MPI rank memory allocation (min/avg/max) = 4 | 4 | 4 Mbytes\n   Step Time Temp\n")
        f.write(b"  0 0 600\n  10 0.02 598\nLoop time of 1 on 1 procs for 10 steps with 100 atoms\n")
        f.write(b"Per MPI rank memory allocation (min/avg/max) = 4 | 4 | 4 Mbytes\n" + header)
        written = 0
        target = size_mb * 1e6
        k = 0
        while written < target:
            f.write(chunk)
            written += len(chunk)
            k += 1
            if k % 5 == 0:
                f.write(b"WARNING: Too many neighbors in a bin (src/src/npair_bin.cpp:123)\n")
        f.write(b"Loop time of 100 on 1 procs for 1000000 steps with 100 atoms\n")
    return path.stat().st_size


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_lammps_log", description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=float, default=1024, help="log size, MB (default 1024)")
    p.add_argument("--repeats", type=int, default=3, help="timed reads (default 3)")
    p.add_argument("--keep", type=int, default=3, help="columns to keep (default 3: Time, v_T_np, v_T_support)")
    p.add_argument("--json", help="write results here")
    a = p.parse_args(argv)
    keep = ["Time", "v_T_np", "v_T_support", "v_E_np", "v_E_support", "PotEng", "KinEng", "Press"][: a.keep]
    with tempfile.TemporaryDirectory(prefix="bench_log_") as d:
        path = Path(d) / "log.lammps"
        t0 = time.perf_counter()
        size = write_log(path, a.size_mb)
        print(f"wrote {size / 1e6:.0f} MB log in {time.perf_counter() - t0:.1f} s; reading {len(keep)} columns "
              f"{a.repeats} times", flush=True)
        runs = []
        for i in range(a.repeats):
            out = subprocess.run([sys.executable, "-c", CHILD, str(path), ",".join(keep)], capture_output=True,
                                 text=True, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            dt, rss, n_rows, kept_bytes = (float(x) for x in out.stdout.split())
            runs.append({"seconds": dt, "MB_per_s": size / 1e6 / dt, "peak_rss_MB": rss / 1e6})
            print(f"read {i + 1}: {dt:.2f} s, {size / 1e6 / dt:.0f} MB/s, peak RSS {rss / 1e6:.0f} MB, "
                  f"{int(n_rows)} rows, kept arrays {kept_bytes / 1e6:.0f} MB", flush=True)
    result = {
        "size_MB": size / 1e6, "columns_kept": keep, "rows": int(n_rows), "kept_arrays_MB": kept_bytes / 1e6,
        "median_MB_per_s": statistics.median(r["MB_per_s"] for r in runs),
        "median_peak_rss_MB": statistics.median(r["peak_rss_MB"] for r in runs), "runs": runs,
    }
    print(f"median {result['median_MB_per_s']:.0f} MB/s (goal >= 100), peak RSS {result['median_peak_rss_MB']:.0f} MB"
          f" for {result['kept_arrays_MB']:.0f} MB of kept columns from a {size / 1e6:.0f} MB log")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
