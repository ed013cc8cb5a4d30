"""Read thermo output from LAMMPS log files: the one log reader every beamheat tool uses.

    from beamheat.lammps_log import read_thermo
    th = read_thermo(["run/log.lammps", "run/log.restart.gz"], columns=["Step", "Time", "v_T_np"])
    th["Time"], th.block, th.notes

- plain or gzipped files; several `run` sections (thermo blocks); WARNING lines and fix halt's messages between
  thermo rows;
- a truncated last line (job killed mid-write) is dropped with a note; a run cut off by an ERROR ends its block;
- several files are segments of one restarted run, in order: where a later segment restarts at an earlier step,
  the rows it supersedes are dropped (needs a Step column);
- memory is bounded by the columns kept: the file is streamed in chunks and only the requested columns are stored;
- numeric regions are parsed by pandas' C reader (>= 100 MB/s); anything irregular goes through a line-by-line
  path that names file and line in its error.

Thermo blocks are located the way LAMMPS writes them: the header follows the "Per MPI rank memory allocation"
line, and the block ends at "Loop time of". Only the one-line thermo format is read (not `thermo_modify line
multi/yaml`).

Stage markers: beamheat's inputs print `beamheat: stage NAME key=value ...` before each run. Every block is
labelled with the last marker before it (`Thermo.stages`, block -> "NAME key=value ..."), so a tool can pick the
segment it needs by name and refuse a log that never reached it. Blocks without a closing "Loop time" line (a run
killed or still running) are listed in `Thermo.unfinished`.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .cli import UserError
from .markers import HALT_TEXT, STAGE_PREFIX

_START = b"Per MPI rank memory allocation"
_END = b"Loop time of"
_ERROR = b"ERROR"
_STAGE = STAGE_PREFIX.encode()
_CHUNK = 32 * 1024 * 1024
_MESSAGES = (b"WARNING", HALT_TEXT.encode())  # lines LAMMPS prints between thermo rows: warnings, fix halt's halts


def _drop_message_lines(region: bytes) -> tuple[bytes, int]:
    """Remove the lines LAMMPS prints inside thermo output (_MESSAGES)."""
    n = 0
    for prefix in _MESSAGES:
        region, k = _drop_lines_starting(region, prefix)
        n += k
    return region, n


def _drop_lines_starting(region: bytes, prefix: bytes) -> tuple[bytes, int]:
    """Remove lines that start with PREFIX (memchr-speed finds, no regex over the whole region)."""
    keep, start, pos, n = [], 0, 0, 0
    while True:
        i = region.find(prefix, pos)
        if i < 0:
            break
        line_start = region.rfind(b"\n", 0, i) + 1
        if region[line_start:i].strip():
            pos = i + len(prefix)  # inside a line: not a message line
            continue
        line_end = region.find(b"\n", i)
        line_end = len(region) if line_end < 0 else line_end + 1
        keep.append(region[start:line_start])
        start = pos = line_end
        n += 1
    if not n:
        return region, 0
    keep.append(region[start:])
    return b"".join(keep), n


class LogError(UserError, ValueError):
    """A log file that cannot be read as LAMMPS thermo output; the message names file and line."""


class MissingColumnsError(LogError):
    """No thermo block of a file has all the requested columns; `missing` lists those never seen."""

    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = missing


@dataclass
class Thermo:
    columns: dict[str, np.ndarray]
    block: np.ndarray                        # thermo block index of every row (0, 1, ... over all files)
    headers: list[tuple[str, list[str]]]     # (file, header words) of every block
    notes: list[str] = field(default_factory=list)
    stages: dict[int, str] = field(default_factory=dict)   # block -> last "beamheat: stage ..." marker before it
    unfinished: set[int] = field(default_factory=set)      # blocks with no "Loop time" line (killed run)

    def stage_name(self, block: int) -> str | None:
        """NAME of the stage marker of a block, or None."""
        st = self.stages.get(int(block))
        return st.split()[0] if st else None

    def stage_fields(self, block: int) -> dict[str, str]:
        """The key=value fields of a block's stage marker."""
        st = self.stages.get(int(block)) or ""
        return dict(w.split("=", 1) for w in st.split()[1:] if "=" in w)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __len__(self) -> int:
        return len(self.block)

    def select(self, mask: np.ndarray) -> "Thermo":
        return Thermo({k: v[mask] for k, v in self.columns.items()}, self.block[mask], self.headers, self.notes,
                      self.stages, self.unfinished)


