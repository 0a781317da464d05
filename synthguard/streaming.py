"""Large tables: fit from a parquet file batch by batch, and write samples chunk by chunk.

    synth = fit_parquet(Synthesizer(schema, epochs=50), "big.parquet")     # never the whole frame
    sample_to_file(synth, 5_000_000, "synthetic.parquet", seed=1)          # never the whole sample

`fit_parquet` reads record batches with pyarrow and never holds the whole table as a pandas
frame. Two passes: the first parses every batch (so every bad cell is found before training) and
counts what the encoder needs of every row (category, boolean and null counts) while keeping the
seeded sample of rows on which the continuous columns' mixtures are fitted; the second parses
again and encodes each batch into one preallocated float32 matrix, which is what the GAN trains
on. The result is the model `Synthesizer.fit` gives on the same rows with the same seed: same
encoder, same encoded rows, same weights (a test checks it).

`sample_to_file` draws `Synthesizer.sample_chunks` and writes them as they come into a temporary
file beside the target, renamed into place at the end; its rows are `sample(n, ...)`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .encoders.table import ColumnCounts, FitProgress, TableEncoder
from .errors import DataValidationError, InputError, SynthguardError
from .io import atomic_path, table_format
from .schema import Schema

#: rows per record batch: a few tens of MB of pandas frame for a table of tens of columns
DEFAULT_BATCH_ROWS = 65_536
#: rows per parquet row group (and CSV write) when sampling to a file
DEFAULT_WRITE_ROWS = 100_000


class ParquetSource:
    """A parquet file read in record batches, each parsed by the schema (row numbers in errors are
    the file's, not the batch's)."""

    def __init__(self, path: str | Path, schema: Schema, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        self.path = Path(path)
        self.schema = schema
        if batch_rows < 1:
            raise SynthguardError(f"batch_rows must be at least 1, got {batch_rows}")
        self.batch_rows = int(batch_rows)
        if not self.path.exists():
            raise InputError(f"file not found: {self.path}")
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a file")
        try:
            self.file = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as err:
            raise InputError(f"{self.path}: not a readable parquet file ({err})") from None
        names = self.file.schema_arrow.names
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(f"{self.path}: duplicate column name {dupes[0]!r}")
        if not names:
            raise InputError(f"{self.path}: no columns found")
        self.n = int(self.file.metadata.num_rows)
        if self.n == 0:
            raise InputError(f"{self.path}: has columns but no data rows")
        self.resolved = schema.resolve(names, str(self.path))

    def batches(self, columns: list[str] | None = None,
                schema: Schema | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
        """(position of the first row, parsed rows) per record batch, in file order."""
        schema = schema or self.schema
        start = 0
        try:
            for batch in self.file.iter_batches(batch_size=self.batch_rows, columns=columns):
                typed = schema.parse(batch.to_pandas(), str(self.path), first_row=start + 1)
                yield start, typed
                start += len(typed)
        except (pa.ArrowException, OSError) as err:
            raise InputError(f"{self.path}: cannot read row batch at row {start + 1} ({err})") from None
        if start != self.n:
            raise InputError(f"{self.path}: the file holds {start} rows but its footer says {self.n}")

    def column(self, name: str) -> pd.Series:
        """One parsed column, whole (the exact median of a column needs all of its values; one
        column at a time is a small part of the table)."""
        only = Schema(columns=(self.resolved.column(name),), name=self.resolved.name, extra_columns="ignore")
        return pd.concat([typed[name] for _, typed in self.batches([name], only)], ignore_index=True)


def fit_encoder(encoder: TableEncoder, source: ParquetSource, seed: int,
                progress: FitProgress | None = None) -> dict[str, int]:
    """Fit an unfitted encoder from the file as `encoder.fit(whole parsed frame, seed)` would: the
    mixtures on the same seeded sample of rows, everything else on counts over every row.
    Returns the missing cells per modelled column (for `encode`). The file is the whole table, so
    a condition holding fewer than two classes is refused (as `Schema.parse(..., whole=True)`
    does). `progress(done, total, column)` is called after each column's fit."""
    rows = encoder.sample_rows(source.n, seed)
    counts = {name: ColumnCounts() for name in encoder.counted_columns}
    nulls = {c.data_name: 0 for c in source.resolved.modelled_columns}
    pieces = []
    for start, typed in source.batches():
        for name, count in counts.items():
            count.update(typed[name])
        for name in nulls:
            nulls[name] += int(typed[name].isna().sum())
        stop = start + len(typed)
        inside = np.arange(start, stop) if rows is None else np.sort(rows[(rows >= start) & (rows < stop)])
        if len(inside):
            pieces.append(typed.iloc[inside - start].set_axis(inside))
    _check_not_nullable(source, nulls)
    condition = source.resolved.condition
    if condition is not None and condition in counts and len(counts[condition].by_text) < 2:
        held = counts[condition].by_text
        what = f"one class ({next(iter(held))!r})" if held else "no value"
        raise DataValidationError([f"condition column {condition!r} holds {what}; a condition needs at least two "
                                   "classes (choose another condition column or none)"], str(source.path))
    sample = pd.concat(pieces)
    if rows is not None:
        sample = sample.loc[rows]  # the order `frame.iloc[rows]` has: the mixture fits see it
    encoder.fit_counted(sample, counts, seed, progress=progress)
    return nulls


