#!/usr/bin/env bash
# DFT labels of Au on hBN (dft/au_hbn/README.md): GPAW on the candidates into a database, then the finished labels
# exported beside it. Resumable: run it again to go on where it stopped.
#
#   SETTINGS=pw500 bash dft/au_hbn/label.sh  # the paper's PW 500 eV + D3(BJ) (pw500.yaml): the labels the DFT loop
#                                            # starts from, candidates_pw500.extxyz -> labels_pw500.db
#   bash dft/au_hbn/label.sh                 # LCAO dzp + D3(BJ) (lcao.yaml): candidates.extxyz -> labels.db, for
#                                            # the comparison of the modes (LCAO overbinds the interface: README)
#   SETTINGS=pw500 PART=heldout bash ...     # the frames kept for validation only (each scan's second lateral
#                                            # position): candidates_pw500_heldout.extxyz -> labels_pw500_heldout.db
#   NP=2 bash dft/au_hbn/label.sh            # under mpirun -np 2 (dft.label splits the ranks)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
settings="${SETTINGS:-lcao}"
if [ "$settings" = lcao ]; then
  cands=dft/au_hbn/candidates.extxyz; db=dft/au_hbn/labels.db; out=dft/au_hbn/labels.extxyz
else
  part="${settings}${PART:+_$PART}"
  cands="dft/au_hbn/candidates_${part}.extxyz"; db="dft/au_hbn/labels_${part}.db"
  out="dft/au_hbn/labels_${part}.extxyz"
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
launch=(); if [ "${NP:-1}" -gt 1 ]; then launch=(mpirun -np "$NP"); fi
"${launch[@]}" python -m dft.label "$cands" --db "$db" --settings "dft/au_hbn/${settings}.yaml" \
  --log-dir "runs/dft_au_hbn/${settings}" "$@"
python -m dft.label --db "$db" --export "$out" --force
