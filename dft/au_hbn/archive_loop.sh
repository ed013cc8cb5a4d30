#!/usr/bin/env bash
# The DFT loop's labels, kept in the repository: its run folder (runs/loop_au_hbn_dft) is scratch, lost with the
# machine, and each of its frames took 10-80 minutes of GPAW.
#
#   bash dft/au_hbn/archive_loop.sh G N [--force]  # the run folder's generation G -> dft/au_hbn/loop_pw500/
#                                         # gen_NNN.db and .extxyz (its finished labels) and gen_NNN_candidates.extxyz
#                                         # (what it selected); then commit them
#
# BEAMHEAT_LOOP_OUT and BEAMHEAT_LOOP_ARCHIVE replace the run folder and the archive folder.
# Safe while the loop runs: the database is copied with SQLite's online backup. Run it again as the generation
# grows; an archive holding a label the run folder lacks (another run's generation N) is replaced only with --force.
# N counts the project's generations: gen_NNN was selected by an ensemble trained on labels_pw500 and every gen_00K
# with K < N, which is what generation 0 of a new run folder holds (initial.data in
# models/configs/loop_au_hbn_dft.yaml); its labeller.reuse lists the archived databases, so that a frame labelled
# before is copied, not computed again.
set -euo pipefail
cd "$(dirname "$0")/../.."
force=0
if [ "${3:-}" = --force ]; then force=1; set -- "$1" "$2"; fi
if [ $# -ne 2 ]; then sed -n 2,15p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
for x in "$1" "$2"; do
  if ! [[ "$x" =~ ^[0-9]+$ ]] || [ "$((10#$x))" -lt 1 ]; then
    echo "archive_loop: generation $x: must be a whole number >= 1" >&2; exit 1
  fi
done
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
run="${BEAMHEAT_LOOP_OUT:-runs/loop_au_hbn_dft}/$(printf 'gen_%03d' "$((10#$1))")"
arch="${BEAMHEAT_LOOP_ARCHIVE:-dft/au_hbn/loop_pw500}/$(printf 'gen_%03d' "$((10#$2))")"
if [ ! -f "$run/labels.db" ]; then echo "archive_loop: $run/labels.db: not found (has the label stage started?)" >&2; exit 1; fi
mkdir -p "$(dirname "$arch")"
done="$(python - "$run/labels.db" "$arch.db" "$force" <<'PY'
import os, sqlite3, sys
src, dst, force = sys.argv[1:]
def uids(path):  # dft.label's rows: the uid is a key-value pair
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
        return {r[0] for r in c.execute("select value from text_key_values where key = 'uid'")}
if os.path.isfile(dst) and force == "0":
    lost = uids(dst) - uids(src)
    if lost:
        sys.exit(f"archive_loop: {dst}: holds {len(lost)} label(s) that {src} lacks (another run's generation?); "
                 f"refusing to replace it (--force replaces)")
tmp = dst + ".part"
with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as a, sqlite3.connect(tmp) as b:
    a.backup(b)
os.replace(tmp, dst)
with sqlite3.connect(f"file:{dst}?mode=ro", uri=True) as c:  # the finished labels archived
    print(c.execute("select count(*) from text_key_values where key = 'status' and value = 'done'").fetchone()[0])
PY
)"
if [ -f "$run/candidates.extxyz" ]; then
  cp "$run/candidates.extxyz" "$arch.candidates.part" && mv "$arch.candidates.part" "${arch}_candidates.extxyz"
fi
if [ "$done" -eq 0 ]; then  # a generation that has just started labelling: its candidates, for a fresh checkout
  echo "archive_loop: $run -> $arch.db (no finished label yet), ${arch}_candidates.extxyz"; exit 0
fi
python -m dft.label --db "$arch.db" --export "$arch.extxyz" --force
echo "archive_loop: $run -> $arch.db, $arch.extxyz ($done labels)"
