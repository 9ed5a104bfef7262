"""What runs inside one Spark task: the local engine's runner over one range of lines.

Each task rebuilds the run plan from the config the driver loaded (``${env:…}`` already
resolved there, so the values travel in the pickled task closure and never in a log line)
and the driver's dataset scan (so optional inputs and conversations bind exactly as on the
driver), then runs :class:`evalcli.runner.Runner` in-process over its rows: no worker
processes inside a task (Spark's task slots are the parallelism), threads for judge and
target calls as locally. Each row's outputs therefore come from the very code the local
engine runs.

A task yields one Arrow batch per finished chunk of rows (the row's ``results.csv`` cells
and its ``results.json`` text, ``row_json``), then one last record (``line`` 0, never
written) with what the driver adds up: the state of the task's
:class:`~evalcli.aggregate.Aggregator` (the local engine's, fed the same rows in the same
order), its row errors, its clients' usage and, if a remote service refused the run, the
fatal error. The same task also adds its rows, failed evaluations and calls to the run's
live-progress accumulator (:mod:`evalcli.spark.live`) when it ends.
"""

from __future__ import annotations

import os
import pickle
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalcli.config import LoadedConfig
from evalcli.dataset import DatasetScan, Row
from evalcli.results import RowResult

BATCH_ROWS = 256
LINE = "line"
ROW_JSON = "row_json"
TASK_INFO = "_task"


@dataclass(frozen=True)
class TaskSpec:
    """Everything a task needs, pickled into the task closure by the driver.

    ``loaded`` holds resolved secrets: it is shipped, never printed (its repr is not
    used anywhere in logs).
    """

    loaded: LoadedConfig
    scan: DatasetScan
    concurrency: int  # this task's share of run.concurrency (see evalcli.spark.limits)
    cache_path: Path | None  # None: no call cache on Spark unless cache.path names one
    columns: tuple[str, ...]  # results.csv columns, in order ("line" first)
    nltk_data: str | None = None  # engine.nltk_data, resolved on the driver
    # The driver's live-progress accumulator (a pyspark Accumulator[TaskCounts]); None on
    # Spark Connect, which has no accumulators.
    counts: Any = None

    def __repr__(self) -> str:
        return f"TaskSpec(columns={len(self.columns)}, concurrency={self.concurrency})"


def evaluate_partition(spec: TaskSpec, batches: Iterable[Any]) -> Iterator[Any]:
    """The ``mapInArrow`` function: rows ``(_line, _payload)`` in, result batches out."""
    import pyarrow as pa

    rows = _rows(batches)
    first = next(rows, None)
    if first is None:
        return  # an empty partition
    from evalcli.aggregate import Aggregator
    from evalcli.api import RunServices, _Collector
    from evalcli.plan import PlanOptions, build_plan
    from evalcli.reporters.progress import call_counter, row_errors
    from evalcli.runner import Runner
    from evalcli.spark.live import TaskCounts

    if spec.nltk_data is not None:
        use_nltk_data(spec.nltk_data)

    opts = PlanOptions(
        concurrency=spec.concurrency,
        workers=0,  # in-process: Spark's task slots use the cores
        check_output_dir=False,
        no_cache=spec.cache_path is None,
        cache_path=spec.cache_path,
        scan=spec.scan,
        spark=True,
    )
    plan = build_plan(spec.loaded, opts)
    services = RunServices(plan)
    schema = output_schema(spec.columns)
    agg = Aggregator([b.evaluator for b in plan.evaluators], has_target=plan.target is not None)
    failed = [0]  # failed evaluations, counted as the local progress display counts them

    def count_errors(row: RowResult) -> None:
        failed[0] += row_errors(row)

    collector = _Collector(agg, None, False, count_errors)  # the local engine's metrics, errors
    sink = _BatchSink(plan, schema, collector)

    def all_rows() -> Iterator[Row]:
        yield first
        yield from rows

    # The runner runs in a thread and hands over batches as they fill, so a task holds a few
    # batches of results, never its whole partition.
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4)
    sink.emit = lambda batch: handoff.put(("batch", batch))

    def work() -> None:
        try:
            done = Runner(plan, sink, rows=all_rows(), first_line=first.line).run()
            sink.flush()
            handoff.put(("done", done))
        except BaseException as exc:  # re-raised in the task's thread: Spark sees it
            handoff.put(("error", exc))

    runner = threading.Thread(target=work, name="evalcli-spark-runner", daemon=True)
    runner.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "batch":
                yield item
                continue
            if kind == "error":
                raise item
            stats = item
            break
        calls, cached = call_counter(plan)()
        info = {
            "counts": TaskCounts(stats.rows_done, failed[0], calls, cached),
            "first_line": first.line,
            "rows": stats.rows_done,
            "agg": agg.state(),
            "errors": collector.errors,
            "usage": services.pool.usage() if services.pool is not None else {},
            "target_usage": plan.target.usage() if plan.target is not None else {},
            "fatal": str(stats.fatal) if stats.fatal is not None else None,
            "abandoned": stats.abandoned_calls,
        }
        if spec.counts is not None:  # reaches the driver when this task ends (Spark's rule)
            spec.counts.add(info["counts"])
        yield pa.RecordBatch.from_pylist([{LINE: 0, TASK_INFO: pickle.dumps(info)}], schema=schema)
    finally:
        services.close()


def use_nltk_data(path: str) -> None:
    """Search ``path`` first for NLTK data, in this process (a Python worker may have
    imported nltk for an earlier task, after which NLTK_DATA is no longer read)."""
    import sys

    os.environ["NLTK_DATA"] = os.pathsep.join(p for p in (path, os.environ.get("NLTK_DATA")) if p)
    nltk_data = sys.modules.get("nltk.data")
    if nltk_data is not None and path not in nltk_data.path:
        nltk_data.path.insert(0, path)


def _rows(batches: Iterable[Any]) -> Iterator[Row]:
    for batch in batches:
        lines = batch.column("_line").to_pylist()
        payloads = batch.column("_payload").to_pylist()
        for line, payload in zip(lines, payloads, strict=True):
            yield Row(int(line), pickle.loads(payload))


def output_schema(columns: tuple[str, ...]) -> Any:
    """Arrow schema of a task's output: ``line``, the other CSV columns as text, the row's
    JSON and the two driver-only columns."""
    import pyarrow as pa

    fields = [pa.field(LINE, pa.int64())]
    fields += [pa.field(c, pa.string()) for c in columns if c != LINE]
    fields += [pa.field(ROW_JSON, pa.string()), pa.field(TASK_INFO, pa.binary())]
    return pa.schema(fields)


class _BatchSink:
    """Runner sink: rows in input order, counted by ``collector`` and handed over
    (``emit``) in Arrow batches."""

    def __init__(self, plan: Any, schema: Any, collector: Any) -> None:
        from evalcli.reporters.files import RowEncoder

        self.collector = collector
        self.encoder = RowEncoder(plan)
        self.schema = schema
        self.buffer: list[dict[str, Any]] = []
        self.emit: Callable[[Any], None] = lambda batch: None

    def write(self, row: RowResult) -> None:
        self.collector.write(row)
        text, cells = self.encoder.encode(row)
        record: dict[str, Any] = {
            col: (None if cell == "" else str(cell))
            for col, cell in zip(self.encoder.columns, cells, strict=True)
        }
        record[LINE] = row.line
        record[ROW_JSON] = text
        self.buffer.append(record)
        if len(self.buffer) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Hand over the rows buffered so far."""
        import pyarrow as pa

        if self.buffer:
            self.emit(pa.RecordBatch.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []
