"""The rows of a Spark run as one DataFrame ``(_line, _payload)``, numbered 1..N.

* ``dataset.table`` and Parquet ``dataset.path`` (a file or a directory) are read by Spark:
  a first job counts each partition's rows (the partition offsets number the rows as
  ``zipWithIndex`` does, without sending rows through the driver) and scans them (the
  columns, and per mapped path the rows that have it, with the local engine's
  :func:`evalcli.dataset.lookup`); the numbering then happens inside the tasks.
* JSONL, CSV and JSON files are read on the driver by the local engine's reader (the same
  line numbers, the same errors at file:line) and handed to Spark in Arrow batches.

``_payload`` is the row as the local engine sees it (a dict), pickled, so that every type
a reader produces (Parquet timestamps, decimals, nested lists) reaches the evaluators as is.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalcli.config import LoadedConfig
from evalcli.dataset import MISSING, DataPath, Dataset, DatasetScan, lookup
from evalcli.errors import DatasetError
from evalcli.spark.session import quiet_pandas_check

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ROWS_SCHEMA = "_line long, _payload binary"
_CHUNK = 4096


def spark_source(spark: SparkSession, loaded: LoadedConfig) -> DataFrame | None:
    """The DataFrame Spark reads the dataset as, or None for a file the driver reads."""
    ds = loaded.config.dataset
    if ds.table is not None:
        try:
            return spark.table(ds.table)
        except Exception as exc:  # AnalysisException: no such table, no permission
            raise DatasetError(
                f"Spark cannot read the table {ds.table!r}: {_first_line(exc)}",
                where=loaded.where("dataset", "table"),
            ) from None
    assert ds.path is not None
    path = loaded.resolve(ds.path)
    if ds.format == "parquet" or (ds.format is None and _is_parquet(path)):
        if not path.exists():
            raise DatasetError(
                f"dataset file not found: {path}", where=loaded.where("dataset", "path")
            )
        return spark.read.parquet(str(path.absolute()))  # the JVM has its own working dir
    return None


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet" or (path.is_dir() and any(path.glob("*.parquet")))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class SparkScan:
    """Scans and numbers a DataFrame Spark reads; called by the plan with the mapped paths."""

    def __init__(self, df: DataFrame, label: str, limit: int | None, where: str | None):
        self.df = df
        self.label = label
        self.limit = limit
        self.where = where
        self.offsets: dict[int, int] = {}

    def __call__(self, data_paths: Sequence[DataPath]) -> DatasetScan:
        """One Spark job: rows per partition, columns, path hits and a content digest."""
        paths = tuple(data_paths)
        with quiet_pandas_check():
            counted = self.df.mapInArrow(
                lambda batches: _count_partition(batches, paths),
                "pid int, n long, stats binary",
            ).collect()
        counts = sorted((r["pid"], r["n"], pickle.loads(r["stats"])) for r in counted)
        offset = 0
        for pid, n, _ in counts:
            self.offsets[pid] = offset
            offset += n
        # With a row limit the scan must only count the first rows: scan those again.
        total = offset if self.limit is None else min(offset, self.limit)
        if total == 0:
            raise DatasetError(f"dataset has no rows: {self.label}", where=self.where)
        if self.limit is not None and total < offset:
            return self._scan_numbered(paths, total)
        hits: Counter[DataPath] = Counter()
        columns: dict[str, None] = {}
        digest = 0
        for _, _, stats in counts:
            hits.update(stats["hits"])
            columns.update(dict.fromkeys(stats["columns"]))
            digest = (digest + stats["digest"]) % (1 << 256)
        return self._scan(total, list(columns), hits, digest, paths)

    def _scan_numbered(self, paths: tuple[DataPath, ...], total: int) -> DatasetScan:
        limited = self.numbered()
        with quiet_pandas_check():
            rows = limited.mapInArrow(
                lambda batches: _count_partition(_unpickled(batches), paths),
                "pid int, n long, stats binary",
            ).collect()
        hits: Counter[DataPath] = Counter()
        columns: dict[str, None] = {}
        digest = 0
        for r in sorted(rows, key=lambda r: r["pid"]):
            stats = pickle.loads(r["stats"])
            hits.update(stats["hits"])
            columns.update(dict.fromkeys(stats["columns"]))
            digest = (digest + stats["digest"]) % (1 << 256)
        return self._scan(total, list(columns), hits, digest, paths)

    def _scan(
        self,
        rows: int,
        columns: list[str],
        hits: Counter[DataPath],
        digest: int,
        paths: tuple[DataPath, ...],
    ) -> DatasetScan:
        return DatasetScan(
            Path(self.label),
            "parquet",
            rows,
            columns,
            hashlib.sha256(digest.to_bytes(32, "big")).hexdigest(),
            {p: hits.get(p, 0) for p in paths},
        )

    def numbered(self) -> DataFrame:
        """The rows as ``(_line, _payload)``, numbered from the partition offsets (the
        source's partitions are deterministic, so a retried task numbers the same rows the
        same way)."""
        offsets = dict(self.offsets)
        limit = self.limit
        with quiet_pandas_check():
            return self.df.mapInArrow(
                lambda batches: _number_partition(batches, offsets, limit), ROWS_SCHEMA
            )


def _count_partition(batches: Iterable[Any], paths: tuple[DataPath, ...]) -> Iterator[Any]:
    import pyarrow as pa
    from pyspark import TaskContext

    ctx = TaskContext.get()
    pid = ctx.partitionId() if ctx is not None else 0
    n = 0
    digest = 0
    hits: Counter[DataPath] = Counter()
    columns: dict[str, None] = {}
    for row in _dicts(batches):
        n += 1
        columns.update(dict.fromkeys(row))
        for p in paths:
            if lookup(row, p) is not MISSING:
                hits[p] += 1
        # Order-independent sum of row digests: partitions may finish in any order.
        h = hashlib.sha256(pickle.dumps(row, protocol=5)).digest()
        digest = (digest + int.from_bytes(h, "big")) % (1 << 256)
    stats = {"hits": dict(hits), "columns": list(columns), "digest": digest}
    yield pa.RecordBatch.from_pylist(
        [{"pid": pid, "n": n, "stats": pickle.dumps(stats)}],
        schema=pa.schema([("pid", pa.int32()), ("n", pa.int64()), ("stats", pa.binary())]),
    )


def _dicts(batches: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for batch in batches:
        yield from batch.to_pylist()


def _unpickled(batches: Iterable[Any]) -> Iterator[Any]:
    """``(_line, _payload)`` batches back as batches of row dicts (for the limited scan)."""
    for batch in batches:
        rows = [pickle.loads(p) for p in batch.column("_payload").to_pylist()]
        if rows:
            yield _DictBatch(rows)


class _DictBatch:
    """Quacks like an Arrow batch for :func:`_dicts`."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows

    def to_pylist(self) -> list[dict[str, Any]]:
        return self.rows