def _open(path: Path):
    if not path.exists():
        raise LogError(f"{path}: file not found")
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _chunks(path: Path) -> Iterable[bytes]:
    try:
        with _open(path) as f:
            while True:
                data = f.read(_CHUNK)
                if not data:
                    return
                yield data
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise LogError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None


class _BlockParser:
    """Streaming state machine over one file: finds thermo blocks and parses the wanted columns."""

    def __init__(self, path: Path, wanted: Sequence[str] | None, block_offset: int):
        self.path = path
        self.wanted = list(wanted) if wanted is not None else None
        self.block_offset = block_offset
        self.in_block = False
        self.header: list[str] = []
        self.keep: list[int] = []            # indices of kept columns in the current header
        self.parts: list[tuple[int, np.ndarray]] = []  # (block, rows x kept)
        self.headers: list[tuple[str, list[str]]] = []
        self.notes: list[str] = []
        self.n_blocks = 0
        self.line_base = 0                   # newlines before the current buffer
        self.skipped_blocks: list[tuple[int, list[str]]] = []
        self.n_warnings = 0
        self.stage: str | None = None        # last stage marker seen outside thermo blocks
        self.stages: dict[int, str] = {}

    def _scan_stages(self, buf: bytes, lo: int, hi: int) -> None:
        """Remember the last `beamheat: stage ...` line in buf[lo:hi] (lines outside thermo blocks)."""
        i = buf.rfind(_STAGE, lo, hi)
        while i >= 0 and not (i == 0 or buf[i - 1:i] == b"\n"):
            i = buf.rfind(_STAGE, lo, i)  # text inside a line, e.g. the echoed print command
        if i >= 0:
            eol = buf.find(b"\n", i, hi)
            self.stage = buf[i + len(_STAGE):hi if eol < 0 else eol].decode(errors="replace").strip()

    # ---------------------------------------------------------------- block boundaries
    def feed(self, buf: bytes, final: bool, n: int | None = None) -> int:
        """Consume whole lines of buf[:n]; return how many bytes were consumed (the rest comes back next time)."""
        pos = 0
        n = len(buf) if n is None else n
        while pos < n:
            if not self.in_block:
                i = buf.find(_START, pos, n)
                self._scan_stages(buf, pos, n if i < 0 else i)
                if i < 0:
                    return n
                eol = buf.find(b"\n", i, n)
                h_end = buf.find(b"\n", eol + 1, n) if eol >= 0 else -1
                if h_end < 0 and not final:
                    return i  # memory line or header not complete yet
                if eol < 0 or eol + 1 >= n:
                    return n
                h_end = n if h_end < 0 else h_end
                self._start_block(buf[eol + 1:h_end], self._line_no(buf, eol + 1))
                pos = h_end + 1
            else:
                end = self._find_end(buf, pos, n)
                stop = n if end < 0 else end
                if stop > pos:
                    self._parse_region(buf, pos, stop, final and end < 0)
                if end < 0:
                    return n
                self.in_block = False
                pos = buf.find(b"\n", end, n)
                pos = n if pos < 0 else pos + 1
        return n

    def _find_end(self, buf: bytes, pos: int, n: int) -> int:
        lo = pos - 1 if pos else 0
        ends = [i for i in (buf.find(b"\n" + _END, lo, n), buf.find(b"\n" + _ERROR, lo, n)) if i >= 0]
        if pos == 0 and (buf.startswith(_END) or buf.startswith(_ERROR)):
            return 0
        return min(ends) + 1 if ends else -1

    def _line_no(self, buf: bytes, pos: int) -> int:
        return self.line_base + buf.count(b"\n", 0, pos) + 1

    def _start_block(self, header_bytes: bytes, line_no: int) -> None:
        words = header_bytes.decode(errors="replace").split()
        if not words or not all(w[0].isalpha() or w[0] in "_[" for w in words) or words[0].startswith("-"):
            raise LogError(f"{self.path}:{line_no}: expected a one-line thermo header after the memory line, "
                           f"got {header_bytes[:60].decode(errors='replace')!r} (thermo_modify line one is required)")
        self.in_block = True
        self.header = words
        block_id = self.block_offset + self.n_blocks
        self.n_blocks += 1
        self.headers.append((str(self.path), words))
        if self.stage is not None:
            self.stages[block_id] = self.stage
        if self.wanted is None:
            self.wanted = list(words)  # no columns asked for: those of the first block, for every block
        if not set(self.wanted) <= set(words):
            self.skipped_blocks.append((block_id, words))
            self.keep = []
            return
        self.keep = [words.index(w) for w in self.wanted]

    # ---------------------------------------------------------------- rows
    def _parse_region(self, buf: bytes, start: int, stop: int, final: bool) -> None:
        block_id = self.block_offset + self.n_blocks - 1
        if not self.keep:
            return
        region = buf[start:stop]
        ncol = len(self.header)
        if not final or region.endswith(b"\n"):
            rows = self._fast(region, ncol)
            if rows is not None:
                self.parts.append((block_id, rows))
                return
        self.parts.append((block_id, self._slow(buf, start, stop, final, ncol)))

    def _fast(self, region: bytes, ncol: int) -> np.ndarray | None:
        import pandas as pd

        if not region or region.isspace():
            return np.empty((0, len(self.keep)))
        region, n_warn = _drop_message_lines(region)
        usecols = sorted(set(self.keep) | {ncol - 1})
        try:
            df = pd.read_csv(io.BytesIO(region), sep=r"\s+", header=None, usecols=usecols, dtype=np.float64,
                             engine="c", names=list(range(ncol)), skip_blank_lines=True)
        except (ValueError, pd.errors.ParserError):
            return None
        last = df[ncol - 1].to_numpy()
        if np.isnan(last).any():  # a short row, or a real nan: let the careful path decide
            return None
        self.n_warnings += n_warn
        return df[self.keep].to_numpy(dtype=np.float64, copy=True)

    def _slow(self, buf: bytes, start: int, stop: int, final: bool, ncol: int) -> np.ndarray:
        rows = []
        line_no = self._line_no(buf, start)
        lines = buf[start:stop].split(b"\n")
        for k, raw in enumerate(lines):
            here = line_no + k
            s = raw.strip()
            if not s:
                continue
            if s.startswith(_MESSAGES):
                self.n_warnings += 1
                continue
            words = s.split()
            is_last = final and k == len(lines) - 1
            if len(words) != ncol:
                if is_last:
                    self.notes.append(f"{self.path}:{here}: dropped truncated last line")
                    continue
                raise LogError(f"{self.path}:{here}: thermo row has {len(words)} values but the header "
                               f"has {ncol} columns ({' '.join(self.header[:6])} ...)")
            try:
                rows.append([float(words[i]) for i in self.keep])
            except ValueError:
                if is_last:
                    self.notes.append(f"{self.path}:{here}: dropped truncated last line")
                    continue
                raise LogError(f"{self.path}:{here}: not a number in thermo row: "
                               f"{s[:80].decode(errors='replace')!r}") from None
        return np.array(rows, dtype=np.float64).reshape(-1, len(self.keep))


