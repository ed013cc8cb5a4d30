#!/usr/bin/env bash
# DFT labels of Au on hBN (dft/au_hbn/README.md): GPAW on dft/au_hbn/candidates.extxyz into dft/au_hbn/labels.db,
# then the finished labels exported to dft/au_hbn/labels.extxyz. Resumable: run it again to go on where it stopped.
#
#   bash dft/au_hbn/label.sh                 # LCAO dzp + D3(BJ) (lcao.yaml), all candidates
#   SETTINGS=pw500 bash dft/au_hbn/label.sh  # the paper's PW 500 eV + D3(BJ) (pw500.yaml) into labels_pw500.db
#   mpirun -np 2 ... also works (dft.label splits the ranks): NP=2 bash dft/au_hbn/label.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
settings="${SETTINGS:-lcao}"
db=dft/au_hbn/labels.db; out=dft/au_hbn/labels.extxyz
if [ "$settings" != lcao ]; then db="dft/au_hbn/labels_${settings}.db"; out="dft/au_hbn/labels_${settings}.extxyz"; fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
launch=(); if [ "${NP:-1}" -gt 1 ]; then launch=(mpirun -np "$NP"); fi
"${launch[@]}" python -m dft.label dft/au_hbn/candidates.extxyz --db "$db" --settings "dft/au_hbn/${settings}.yaml" \
  --log-dir "runs/dft_au_hbn/${settings}" "$@"
python -m dft.label --db "$db" --export "$out" --force