def _check_not_nullable(source: ParquetSource, nulls: dict[str, int]) -> None:
    # a batch wholly empty in a column is not flagged by its parse (an empty column is allowed),
    # but the column is not empty in the file
    for col in source.resolved.modelled_columns:
        if not col.nullable and 0 < nulls[col.data_name] < source.n:
            raise DataValidationError([f"column {col.name!r}: {nulls[col.data_name]} missing value(s) "
                                       "(the schema says it is not nullable)"], str(source.path))


def encode(encoder: TableEncoder, source: ParquetSource, seed: int,
           nulls: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode every row of the file with a fitted encoder into preallocated float32 arrays: the
    same (X, C) as `encoder.transform(whole parsed frame, seed)`. `nulls` (from `fit_encoder`)
    spares reading the columns that have no missing cell."""
    fills = {}
    for name in encoder.fill_columns:
        if nulls is None or nulls.get(name):
            # missing cells take the whole column's median: read that column alone
            column = source.column(name)
            if column.isna().any():
                fills[name] = encoder.null_fill(name, column)
    x = np.empty((source.n, encoder.dim), dtype=np.float32)
    cond = np.empty((source.n, encoder.cond_dim), dtype=np.float32)
    for start, typed in source.batches():
        xb, cb = encoder.transform_rows(typed, seed, start=start, total=source.n, fills=fills)
        x[start:start + len(typed)] = xb
        cond[start:start + len(typed)] = cb
    return x, cond


def fit_parquet(synth: Any, path: str | Path, *, batch_rows: int = DEFAULT_BATCH_ROWS,
                on_epoch: Callable[[int, dict[str, float]], None] | None = None,
                on_column: FitProgress | None = None) -> Any:
    """Fit `synth` (an unfitted table `Synthesizer` with a schema) on a parquet file, streaming
    it in record batches; returns `synth`. The model equals `synth.fit(read_table(path))`'s.
    `on_column(done, total, column)` reports the encoder's fit, column by column."""
    if synth.schema is None:
        raise SynthguardError(f"{path}: a streaming fit needs a schema (`synthguard schema infer` proposes one)")
    if synth.schema.modality != "table":
        raise SynthguardError(f"{path}: streaming fits are for tables, not {synth.schema.modality} collections")
    source = ParquetSource(path, synth.schema, batch_rows)
    if source.n < 2:
        raise SynthguardError(f"{path}: need at least 2 rows to fit, got {source.n}")
    encoder_seed, train_seed = synth._start_fit(source.resolved)
    nulls = fit_encoder(synth.encoder_, source, encoder_seed, progress=on_column)
    x, cond = encode(synth.encoder_, source, encoder_seed, nulls)
    return synth._fit_encoded(x, cond, train_seed, on_epoch)


# ---- sampling to a file ----------------------------------------------------------------------------
class _ChunkWriter:
    """Appends frames to one CSV or parquet file (parquet: one row group per write)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self.parquet: pq.ParquetWriter | None = None
        self.csv: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            first = self.csv is None
            if first:
                self.csv = open(self.path, "w", encoding="utf-8", newline="")
            frame.to_csv(self.csv, index=False, header=first)
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(self.path, table.schema)
        elif not table.schema.equals(self.parquet.schema, check_metadata=False):
            try:  # e.g. a column with no value in this chunk reads as null-typed
                table = table.cast(self.parquet.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as err:
                raise SynthguardError(f"{self.path}: sampled rows changed type between chunks ({err})") from None
        self.parquet.write_table(table)

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if self.csv is not None:
            self.csv.close()


def sample_to_file(synth: Any, n: int, path: str | Path, *, condition: Any = None, seed: int | None = None,
                   fmt: str | None = None, write_rows: int = DEFAULT_WRITE_ROWS,
                   on_rows: Callable[[int, int], None] | None = None) -> Path:
    """Draw `n` rows from a fitted table model into a CSV or parquet file, a chunk at a time, into a
    temporary file renamed onto `path` only when complete (a failure leaves nothing). The rows are
    `synth.sample(n, condition, seed)`'s. `on_rows(written, n)` reports progress."""
    path = Path(path)
    fmt = fmt or table_format(path)
    if fmt not in ("csv", "parquet"):
        raise InputError(f"{path}: unknown table format {fmt!r}; use csv or parquet")
    with atomic_path(path) as tmp:
        writer = _ChunkWriter(tmp, fmt)
        try:
            pending: list[pd.DataFrame] = []
            held = written = 0
            for chunk in synth.sample_chunks(n, condition, seed):
                pending.append(chunk)
                held += len(chunk)
                if held >= write_rows:
                    writer.write(pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0])
                    written += held
                    pending, held = [], 0
                    if on_rows is not None:
                        on_rows(written, n)
            if pending:
                writer.write(pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0])
                if on_rows is not None:
                    on_rows(n, n)
        finally:
            writer.close()
    return path


__all__ = ["DEFAULT_BATCH_ROWS", "ParquetSource", "encode", "fit_encoder", "fit_parquet", "sample_to_file"]
