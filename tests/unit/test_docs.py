"""The docs check: every relative link in the documentation resolves, and every repository file and Python module
that a command in it names exists.

Checked: the Markdown files at the repository root (README.md, CHANGELOG.md, ...), everything under docs/, and the
index of bench/results/. For each:
- a relative link `[text](path#anchor)` points at a file or folder that exists, and an `#anchor` into a Markdown
  file matches one of its headings (GitHub's anchor rules);
- a path under scripts/, bench/, lammps_inputs/, models/, dft/, analysis/, python/, lammps_plugin/, docker/ or
  cmake/ named in a code block or inline code exists (a glob matches at least one file; a prefix such as a
  `--results PREFIX` names at least one PREFIX.*; a path git ignores, such as the compiled members, is made at
  set-up and counts);
- every `python -m MODULE` names a module that importlib finds (the repository's python/ and root come first).
Pure Python: no LAMMPS, no training.
"""

from __future__ import annotations

import glob
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECKED_DIRS = ("scripts", "bench", "lammps_inputs", "models", "dft", "analysis", "python", "lammps_plugin",
                "docker", "cmake")
FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
LINK = re.compile(r"\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
PYTHON_M = re.compile(r"\bpython3?\s+-m\s+([A-Za-z_][\w.]*)")
SPLIT = re.compile(r"[\s\"'`()=,;|&\[\]]+")
ENV_PREFIX = re.compile(r"^\$\{?\w+\}?/")


def doc_files(root: Path = ROOT) -> list[Path]:
    files = set(root.glob("*.md")) | set((root / "docs").rglob("*.md"))
    files |= set((root / "bench" / "results").glob("README.md"))
    return sorted(files)


def split_markdown(text: str) -> tuple[list[str], list[str]]:
    """(prose paragraphs, code texts). Fenced blocks, and indented blocks after a blank line, are code. Inline code
    spans are taken out of the prose and added to the code; a paragraph is joined first, so a span or a link that
    wraps onto the next line is still one."""
    prose, code, block, para = [], [], [], []
    fence = None

    def flush():
        if para:
            joined = " ".join(line.strip() for line in para)
            code.extend(m.group(2) for m in INLINE_CODE.finditer(joined))
            prose.append(INLINE_CODE.sub(" ", joined))
            para.clear()

    for line in text.splitlines():
        m = FENCE.match(line.lstrip())
        if fence is None and m:
            flush()
            fence = m.group(1)
            block = []
            continue
        if fence is not None:
            if line.lstrip().startswith(fence):
                code.append("\n".join(block))
                fence = None
            else:
                block.append(line)
            continue
        if not line.strip():
            flush()
            continue
        if line.startswith("    ") and not para and not ITEM.match(line):
            code.append(line)
            continue
        if ITEM.match(line) or HEADING.match(line) or line.lstrip().startswith("|"):
            flush()
        para.append(line)
    flush()
    return prose, code


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: the rendered text, lower case, without punctuation, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links: their text
    text = text.replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def headings(text: str) -> list[str]:
    """The ATX headings outside fenced code blocks, as written."""
    out, fence = [], None
    for line in text.splitlines():
        m = FENCE.match(line.lstrip())
        if m and (fence is None or line.lstrip().startswith(fence)):
            fence = m.group(1) if fence is None else None
            continue
        if fence is None and (h := HEADING.match(line)):
            out.append(h.group(2))
    return out


def anchors(md: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in headings(md.read_text(encoding="utf-8")):
        s = slug(heading)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def link_problems(doc: Path, root: Path = ROOT) -> list[str]:
    prose, _ = split_markdown(doc.read_text(encoding="utf-8"))
    problems = []
    for target in (m.group(1) for line in prose for m in LINK.finditer(line)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):        # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        if not dest.exists():
            problems.append(f"{doc.relative_to(root)}: link to {target}: {path_part} does not exist")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{doc.relative_to(root)}: link to {target}: no heading with anchor #{anchor} in "
                            f"{dest.relative_to(root) if dest.is_relative_to(root) else dest}")
    return problems


def git_ignores(path: str, root: Path) -> bool:
    try:
        return subprocess.run(["git", "-C", str(root), "check-ignore", "-q", "--no-index", path],
                              capture_output=True).returncode == 0
    except OSError:
        return False


def named_paths(code: str) -> list[str]:
    out = []
    for token in SPLIT.split(code):
        token = ENV_PREFIX.sub("", token).rstrip(".:")
        if token.split("/", 1)[0] not in CHECKED_DIRS or "/" not in token:
            continue
        if any(c in token for c in "{}$~<>"):                   # shell expansions and placeholders
            continue
        out.append(token)
    return out


def command_problems(doc: Path, root: Path = ROOT) -> list[str]:
    _, code = split_markdown(doc.read_text(encoding="utf-8"))
    problems = []
    for text in code:
        for path in named_paths(text):
            if any(c in path for c in "*?"):
                if not list(root.glob(path)):
                    problems.append(f"{doc.relative_to(root)}: {path} matches no file")
            elif not ((root / path).exists() or list(root.glob(glob.escape(path) + ".*"))   # a prefix of files
                      or git_ignores(path, root)):
                problems.append(f"{doc.relative_to(root)}: {path} does not exist")
        for module in PYTHON_M.findall(text):
            module = module.rstrip(".")
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                problems.append(f"{doc.relative_to(root)}: python -m {module}: no such module")
    return problems


@pytest.fixture(autouse=True)
def _repository_modules_first(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.syspath_prepend(str(ROOT / "python"))


DOCS = doc_files()


def test_the_documentation_is_found():
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    assert {"README.md", "CHANGELOG.md", "docs/README.md"} <= names, sorted(names)


@pytest.mark.parametrize("doc", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_links_resolve(doc):
    problems = link_problems(doc)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_named_files_and_modules_exist(doc):
    problems = command_problems(doc)
    assert not problems, "\n".join(problems)


def test_the_check_finds_broken_links_and_commands(tmp_path):
    """The checker itself: a page with one of each kind of mistake gets one problem for each."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "demo.sh").write_text("")
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Known `limits`: today\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md#known-limits-today) [fine too](#page) [web](https://example.org/x)\n"
        "[gone](missing.md) [bad anchor](other.md#nothing-here)\n\n"
        "```bash\nbash scripts/demo.sh && bash scripts/gone.sh\npython -m no_such_module_here.sub\n```\n"
        "Inline: `python -m json` and `lammps_inputs/*.in`.\n\n"
        "- A span that wraps, `python -m\n  no_such_wrapped_module`, and a [link that\n  wraps](gone.md).\n")
    links = link_problems(page, tmp_path)
    assert len(links) == 3, links
    assert "missing.md does not exist" in links[0] and "#nothing-here" in links[1] and "gone.md" in links[2]
    commands = command_problems(page, tmp_path)
    assert len(commands) == 4, commands
    assert any("no_such_wrapped_module: no such module" in p for p in commands)
    assert any("scripts/gone.sh does not exist" in p for p in commands)
    assert any("no_such_module_here.sub: no such module" in p for p in commands)
    assert any("lammps_inputs/*.in matches no file" in p for p in commands)


def test_slug_follows_github():
    assert slug("fit_k's stated errors against the scatter of runs") == \
        "fit_ks-stated-errors-against-the-scatter-of-runs"
    assert slug("Compiled for this machine: `python -m models.accelerate`") == \
        "compiled-for-this-machine-python--m-modelsaccelerate"
    assert slug("Ensembles: `models.train --ensemble`, `models.rerun`") == \
        "ensembles-modelstrain---ensemble-modelsrerun"
    assert slug("ΔT under the [beam](x.md), **fast**") == "δt-under-the-beam-fast"
