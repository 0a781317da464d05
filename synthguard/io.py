"""Reading tables (CSV, parquet) and YAML with clear errors, and atomic writes that never replace an input.

CSV cells are read as text so that the schema, not a guess, decides each column's type and so that
a bad cell can be reported by row. YAML is read with the safe loader and without aliases (a few
hundred bytes of nested aliases expand to gigabytes). Every write goes to a private (0600/0700)
temporary file or folder beside the target, named after the target and the writing process, and is
renamed into place only when complete: an interrupted run leaves the old file or nothing, and the
debris of a killed run (its process gone) is removed by the next write to the same target.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .errors import InputError, OutputExistsError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
MAX_YAML_BYTES = 64 * 2**20  # a schema for 100,000 columns is a few MiB
#: debris of synthguard's own temporary files and folders: `.<name>.<pid>-<token>.tmp` and
#: `.<name>.staging-<pid>-<token>`; older versions wrote no pid (`.<name>.<random>.tmp`,
#: `.<name>.staging-<random>`): those are removed once they are an hour old
_LEGACY_DEBRIS_SECONDS = 3600
_UMASK = os.umask(0)
os.umask(_UMASK)


def table_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError(f"{path}: unknown table format {suffix or '(no suffix)'!r}; use .csv or .parquet")


class _AliasFound(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _NoAliasLoader(yaml.SafeLoader):
    """The safe loader, refusing aliases (`*name`): they are how a tiny file expands to gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise _AliasFound(self.peek_event().start_mark.line)
        return super().compose_node(parent, index)


def safe_load_yaml_text(text: str, what: str) -> object:
    """Parse YAML text with the safe loader, refusing aliases and absurd nesting; `what` names the
    text (a path, or a part of a file) in the one-line InputError."""
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    except _AliasFound as found:
        raise InputError(f"{what}: YAML aliases (*name, near line {found.line + 1}) are not allowed; "
                         "write the values out") from None
    except RecursionError:
        raise InputError(f"{what}: YAML nested too deeply") from None
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f" near line {line + 1}" if line is not None else ""
        raise InputError(f"{what}: not valid YAML{where}") from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path, what: str) -> object:
    """Parse a YAML file with the safe loader (no aliases); `what` names the file's role in errors."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise InputError(f"{path}: a {what} file of {path.stat().st_size / 2**20:.0f} MiB is too large "
                         f"(at most {MAX_YAML_BYTES // 2**20} MiB)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    return safe_load_yaml_text(text, str(path))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (every cell as text) or parquet file; raise InputError naming the file otherwise."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    fmt = table_format(path)
    frame = _read_parquet(path) if fmt == "parquet" else _read_csv(path)
    if len(frame.columns) == 0:
        raise InputError(f"{path}: no columns found")
    if len(frame) == 0:
        raise InputError(f"{path}: has a header but no data rows")
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text (bad byte at position {err.start}); re-save it as UTF-8") from None
    if not header or all(not h.strip() for h in header) and len(header) <= 1:
        raise InputError(f"{path}: no header row")
    if len(header) == 1:
        _refuse_other_delimiter(path, header[0])
    names = [h.strip() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if dupes:
        raise InputError(f"{path}: duplicate column name {dupes[0]!r} in the header")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text (bad byte at position {err.start}); re-save it as UTF-8") from None
    except pd.errors.ParserError as err:
        raise InputError(f"{path}: not a well-formed CSV ({str(err).strip().splitlines()[-1]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


_DELIMITERS = {";": "`;`", "\t": "tab", "|": "`|`"}


def _refuse_other_delimiter(path: Path, header: str) -> None:
    """A one-column header that splits on `;`, tab or `|` is a file written with another delimiter
    (a European spreadsheet's `;`): read as CSV it is one text column and nothing to model."""
    for delimiter, name in _DELIMITERS.items():
        parts = [p.strip() for p in header.split(delimiter)]
        if len(parts) > 1 and sum(1 for p in parts if p) > 1:
            raise InputError(f"{path}: the header has one column, {header.strip()[:60]!r}, and looks {name}-delimited; "
                             "synthguard reads comma-separated files (re-save it with commas)")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"{path}: not a readable parquet file ({err})") from None
    names = table.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{path}: duplicate column name {dupes[0]!r}")
    return table.to_pandas()


# ---- outputs: never an input, never an existing file unless asked, never half-written --------------
def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _within(inner: Path, outer: Path) -> bool:
    return inner != outer and inner.is_relative_to(outer)


def input_clash(path: str | Path, inputs: Iterable[str | Path | None]) -> tuple[Path, str] | None:
    """The input that writing `path` would touch, and how: the same path (after resolving links), the
    same file under another name (a symlink or hard link), a path inside an input folder, or a
    folder holding an input. None if `path` touches no input."""
    path = Path(path)
    target = path.resolve()
    for item in inputs:
        if item is None:
            continue
        source = Path(item)
        resolved = source.resolve()
        if target == resolved:
            return source, "is" if path.absolute() == source.absolute() else "is the same file as"
        if _same_file(path, source):
            return source, "is the same file as"
        if resolved.is_dir() and _within(target, resolved):
            return source, "is inside the input folder"
        if _within(resolved, target):
            return source, "holds"
    return None


