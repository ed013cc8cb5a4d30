"""k of one Au particle on each support against the paper: a `scripts/supports.sh` output folder summarised.

    bash scripts/supports.sh 40 200 8                                   # BEAMHEAT_SUPPORTS_OUT=... to move it
    python -m bench.supports_k runs/supports [--results bench/results/supports_au45] [--force]

From each support's k.json (analysis.fit_k): the combined k with its 68 % interval, the runs that
went into it and those refused (lost contact, undetermined), the particle's heat capacity c_p (dE/dT of the
particle's energy against its temperature over each run's NVE, fit_k's own; mean and standard error over the
runs, against the classical 3 k_B per atom), k over the paper's k (its Table 3: hBN 3.7e-4, anatase (101) 5.1e-4,
rutile about 2x anatase, analysis.heating.REFERENCE_K), and for every pair of supports the difference of k in
units of its standard error, z = (k_a - k_b) / sqrt(err_a^2 + err_b^2): |z| >= 2 separates the two, and the
ordering is compared with the paper's only where it does. Writes RESULTS.json and RESULTS.md (not overwritten
without --force) and prints the table.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run

ROOT = Path(__file__).resolve().parents[1]
SEPARATED_Z = 2.0


def potential_of(logs: list[Path]) -> str | None:
    """The potential file heat_transfer.in names in its log ("beamheat: support ..., potential PATH")."""
    for log in logs:
        if log.is_file():
            m = re.search(r"^beamheat: support .*, potential (\S+)", log.read_text(errors="replace"), re.M)
            if m:
                return Path(m.group(1)).name
    return None


def support_record(folder: Path) -> dict:
    """One support's combined k and its runs' c_p and τ, from the k.json analysis.fit_k wrote."""
    from analysis.heating import REFERENCE_K
    from beamheat.units import K_B_EV_PER_K

    k_json = folder / "k.json"
    if not k_json.is_file():
        raise UserError(f"{k_json}: missing: not a scripts/supports.sh support folder (run analysis.fit_k there)")
    k = json.loads(k_json.read_text())
    cp = np.array([r["cp_eV_per_K"] for r in k["runs"] if r.get("cp_eV_per_K") is not None], float)
    support = k.get("support") or folder.name
    paper = REFERENCE_K.get(support)
    rec = {"support": support, "label": k.get("label"), "n_runs": k["n_runs"], "n_runs_combined": k["n_runs_combined"],
           "unreliable_runs": [{"run": Path((r.get("logs") or ["?"])[0]).parent.name,
                                "reasons": r.get("unreliable_reasons")}
                               for r in k["runs"] if not r.get("reliable", True)],
           "nve_ps": sorted({r["t_planned_ps"] for r in k["runs"]}),
           "potential": potential_of([Path(x) for r in k["runs"] for x in r.get("logs", [])]),
           "k_eV_per_nm2_ps_K": k["k_eV_per_nm2_ps_K"], "k_err_eV_per_nm2_ps_K": k["k_err_eV_per_nm2_ps_K"],
           "k_interval_eV_per_nm2_ps_K": k["k_interval_eV_per_nm2_ps_K"], "k_err_source": k.get("k_err_source"),
           "reliable": k["reliable"], "tau_ps": [r["tau_ps"] for r in k["runs"]],
           "cp_eV_per_K_per_atom": float(cp.mean()) if cp.size else None,
           "cp_sem_eV_per_K_per_atom": float(cp.std(ddof=1) / np.sqrt(cp.size)) if cp.size > 1 else None,
           "cp_3kB_eV_per_K_per_atom": 3 * K_B_EV_PER_K, "n_atoms_np": k.get("n_atoms_np"), "A_nm2": k.get("A_nm2"),
           "paper_k_eV_per_nm2_ps_K": paper}
    rec["k_over_paper"] = rec["k_eV_per_nm2_ps_K"] / paper if paper else None
    return rec


def comparisons(records: list[dict]) -> list[dict]:
    """Every pair of supports: the difference of k in standard errors, and the ordering against the paper's."""
    out = []
    for a, b in itertools.combinations(records, 2):
        diff = a["k_eV_per_nm2_ps_K"] - b["k_eV_per_nm2_ps_K"]
        z = diff / math.hypot(a["k_err_eV_per_nm2_ps_K"], b["k_err_eV_per_nm2_ps_K"])
        pa, pb = a["paper_k_eV_per_nm2_ps_K"], b["paper_k_eV_per_nm2_ps_K"]
        ours = f"{a['support']} {'>' if diff > 0 else '<'} {b['support']}"
        paper = None if not (pa and pb) else f"{a['support']} {'>' if pa > pb else '<'} {b['support']}"
        out.append({"a": a["support"], "b": b["support"], "k_ratio": a["k_eV_per_nm2_ps_K"] / b["k_eV_per_nm2_ps_K"],
                    "z": z, "separated": abs(z) >= SEPARATED_Z, "ordering": ours, "paper_ordering": paper,
                    "paper_ratio": pa / pb if pa and pb else None,
                    "agrees_with_paper": None if paper is None or abs(z) < SEPARATED_Z else ours == paper})
    return out


