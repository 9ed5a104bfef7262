"""The Spark engine: the driver's side of a run (plan, job, Parquet rows, results.json).

1. The plan is built on the driver exactly as locally (``evalcli validate`` checks), with the
   rows scanned by Spark for tables and Parquet (see :mod:`evalcli.spark.source`).
2. The rows are range-partitioned by line and each task runs the local runner over its
   range (:mod:`evalcli.spark.task`); the result is cached by Spark.
3. Spark writes the rows as Parquet (``rows.parquet/`` under the output directory, or
   ``output.table``). Its output commit keeps only one attempt of each task, so a retried
   task never duplicates rows.
4. Each task adds its rows up with the local engine's aggregator; the driver collects the
   tasks' aggregator states (one small record per task, from the committed attempts only,
   kept by Spark's cache) and merges them in line order
   (:meth:`evalcli.aggregate.Aggregator.merge`). results.json has the local engine's
   summary, with ``rows_parquet`` instead of the rows.

While the job runs, a driver thread reports the tasks' progress from an accumulator
(:mod:`evalcli.spark.live`): rows, failed evaluations and calls, one finished task at a time.
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalcli.aggregate import Aggregator
from evalcli.api import _Collector, _write_html, finish_result
from evalcli.config import LoadedConfig, load_config
from evalcli.errors import RemoteError
from evalcli.plan import PlanOptions, RunPlan, build_plan
from evalcli.reporters.files import JSON_NAME, csv_columns, dumps, strict
from evalcli.results import RunResult
from evalcli.runner import ProgressFn, RunStats
from evalcli.spark.limits import divided, task_share
from evalcli.spark.live import LiveCounts, TaskCounts, polling
from evalcli.spark.session import default_slots, get_session, quiet_pandas_check
from evalcli.spark.source import SparkScan, driver_rows, spark_source
from evalcli.spark.task import (
    LINE,
    ROW_JSON,
    TASK_INFO,
    TaskSpec,
    evaluate_partition,
    use_nltk_data,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ROWS_DIR = "rows.parquet"


class SparkEngine:
    """One run on Spark.

    Args:
        config: A config path or a loaded config.
        session: The SparkSession to use (default: the active one, else a new one on
            ``engine.master``).
        debug: Leave Spark's UI and logs on.
        source: Rows to evaluate instead of the config's dataset (the Python API's
            DataFrame); they are scanned and numbered like a table.

    Attributes:
        counts: What the tasks did so far (rows, failed evaluations, calls), read while
            :meth:`run` runs; a progress display takes its call and error counters from it.
    """

    def __init__(
        self,
        config: str | Path | LoadedConfig,
        *,
        session: SparkSession | None = None,
        debug: bool = False,
        source: DataFrame | None = None,
    ):
        self.loaded = (
            config if isinstance(config, LoadedConfig) else load_config(config, allow_unset=True)
        )
        self.spark = session or get_session(self.loaded.config.engine.master, debug)
        self._source = source
        self._rows: Callable[[], DataFrame] | None = None
        nltk_dir = self.loaded.config.engine.nltk_data
        self._nltk_data = str(self.loaded.resolve(nltk_dir)) if nltk_dir is not None else None
        self._label = ""
        self.counts = LiveCounts()

    def validate(self, options: PlanOptions | None = None) -> RunPlan:
        """Build the plan on the driver (every check of the local engine)."""
        opts = dataclasses.replace(options or PlanOptions(), spark=True)
        cfg = self.loaded.config
        if self._nltk_data is not None:
            use_nltk_data(self._nltk_data)  # the driver checks the data the tasks will use
        df = self._source if self._source is not None else spark_source(self.spark, self.loaded)
        if df is None:  # a JSONL/CSV/JSON file: the local reader, on the driver
            plan = build_plan(self.loaded, opts)
            self._rows = partial(driver_rows, self.spark, plan.dataset)
            return plan
        label = cfg.dataset.table or str(self.loaded.resolve(cfg.dataset.path or Path()))
        if self._source is not None:
            label = "<DataFrame>"
        where = self.loaded.where("dataset", "table" if cfg.dataset.table else "path")
        limit = opts.limit if opts.limit is not None else cfg.dataset.limit
        scanner = SparkScan(df, label, limit, where)
        plan = build_plan(self.loaded, dataclasses.replace(opts, scan=scanner))
        self._rows = scanner.numbered
        self._label = label
        return plan

    def run(
        self,
        plan: RunPlan,
        *,
        write_files: bool = True,
        progress: ProgressFn | None = None,
        partitions: int | None = None,
    ) -> tuple[RunResult, DataFrame]:
        """Run the plan; returns the result and the rows (a cached DataFrame, the Parquet
        columns). results.json, rows.parquet and report.html are written unless
        ``write_files`` is false."""
        assert self._rows is not None, "validate() first"
        started_wall = datetime.now(UTC)
        started = time.monotonic()
        cfg = self.loaded.config
        slots_total = default_slots(self.spark)
        parts = partitions or cfg.engine.partitions or slots_total
        slots = min(parts, slots_total)
        columns = tuple(csv_columns(plan))
        spec = TaskSpec(
            loaded=divided(self.loaded, slots),
            scan=plan.scan,
            concurrency=task_share(plan.concurrency, slots),
            cache_path=_spark_cache_path(self.loaded, plan),
            columns=columns,
            nltk_data=self._nltk_data,
            counts=self.counts.start(self.spark),
        )
        evaluated = self._evaluate(spec, parts)
        rows = evaluated.where(f"{LINE} > 0").select(*[_col(c) for c in (*columns, ROW_JSON)])
        out_dir = plan.output_dir
        total = plan.scan.rows
        if progress:
            progress(0, total)
        try:
            with polling(self.counts, total, progress):
                if write_files:
                    self._write_rows(rows, out_dir)
                else:
                    evaluated.count()  # run the tasks (the cache keeps their outcomes)
            result = self._aggregate(plan, evaluated, started_wall, started, write_files)
        finally:
            plan.close()
        if progress:
            progress(total, total)
        if self._label:
            result.run.dataset.path = self._label
            result.run.dataset.format = "table" if cfg.dataset.table or self._source else "parquet"
        if write_files:
            # The rows from the files, not from the cache: recomputing them would call the
            # judges again.
            evaluated.unpersist()
            rows = self.spark.read.parquet(str((out_dir / ROWS_DIR).absolute()))
            result.rows_parquet = ROWS_DIR
            _write_json(out_dir, result)
            if cfg.output.html:
                _write_html(plan, result)
            if cfg.output.mlflow is not None:
                from evalcli.api import _track

                _track(plan, result)
        return result, rows

    def _evaluate(self, spec: TaskSpec, parts: int) -> DataFrame:
        from pyspark import StorageLevel
        from pyspark.sql.pandas.types import from_arrow_schema

        from evalcli.spark.task import output_schema

        assert self._rows is not None
        schema = from_arrow_schema(output_schema(spec.columns))
        ranged = self._rows().repartitionByRange(parts, "_line").sortWithinPartitions("_line")
        with quiet_pandas_check():
            out = ranged.mapInArrow(partial(evaluate_partition, spec), schema)
        return out.persist(StorageLevel.MEMORY_AND_DISK)

    def _write_rows(self, rows: DataFrame, out_dir: Path) -> None:
        # Absolute: the JVM's working directory is where the session started, not ours.
        target = (out_dir / ROWS_DIR).absolute()
        rows.write.mode("overwrite").parquet(str(target))
        table = self.loaded.config.output.table
        if table is not None:
            rows.write.mode("overwrite").saveAsTable(table)

    def _aggregate(
        self,
        plan: RunPlan,
        evaluated: DataFrame,
        started_wall: datetime,
        started: float,
        write_files: bool,
    ) -> RunResult:
        agg = Aggregator([b.evaluator for b in plan.evaluators], has_target=plan.target is not None)
        sink = _Collector(agg, None, False, None)
        stats = RunStats()
        records = evaluated.where(f"{LINE} = 0").select(TASK_INFO).collect()
        infos = sorted((pickle.loads(r[TASK_INFO]) for r in records), key=lambda i: i["first_line"])
        for info in infos:  # tasks hold ranges of lines: in this order, input order
            agg.merge(info["agg"])
            sink.errors.extend(info["errors"])
            stats.rows_done += info["rows"]
        fatal = next((i["fatal"] for i in infos if i["fatal"]), None)
        if fatal is not None:
            stats.fatal = RemoteError(fatal)
        stats.abandoned_calls = sum(i["abandoned"] for i in infos)
        _add_usage(plan, infos)
        final = TaskCounts()
        for info in infos:
            final = final.plus(info["counts"])
        self.counts.finish(final)  # the committed tasks' numbers, each task counted once
        return finish_result(plan, agg, sink, stats, started_wall, started, write_files)


def _col(name: str) -> Any:
    from pyspark.sql.functions import col

    return col(f"`{name}`")


def _spark_cache_path(loaded: LoadedConfig, plan: RunPlan) -> Path | None:
    """The call cache on Spark: only where ``cache.path`` (or ``--cache``) names a place.

    The default cache is a SQLite file under the working directory: on a cluster each
    executor would have its own, empty one (no hits, only writes), and SQLite on a shared
    network path is unsafe under concurrent writers from many machines. A path the user
    names is taken as a deliberate, shared choice.
    """
    if plan.cache_path is None:
        return None
    if loaded.config.cache.path is not None and plan.cache_path == loaded.resolve(
        loaded.config.cache.path
    ):
        return plan.cache_path
    from evalcli.cache import DEFAULT_PATH

    return None if plan.cache_path == DEFAULT_PATH else plan.cache_path


def _add_usage(plan: RunPlan, infos: list[dict[str, Any]]) -> None:
    """Add the tasks' client counters into the driver's clients, whose counters the
    results' ``usage`` section reads (the driver itself made no call)."""
    from evalcli.judge.client import ClientPool

    pool = plan.services.get("clients")
    stats_of: dict[str, Any] = {}
    if isinstance(pool, ClientPool):
        stats_of = {c.label: c.stats for c in (*pool.clients.values(), *pool.others)}
    target_stats = getattr(getattr(plan.target, "remote", None), "stats", None)
    for info in infos:
        for label, counts in info["usage"].items():
            _add_counts(stats_of.get(label), counts)
        http = plan.target is not None and plan.target.kind == "http"
        if info["target_usage"] and http:
            _add_counts(target_stats, info["target_usage"])


def _add_counts(stats: Any, counts: dict[str, int]) -> None:
    if stats is None:
        return
    for key, value in counts.items():
        if isinstance(getattr(stats, key, None), int):
            setattr(stats, key, getattr(stats, key) + value)


def _write_json(out_dir: Path, result: RunResult) -> None:
    """results.json: the local engine's header, the rows as a pointer to the Parquet."""
    header = result.model_dump(mode="json", exclude={"rows", "output_dir"})
    tmp = out_dir / f".{JSON_NAME}.tmp"
    tmp.write_text(dumps(strict(header)) + "\n", encoding="utf-8")
    tmp.replace(out_dir / JSON_NAME)
    stale = out_dir / "results.csv"  # from an earlier local run: not this run's rows
    if stale.exists():
        stale.unlink()