def _read_one(path: Path, wanted, block_offset: int) -> _BlockParser:
    p = _BlockParser(path, wanted, block_offset)
    rest = b""
    for chunk in _chunks(path):
        buf = rest + chunk
        cut = buf.rfind(b"\n") + 1  # only whole lines now; a block may continue into the next chunk
        if cut == 0:
            rest = buf
            continue
        used = p.feed(buf, final=False, n=cut)
        p.line_base += buf.count(b"\n", 0, used)
        rest = buf[used:]
    if rest:
        p.feed(rest, final=True)
    if p.n_warnings:
        p.notes.append(f"{path}: skipped {p.n_warnings} WARNING or fix halt line(s) inside thermo output")
    if p.in_block:
        p.notes.append(f"{path}: last thermo block has no 'Loop time' line (run killed or still running)")
    return p


def read_thermo(paths: str | Path | Sequence[str | Path], columns: Sequence[str] | None = None) -> Thermo:
    """Thermo rows of all blocks that have `columns` (all columns of the first block if None), in file order.

    Several paths are consecutive segments of one restarted run; overlapping steps are taken from the later file.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    wanted = list(columns) if columns is not None else None
    # restart segments are merged by step: read Step as well, return only what was asked for
    extra_step = len(paths) > 1 and wanted is not None and "Step" not in wanted
    if extra_step:
        wanted = wanted + ["Step"]
    file_cols: list[list[np.ndarray]] = []   # per file: one array per kept column
    blocks: list[np.ndarray] = []
    headers, notes = [], []
    stages: dict[int, str] = {}
    unfinished: set[int] = set()
    offset = 0
    for path in paths:
        p = _read_one(path, wanted, offset)
        wanted = p.wanted
        offset += p.n_blocks
        headers += p.headers
        notes += p.notes
        stages.update(p.stages)
        if p.in_block:
            unfinished.add(offset - 1)
        if p.n_blocks == 0:
            raise LogError(f"{path}: no thermo output found (no 'Per MPI rank memory allocation' line)")
        got = [(b, rows) for b, rows in p.parts if len(rows)]
        if not got and p.skipped_blocks:
            seen = sorted({w for _, ws in p.skipped_blocks for w in ws})
            missing = [w for w in wanted if w not in seen]
            raise MissingColumnsError(f"{path}: no thermo block has column(s) {', '.join(missing)}; "
                                      f"columns in this log: {' '.join(seen)}", missing)
        if not got:
            raise LogError(f"{path}: thermo blocks contain no rows")
        p.parts = []
        cols = [np.concatenate([r[:, i] for _, r in got]) for i in range(len(wanted))]
        block = np.concatenate([np.full(len(r), b, dtype=np.int32) for b, r in got])
        del got
        if blocks and p.headers and headers[-len(p.headers) - 1][1] == p.headers[0][1]:
            # a restart segment: its first block continues the previous file's last block
            block[block == p.block_offset] = blocks[-1][-1]
            unfinished.discard(int(blocks[-1][-1]))  # the restart continues it
            if p.block_offset in unfinished:
                unfinished.discard(p.block_offset)
                unfinished.add(int(blocks[-1][-1]))
        if file_cols and "Step" in wanted:
            s = wanted.index("Step")
            first = cols[s][0]
            keep = [c[s] < first for c in file_cols]
            dropped = sum(int((~k).sum()) for k in keep)
            if dropped:
                notes.append(f"{path}: restart at step {first:.0f} supersedes {dropped} earlier rows")
                file_cols = [[col[k] for col in c] for c, k in zip(file_cols, keep)]
                blocks = [b[k] for b, k in zip(blocks, keep)]
        file_cols.append(cols)
        blocks.append(block)
    names = wanted[:-1] if extra_step else wanted
    if len(file_cols) == 1:
        columns = dict(zip(names, file_cols[0]))
    else:
        columns = {name: np.concatenate([c[i] for c in file_cols]) for i, name in enumerate(names)}
    block = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return Thermo(columns, block, headers, notes, stages, unfinished)


def read_messages(path: str | Path, prefix: str | bytes) -> list[tuple[str | None, str]]:
    """The lines of a log (plain or gzipped) that start with PREFIX (not an echoed input line that quotes it), each
    with the name of the last `beamheat: stage NAME` marker before it (None: none yet), in order: e.g. fix halt's
    halts."""
    want = prefix.encode() if isinstance(prefix, str) else prefix
    return _marked_lines(Path(path), lambda line: line.startswith(want))


def read_warnings(path: str | Path, contains: str | bytes | None = None) -> list[tuple[str | None, str]]:
    """The WARNING lines of a log (plain or gzipped) that contain CONTAINS (all with None), each with the name of
    the last `beamheat: stage NAME` marker before it (None: none yet), in order."""
    want = contains.encode() if isinstance(contains, str) else contains
    return _marked_lines(Path(path), lambda line: b"WARNING" in line and (want is None or want in line))


def _marked_lines(path: Path, keep) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = []
    stage = None
    try:
        with _open(path) as f:
            for line in f:
                if line.startswith(_STAGE):
                    parts = line.split()
                    stage = parts[2].decode(errors="replace") if len(parts) > 2 else None
                elif keep(line):
                    out.append((stage, line.decode(errors="replace").strip()))
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise LogError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None
    return out


def read_stages(paths: str | Path | Sequence[str | Path]) -> list[str | None]:
    """The stage marker of every thermo block of the files, in order (None: no marker before it), whatever the
    blocks' columns; no rows are parsed."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[str | None] = []
    for path in paths:
        p = _read_one(Path(path), [], 0)
        out += [p.stages.get(b) for b in range(p.n_blocks)]
    return out
