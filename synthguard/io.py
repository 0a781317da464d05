"""Reading tables (CSV, parquet) with clear errors, and atomic writes.

CSV cells are read as text so that the schema, not a guess, decides each column's type and so that
a bad cell can be reported by row. Every write goes to a temporary file beside the target and is
renamed into place only when complete: an interrupted run leaves the old file or nothing.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .errors import InputError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
_UMASK = os.umask(0)
os.umask(_UMASK)


def table_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError(f"{path}: unknown table format {suffix or '(no suffix)'!r}; use .csv or .parquet")


def read_yaml(path: str | Path, what: str) -> object:
    """Parse a YAML file with the safe loader; `what` names the file's role in errors."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f" near line {line + 1}" if line is not None else ""
        raise InputError(f"{path}: not valid YAML{where}") from None


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


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"output directory does not exist: {path.parent}")
    if path.is_dir():
        raise InputError(f"output path is a directory: {path}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a written file gets the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_new_dir(out_dir: Path) -> None:
    """An output folder must be new or empty: results are never mixed into an old run's."""
    if not out_dir.parent.exists():
        raise InputError(f"output directory's parent does not exist: {out_dir.parent}")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(f"output directory exists and is not empty: {out_dir} (choose a new one)")


@contextlib.contextmanager
def staged_dir(out_dir: str | Path) -> Iterator[Path]:
    """Yield a hidden staging folder beside `out_dir`; it becomes `out_dir` only if the block
    succeeds, so an interrupted run leaves no partial folder behind."""
    out_dir = Path(out_dir)
    check_new_dir(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    try:
        os.chmod(staging, 0o777 & ~_UMASK)  # mkdtemp makes 0700; an output folder gets the usual mode
        yield staging
        if out_dir.exists():
            out_dir.rmdir()  # checked empty at the start
        os.replace(staging, out_dir)
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
