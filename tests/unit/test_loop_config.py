"""models.loop.config: the loop YAML schema, its validation errors (one line, naming the file and the key), and the
reference page docs/loop-config.md written from it. No LAMMPS, no training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from models.loop.config import (
    SCAN_GAPS_A,
    LoopConfig,
    LoopError,
    defaults,
    load_config,
    markdown,
    train_for_generation,
)

ROOT = Path(__file__).resolve().parents[2]
GOOD = "type_names: [Au, B, N]\n"


def _load(tmp_path, text: str, name: str = "loop.yaml") -> dict:
    path = tmp_path / name
    path.write_text(text)
    return load_config(path)


def test_docs_page_is_written_from_the_schema():
    page = (ROOT / "docs" / "loop-config.md").read_text()
    assert page == markdown(), "docs/loop-config.md is stale: python -m models.loop.config --markdown > it"
    for key in ("`select.lo`", "`explore.halt_sigma`", "`train.by_generation`", "`gaps_A`", "`stop.generations`"):
        assert key in page
    assert "| `explore.dt_ps` | `float` | `0.002` | ps |" in page


def test_markdown_command_prints_the_page():
    p = subprocess.run([sys.executable, "-m", "models.loop.config", "--markdown"], cwd=ROOT, capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0 and p.stdout == markdown() and p.stderr == "", p.stderr


def test_defaults_are_those_the_recorded_stage_hashes_were_made_with():
    """Stage input hashes include the merged sections: a changed default would make finished run folders refuse to
    resume without --force."""
    assert defaults(LoopConfig) == {
        "out": "runs/loop",
        "type_names": None,
        "initial": {"data": None, "n_frames": 30, "seed": 0, "support": None, "element": None, "rattle_A": 0.12,
                    "rattle_support_A": 0.03,
                    "kinds": ["bulk", "surface", "particle", "support", "particle_on_support"], "hold_out": []},
        "systems": [],
        "protocols": [{"name": "anneal", "kind": "anneal", "T_K": [600], "steps": 1000}],
        "explore": {"dump_every": 20, "halt_fmax": 100.0, "halt_sigma": None, "halt_frames": 3, "seed": 1,
                    "dt_ps": 0.002, "damp_ps": 0.2, "timeout_s": 3600, "ranks_per_run": 1},
        "select": {"lo": 0.05, "hi": 0.5, "budget": 20, "top_k": None, "last_n": 3, "min_gap": 1},
        "labeller": {"kind": "emt", "potential": None, "type_names": None, "settings": {}, "ranks_per_calc": None,
                     "reuse": []},
        "train": {"config": "models/configs/tiny.yaml", "ensemble": 3, "overrides": [], "seed": 1,
                  "test_fraction": 0.2, "val_fraction": 0.15, "finetune": False, "baseline": None,
                  "energy_shifts": "config"},
        "stop": {"generations": 3, "accurate_fraction": None},
    }
    a, b = defaults(LoopConfig), defaults(LoopConfig)
    a["initial"]["kinds"].append("x")
    assert "x" not in b["initial"]["kinds"]          # each call its own lists


def test_a_minimal_yaml_gets_every_default(tmp_path):
    cfg = _load(tmp_path, GOOD + "select: {hi: 0.8}\nprotocols: [{name: s, kind: scan}]\n")
    assert cfg["explore"]["halt_sigma"] == 0.8                # default: select.hi
    assert cfg["select"]["lo"] == 0.05 and cfg["stop"]["generations"] == 3
    assert cfg["train"]["config"] == str(ROOT / "models" / "configs" / "tiny.yaml")
    assert cfg["out"] == str(Path("runs/loop").resolve())
    assert cfg["protocols"] == [{"name": "s", "kind": "scan", "gaps_A": list(SCAN_GAPS_A), "shifts": 4,
                                 "rattle_A": 0.05, "rattle_support_A": 0.02}]
    assert cfg["train_by_generation"] == [] and "by_generation" not in cfg["train"]
    assert _load(tmp_path, GOOD)["protocols"] == [{"name": "anneal", "kind": "anneal", "T_K": [600], "steps": 1000}]


def test_given_values_are_kept_as_given(tmp_path):
    """No coercion: an int stays an int (the stage hashes are of the values as written)."""
    cfg = _load(tmp_path, GOOD + "explore: {halt_fmax: 100}\nsystems: [{name: a, margin_A: 3}]\n")
    assert cfg["explore"]["halt_fmax"] == 100 and isinstance(cfg["explore"]["halt_fmax"], int)
    assert cfg["systems"] == [{"name": "a", "margin_A": 3}]     # entries as given, no defaults filled in


def test_by_generation_is_sorted_and_applied_in_order(tmp_path):
    cfg = _load(tmp_path, GOOD + "train: {ensemble: 2, by_generation: [{from_generation: 4, ensemble: 5}, "
                                 "{from_generation: 2, finetune: true}]}\n")
    assert [e["from_generation"] for e in cfg["train_by_generation"]] == [2, 4]
    t = [train_for_generation(cfg, g) for g in (1, 2, 4)]
    assert (t[0]["ensemble"], t[0]["finetune"]) == (2, False)
    assert (t[1]["ensemble"], t[1]["finetune"]) == (2, True)
    assert (t[2]["ensemble"], t[2]["finetune"]) == (5, True)


@pytest.mark.parametrize("text, message", [
    ("type_names: [Au]\nbogus: 1\n", "loop.yaml: unknown key 'bogus'; known: out, type_names, initial, systems, "
                                     "protocols, explore, select, labeller, train, stop"),
    ("type_names: [Au]\nexplore: {dump: 3}\n", "loop.yaml.explore: unknown key 'dump'; known: dump_every,"),
    ("type_names: [Au]\nselect: 5\n", "loop.yaml.select: expected a mapping"),
    ("- a\n", "expected a mapping at the top level"),
    ("systems: [\n", "not valid YAML"),
    ("labeller: {kind: emt}\n", "type_names is required"),
    ("type_names: [Au]\nselect: {lo: 1.0, hi: 0.5}\n", "select.lo 1.0 must be below select.hi 0.5"),
    ("type_names: [Au]\nlabeller: {kind: vasp}\n", "labeller.kind 'vasp': choose emt, lammps or gpaw"),
    ("type_names: [Au]\nlabeller: {kind: lammps}\n", "labeller.potential is required for the lammps labeller"),
    ("type_names: [Au]\nlabeller: {kind: lammps, potential: nothere}\n", "labeller.potential nothere: file not found"),
    ("type_names: [Au]\ntrain: {config: nope.yaml}\n", "nope.yaml: file not found"),
    ("type_names: [Au]\ntrain: {baseline: nope}\n", "train.baseline nope: file not found"),
    ("type_names: [Au]\ntrain: {baseline: classical_au_hbn}\n", "classical_au_hbn.in: not a baseline file"),
    ("type_names: [Au]\ninitial: {data: nope.extxyz}\n", "initial.data"),
    ("type_names: [Au]\ninitial: {hold_out: [{kind: scan}]}\n", "initial.hold_out needs initial.data"),
    ("type_names: [Au]\ninitial: {data: [loop.yaml, nope.extxyz]}\n", "initial.data"),
    ("type_names: [Au]\ninitial: {data: [3]}\n", "initial.data must be a file or a list of files, not [3]"),
    ("type_names: [Au]\nlabeller: {kind: gpaw, reuse: old.db}\n", "labeller.reuse must be a list of label databases"),
    ("type_names: [Au]\nlabeller: {kind: emt, reuse: [loop.yaml]}\n", "labeller.reuse is for the gpaw labeller"),
    ("type_names: [Au]\nlabeller: {kind: gpaw, reuse: [nope.db]}\n", "labeller.reuse"),
    ("type_names: [Au]\ntrain: {energy_shifts: mean}\n", "train.energy_shifts 'mean': choose config or lstsq"),
    ("type_names: [Au]\ntrain: {by_generation: [{from_generation: 2, energy_shifts: x}]}\n",
     "train.by_generation[0].energy_shifts 'x': choose config or lstsq"),
    ("type_names: [Au]\ninitial: {hold_out: [scan]}\n", "initial.hold_out: each entry must be a map"),
    ("type_names: [Au]\nsystems: [{support: hbn}]\n", "systems[0] needs a name"),
    ("type_names: [Au]\nsystems: [{name: a, diameter: 1}]\n", "loop.yaml.systems[0]: unknown key 'diameter'"),
    ("type_names: [Au]\nprotocols: [{kind: anneal, step: 10}]\n", "loop.yaml.protocols[0]: unknown key 'step'"),
    ("type_names: [Au]\nprotocols: [{kind: melt}]\n", "protocols[0].kind 'melt': choose anneal, heat_transfer"),
    ("type_names: [Au]\nprotocols: [{kind: anneal, ensemble: best}]\n", "protocols[0].ensemble 'best': choose mean"),
    ("type_names: [Au]\nprotocols: [{kind: anneal, relax: maybe}]\n", "protocols[0].relax must be true or false"),
    ("type_names: [Au]\nprotocols: [{kind: scan, gaps_A: [3.0]}]\n", "gaps_A must list at least two gaps > 0 Å"),
    ("type_names: [Au]\nprotocols: [{kind: scan, shifts: 1.5}]\n", "shifts must be a whole number >= 1, not 1.5"),
    ("type_names: [Au]\nprotocols: [{kind: scan, rattle_support_A: -1}]\n", "rattle_support_A must be a number >= 0"),
    ("type_names: [Au]\nsystems: [{name: a, from_generation: 0}]\n", "systems[0].from_generation must be a whole"),
    ("type_names: [Au]\nprotocols: [{from_generation: true}]\n", "protocols[0].from_generation must be a whole"),
    ("type_names: [Au]\nstop: {generations: 0}\n", "stop.generations must be >= 1"),
    ("type_names: [Au]\ntrain: {by_generation: {from_generation: 2}}\n", "train.by_generation must be a list"),
    ("type_names: [Au]\ntrain: {by_generation: [3]}\n", "train.by_generation[0] must be a mapping"),
    ("type_names: [Au]\ntrain: {by_generation: [{finetune: true}]}\n",
     "train.by_generation[0].from_generation must be a whole number >= 1, not None"),
    ("type_names: [Au]\ntrain: {by_generation: [{from_generation: 2, epochs: 3}]}\n",
     "loop.yaml.train.by_generation[0]: unknown key 'epochs'"),
])
def test_bad_input_is_one_line_naming_the_key(tmp_path, text, message):
    with pytest.raises(LoopError) as e:
        _load(tmp_path, text)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(LoopError, match="loop config not found"):
        load_config(tmp_path / "none.yaml")


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in [
    *(ROOT / "models" / "configs").glob("loop_*.yaml"), ROOT / "models" / "bundled" / "au_hbn" / "loop.yaml"]))
def test_the_shipped_loop_yamls_load(path):
    cfg = load_config(ROOT / path)
    types = ["Au", "O", "Ti"] if "tio2" in path else ["Au", "B", "N"]  # beamheat.build's order for the support
    assert cfg["type_names"] == types and Path(cfg["train"]["config"]).is_file()
    lab = cfg["labeller"]
    if lab["kind"] == "lammps":
        assert Path(lab["potential"]).is_file()
    else:  # DFT: settings dft.label accepts, D3 labels under a D3 baseline
        from dft.settings import DEFAULT_SETTINGS, check_settings

        assert lab["kind"] == "gpaw" and check_settings(dict(DEFAULT_SETTINGS, **lab["settings"]))["d3"]
        assert "dispersion/d3" in Path(cfg["train"]["baseline"]).read_text()


def test_initial_data_may_list_files_and_reuse_is_not_an_input_of_the_labels(tmp_path):
    """initial.data: one file or a list (earlier run folders' archived labels), each resolved from the YAML's
    folder; generation 0's inputs hash each file. labeller.reuse copies labels the labeller would compute, so it
    leaves the label stage's inputs as they were."""
    from models.loop.stages import label_inputs

    (tmp_path / "a.extxyz").write_text("a")
    (tmp_path / "b.extxyz").write_text("b")
    (tmp_path / "old.db").write_text("")
    cfg = _load(tmp_path, GOOD + "initial: {data: [a.extxyz, b.extxyz]}\n")
    assert cfg["initial"]["data"] == [str(tmp_path / "a.extxyz"), str(tmp_path / "b.extxyz")]
    assert len(label_inputs(cfg, 0)["data_hash"]) == 2
    one = _load(tmp_path, GOOD + "initial: {data: a.extxyz}\n")
    assert one["initial"]["data"] == str(tmp_path / "a.extxyz")
    gpaw = GOOD + "labeller: {kind: gpaw, settings: {d3: true}}\n"
    plain, reusing = _load(tmp_path, gpaw), _load(tmp_path, gpaw.replace("}}", "}, reuse: [old.db]}"))
    assert reusing["labeller"]["reuse"] == [str(tmp_path / "old.db")]
    assert label_inputs(plain, 1, "h") == label_inputs(reusing, 1, "h")


def test_energy_shifts_config_leaves_the_train_inputs_as_they_were(tmp_path):
    """The default (config) is left out of the train stage's inputs, so run folders trained with the config's
    shifts keep their hash and resume; lstsq is an input."""
    from models.loop.manifest import Generation
    from models.loop.stages import train_inputs

    work = tmp_path / "w"
    gen = Generation(work, 0)
    gen.m["stages"]["label"] = {"state": "done", "outputs": {"labels_hash": "x"}}
    gen.save()
    plain = _load(tmp_path, GOOD)
    fitted = _load(tmp_path, GOOD + "train: {energy_shifts: lstsq}\n")
    assert "energy_shifts" not in train_inputs(plain, work, 0)["train"]
    assert train_inputs(fitted, work, 0)["train"]["energy_shifts"] == "lstsq"


def test_the_dft_loop_starts_from_every_archived_generation():
    """loop_au_hbn_dft.yaml: the archived generations that generation 0 trains on are those whose databases its
    labeller reuses, in the same order (dft/au_hbn/README.md: a generation is added to both lists at once)."""
    cfg = load_config(ROOT / "models" / "configs" / "loop_au_hbn_dft.yaml")
    data = [Path(p) for p in cfg["initial"]["data"]]
    reuse = [Path(p) for p in cfg["labeller"]["reuse"]]
    archived = [p for p in data if p.parent.name == "loop_pw500"]
    assert archived and [p.with_suffix(".db") for p in archived] == reuse
    assert cfg["train"]["energy_shifts"] == "lstsq"