def _refuse_inputs(path: Path, inputs: Iterable[str | Path | None]) -> None:
    clash = input_clash(path, inputs)
    if clash is None:
        return
    source, how = clash
    if how == "is":
        raise InputError(f"{path}: this is an input of the run; an input is never overwritten (choose another output)")
    if how == "holds":
        raise InputError(f"{path}: holds the input {source}; choose another output")
    raise InputError(f"{path}: {how} the input {source}; an input is never overwritten (choose another output)")


def check_output_file(path: str | Path, inputs: Iterable[str | Path | None] = (), *,
                      overwrite: bool = False) -> list[Path]:
    """Refuse, before any work, an output file that cannot or must not be written: its folder is
    missing, it is a folder, it is one of `inputs` (by path or same file), or it exists and
    `overwrite` is false (OutputExistsError). Returns the stale debris of killed runs that wrote this
    output, which it removes."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"output directory does not exist: {path.parent}")
    if path.is_dir():
        raise InputError(f"output path is a directory: {path}")
    _refuse_inputs(path, inputs)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputExistsError(f"{path} exists; refusing to replace it")
    return remove_stale_debris(path)


def _debris_pattern(name: str) -> re.Pattern[str]:
    n = re.escape(name)
    return re.compile(rf"^\.{n}\.(?:(?P<pid>\d+)-[0-9a-f]{{8}}|(?P<old>[a-z0-9_]{{8}}))\.tmp$"
                      rf"|^\.{n}\.staging-(?:(?P<spid>\d+)-[0-9a-f]{{8}}|(?P<sold>[a-z0-9_]{{8}}))$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except (OverflowError, ValueError):
        return False
    return True


def remove_stale_debris(target: str | Path) -> list[Path]:
    """Remove what killed runs left beside `target`: synthguard's own temporary files
    (`.<name>.<pid>-<token>.tmp`) and staging folders (`.<name>.staging-<pid>-<token>`) whose
    process no longer exists, and unnamed ones of older versions once an hour old. Only entries of
    this user, of exactly that naming and kind; returns what was removed."""
    target = Path(target)
    pattern = _debris_pattern(target.name)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            staging = match.group("spid") is not None or match.group("sold") is not None
            if info.st_uid != os.getuid() or (entry.is_dir(follow_symlinks=False) != staging):
                continue
            if not staging and not entry.is_file(follow_symlinks=False):
                continue
            pid = match.group("pid") or match.group("spid")
            if pid is not None and _pid_alive(int(pid)):
                continue
            if pid is None and time.time() - info.st_mtime < _LEGACY_DEBRIS_SECONDS:
                continue
            if staging:
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _private_name(path: Path, kind: str) -> Path:
    """A name beside `path` that tells whose it is: `.<name>.<pid>-<token>.tmp` or
    `.<name>.staging-<pid>-<token>`."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    name = f".{path.name}.{token}.tmp" if kind == "file" else f".{path.name}.staging-{token}"
    return path.parent / name


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a private (0600) temporary path beside `path`; rename it onto `path` only if the block
    succeeds. Stale temporary files of killed runs for the same `path` are removed first."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"output directory does not exist: {path.parent}")
    if path.is_dir():
        raise InputError(f"output path is a directory: {path}")
    remove_stale_debris(path)
    tmp = _private_name(path, "file")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield tmp
        os.replace(tmp, path)
        os.chmod(path, 0o666 & ~_UMASK)  # private while written; the finished file gets the usual mode
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_new_dir(out_dir: Path, inputs: Iterable[str | Path | None] = ()) -> None:
    """An output folder must be new or empty, and no input nor inside an input folder: results are
    never mixed into an old run's or into the data. Stale staging folders of killed runs for the
    same folder are removed."""
    out_dir = Path(out_dir)
    if not out_dir.parent.exists():
        raise InputError(f"output directory's parent does not exist: {out_dir.parent}")
    _refuse_inputs(out_dir, inputs)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(f"output directory exists and is not empty: {out_dir} (choose a new one)")
    remove_stale_debris(out_dir)


@contextlib.contextmanager
def staged_dir(out_dir: str | Path) -> Iterator[Path]:
    """Yield a private (0700) staging folder beside `out_dir`; it becomes `out_dir` only if the
    block succeeds, so an interrupted run leaves no partial folder behind (and a killed one leaves
    a folder nobody else can read, removed by the next run for the same `out_dir`)."""
    out_dir = Path(out_dir)
    check_new_dir(out_dir)
    staging = _private_name(out_dir, "dir")
    staging.mkdir(mode=0o700)
    try:
        yield staging
        if out_dir.exists():
            out_dir.rmdir()  # checked empty at the start
        os.replace(staging, out_dir)
        os.chmod(out_dir, 0o777 & ~_UMASK)  # private while staged; the finished folder gets the usual mode
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str | None = None) -> None:
    """Write a frame as CSV or parquet (by suffix unless `fmt` is given), atomically."""
    fmt = fmt or table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
