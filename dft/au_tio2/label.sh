#!/usr/bin/env bash
# DFT labels of Au on TiO2 (dft/au_tio2/README.md): GPAW PBE + D3(BJ), PW 500 eV, Γ (pw500.yaml) on the candidates
# into labels_pw500.db, then the finished labels exported beside it. Resumable: run it again to go on where it
# stopped. The fit of the classical reference's Au-O and Au-Ti pairs reads the export:
#   python -m models.fit_interface dft/au_tio2/labels_pw500.extxyz --out runs/fit_au_tio2
#
#   bash dft/au_tio2/label.sh            # one rank
#   NP=2 bash dft/au_tio2/label.sh       # under mpirun -np 2 (dft.label splits the ranks)
#   bash dft/au_tio2/label.sh --timeout-s 7200   # extra options go to dft.label
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
cands=dft/au_tio2/candidates.extxyz; db=dft/au_tio2/labels_pw500.db; out=dft/au_tio2/labels_pw500.extxyz
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
launch=(); if [ "${NP:-1}" -gt 1 ]; then launch=(mpirun -np "$NP"); fi
"${launch[@]}" python -m dft.label "$cands" --db "$db" --settings dft/au_tio2/pw500.yaml \
  --log-dir runs/dft_au_tio2/pw500 "$@"
python -m dft.label --db "$db" --export "$out" --force