def markdown(res: dict) -> str:
    from bench.lib.records import g, pm

    m = res["machine"]
    lines = ["# k of Au45 on hBN, anatase (101) and rutile (101) against the paper", "",
             f"`{res['command']}` on {m.get('cpu', '?')} ({m['cpu_count']} cores, shared), reading the "
             f"`bash scripts/supports.sh` folder `{res['supports_out']}`: the classical references, Au45 (1 nm, "
             f"A = {res['supports'][0]['A_nm2']:.3f} nm²), 5 ps thermalisation in contact, then NVE ("
             + ", ".join(f"{r['support']} {'/'.join(f'{x:g}' for x in r['nve_ps'])} ps" for r in res["supports"])
             + "). "
             "MD is chaotic: another CPU gives other digits, within the stated errors.", "",
             "| support | potential | runs combined / runs | k (eV/(nm² ps K)) | 68 % interval | paper's k | k / paper | τ (ps), "
             "per run | c_p per Au atom (eV/K), all runs | c_p / 3k_B |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["supports"]:
        lo, hi = r["k_interval_eV_per_nm2_ps_K"]
        cp = "–" if r["cp_eV_per_K_per_atom"] is None else pm(r["cp_eV_per_K_per_atom"], r["cp_sem_eV_per_K_per_atom"] or 0, 3)
        cpr = "–" if r["cp_eV_per_K_per_atom"] is None else f"{r['cp_eV_per_K_per_atom'] / r['cp_3kB_eV_per_K_per_atom']:.2f}"
        lines.append(f"| {r['support']} | `{r['potential']}` | {r['n_runs_combined']} / {r['n_runs']} | "
                     f"{pm(r['k_eV_per_nm2_ps_K'], r['k_err_eV_per_nm2_ps_K'], 3)}"
                     f"{'' if r['reliable'] else ' (NOT reliable)'} | {g(lo, 3)} – {g(hi, 3)} | "
                     f"{g(r['paper_k_eV_per_nm2_ps_K'], 3)} | {r['k_over_paper']:.2f} | "
                     f"{', '.join(f'{t:.0f}' for t in r['tau_ps'])} | {cp} | {cpr} |")
    lines += ["", "Runs refused by fit_k:"]
    refused = [f"{r['support']} {u['run']}: {'; '.join(u['reasons'] or ['unreliable'])}"
               for r in res["supports"] for u in r["unreliable_runs"]]
    lines += [f"- {x}" for x in refused] or ["- none"]
    lines += ["", "## Pairs", "", f"z = (k_a − k_b) / √(err_a² + err_b²); |z| ≥ {SEPARATED_Z:g} separates them.", "",
              "| pair | k_a / k_b | z | separated | ordering here | paper's ordering (ratio) | agrees |",
              "|---|---|---|---|---|---|---|"]
    for c in res["pairs"]:
        agree = {None: "–", True: "yes", False: "**no**"}[c["agrees_with_paper"]]
        paper = "–" if c["paper_ordering"] is None else f"{c['paper_ordering']} ({c['paper_ratio']:.2f})"
        lines.append(f"| {c['a']} / {c['b']} | {c['k_ratio']:.2f} | {c['z']:+.1f} | "
                     f"{'yes' if c['separated'] else 'no'} | {c['ordering']} | {paper} | {agree} |")
    if res.get("figure"):
        lines += ["", "ΔT of the particle on each support (`analysis.heating compare`, in the supports.sh folder):", "",
                  f"![ΔT against dose rate at 300 keV and against beam energy]({res['figure']})"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from bench.lib.records import machine_info, repo_path, results_files, write_results
    from beamheat.io import atomic_write
    from beamheat import validate as v

    p = ArgumentParser(prog="python -m bench.supports_k", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("supports_out", help="a scripts/supports.sh output folder (one sub-folder per support)")
    p.add_argument("--results", default=str(ROOT / "bench" / "results" / "supports_au45"),
                   help="RESULTS.json and RESULTS.md are written (default bench/results/supports_au45)")
    p.add_argument("--force", action="store_true", help="overwrite existing results")
    a = p.parse_args(argv)
    folder = v.input_dir(a.supports_out, "SUPPORTS_OUT", "supports.sh output folder")
    res_json, res_md = results_files(a.results, a.force)
    subs = [folder / s for s in ("hbn", "anatase101", "rutile101") if (folder / s).is_dir()]
    if len(subs) < 2:
        raise UserError(f"{folder}: fewer than two support folders (hbn, anatase101, rutile101): not a "
                        "scripts/supports.sh output")
    records = [support_record(s) for s in subs]
    res = {"command": "python -m bench.supports_k " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine_info(), "supports_out": repo_path(folder),
           "supports": records, "pairs": comparisons(records)}
    figure = folder / "supports.png"                  # analysis.heating compare's ΔT figure (Fig. 3/4)
    if figure.is_file():
        res["figure"] = res_md.with_suffix(".png").name
        atomic_write(res_md.with_suffix(".png"), figure.read_bytes())
    print(write_results(res_json, res_md, res, markdown))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