def _number_partition(
    batches: Iterable[Any], offsets: dict[int, int], limit: int | None
) -> Iterator[Any]:
    import pyarrow as pa
    from pyspark import TaskContext

    ctx = TaskContext.get()
    line = offsets.get(ctx.partitionId() if ctx is not None else 0, 0)
    schema = pa.schema([("_line", pa.int64()), ("_payload", pa.binary())])
    for batch in batches:
        lines, payloads = [], []
        for row in batch.to_pylist():
            line += 1
            if limit is not None and line > limit:
                break
            lines.append(line)
            payloads.append(pickle.dumps(row, protocol=5))
        if lines:
            yield pa.RecordBatch.from_arrays(
                [pa.array(lines, pa.int64()), pa.array(payloads, pa.binary())], schema=schema
            )
        if limit is not None and line > limit:
            return


def driver_rows(spark: SparkSession, dataset: Dataset) -> DataFrame:
    """A file the local reader reads on the driver, as a ``(_line, _payload)`` DataFrame."""
    import pyarrow as pa

    schema = pa.schema([("_line", pa.int64()), ("_payload", pa.binary())])
    batches = []
    lines: list[int] = []
    payloads: list[bytes] = []
    for row in dataset.rows():
        lines.append(row.line)
        payloads.append(pickle.dumps(row.data, protocol=5))
        if len(lines) >= _CHUNK:
            batches.append(_batch(schema, lines, payloads))
            lines, payloads = [], []
    if lines:
        batches.append(_batch(schema, lines, payloads))
    return spark.createDataFrame(pa.Table.from_batches(batches, schema=schema))


def _batch(schema: Any, lines: list[int], payloads: list[bytes]) -> Any:
    import pyarrow as pa

    return pa.RecordBatch.from_arrays(
        [pa.array(lines, pa.int64()), pa.array(payloads, pa.binary())], schema=schema
    )
