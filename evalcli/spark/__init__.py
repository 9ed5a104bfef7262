"""The Spark engine (``pip install 'evalcli[spark]'``): the same evaluators, row by row, in
Spark tasks; rows written as Parquet, the run's summary in results.json.

From a notebook::

    import evalcli.spark
    result = evalcli.spark.evaluate(spark.table("main.eval.qa"), "config.yaml")
    result.metrics["f1.f1_score"], result.rows.show()

From the command line: ``evalcli run config.yaml --engine spark``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalcli.config import LoadedConfig
from evalcli.plan import PlanOptions
from evalcli.results import RunResult

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from evalcli.runner import ProgressFn

__all__ = ["SparkResult", "evaluate"]


@dataclass
class SparkResult:
    """What :func:`evaluate` returns.

    Attributes:
        result: The run record (what results.json holds): status, exit code, metrics,
            gates, errors, usage.
        rows: One row per input row, the columns of ``results.csv`` (cells as text) plus
            ``row_json`` (the row as the local engine's results.json holds it).
    """

    result: RunResult
    rows: DataFrame

    @property
    def metrics(self) -> dict[str, float | None]:
        """The run's metrics (``<alias>.<metric>``)."""
        return self.result.metrics

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this run (0 ok, 1 gate failed, 3 run error)."""
        return self.result.exit_code

    def summary(self) -> dict[str, Any]:
        """results.json without the rows."""
        return self.result.model_dump(mode="json", exclude={"rows", "output_dir"})


def evaluate(
    data: DataFrame | str | None,
    config: str | os.PathLike[str] | LoadedConfig,
    *,
    spark: SparkSession | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    write_files: bool = True,
    partitions: int | None = None,
    progress: ProgressFn | None = None,
) -> SparkResult:
    """Evaluate rows on Spark with a run config.

    Args:
        data: A DataFrame, a table name (``catalog.schema.table``), or None for the config's
            ``dataset``. A DataFrame's columns are the row's keys, as a table's are.
        config: The run config (a path or a loaded config).
        spark: The session (default: the active one, else a local one on ``engine.master``).
        output_dir: Where results.json and rows.parquet go (default: ``output.dir``).
        write_files: Write results.json, rows.parquet and report.html.
        partitions: Spark partitions of the rows (default: ``engine.partitions``, else the
            session's default parallelism).
        progress: Called with (rows done, rows total) while the job runs, as each partition
            finishes (the tasks' numbers reach the driver then), and once at the end.

    Raises:
        evalcli.errors.UsageError: bad config or data (what ``evalcli run`` exits 2 for).
    """
    from evalcli.spark.engine import SparkEngine
    from evalcli.spark.session import get_session

    loaded = config
    if not isinstance(loaded, LoadedConfig):
        from evalcli.config import load_config

        loaded = load_config(loaded, allow_unset=True)
    session = spark or get_session(loaded.config.engine.master)
    source = session.table(data) if isinstance(data, str) else data
    engine = SparkEngine(loaded, session=session, source=source)
    opts = PlanOptions(
        output_dir=Path(output_dir) if output_dir is not None else None,
        check_output_dir=write_files,
    )
    plan = engine.validate(opts)
    result, rows = engine.run(
        plan, write_files=write_files, partitions=partitions, progress=progress
    )
    return SparkResult(result, rows)
