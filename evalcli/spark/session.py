"""The SparkSession a run uses: the active one (Databricks, a notebook), else a quiet local one.

A session evalcli starts itself is for a local or standalone master named by
``engine.master``: its UI and console progress bars are off and its JVM logs only errors,
unless ``--debug``. A session that already exists is used as it is (its owner configured it).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from evalcli.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_LOG4J = Path(__file__).with_name("log4j2-quiet.properties")


PANDAS_NOTICE = "PySpark does not yet fully support pandas"


def require_pyspark() -> None:
    """Refuse, as bad input (exit 2), a Spark run without PySpark installed."""
    # PySpark warns about pandas 3 on import and on each Arrow UDF; its Arrow UDFs work with
    # it. Only that notice is silenced, by its text.
    warnings.filterwarnings("ignore", message=PANDAS_NOTICE, category=FutureWarning)
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"the Spark engine needs {exc.name}, which is not installed",
            hint="pip install 'evalcli[spark]' (PySpark 4, pyarrow, pandas; Java 17 locally)",
        ) from None


def get_session(
    master: str, debug: bool = False, conf: dict[str, str] | None = None
) -> SparkSession:
    """The active SparkSession, or a new one on ``master`` (quiet unless ``debug``, with
    ``conf`` added to evalcli's settings)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Python workers of a local master must run this interpreter (it has evalcli and
    # pyarrow), not whatever `python3` is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no network but loopback
    builder = (
        SparkSession.builder.master(master)
        .appName("evalcli")
        .config("spark.ui.enabled", "false" if not debug else "true")
        .config("spark.ui.showConsoleProgress", "false" if not debug else "true")
        .config("spark.sql.shuffle.partitions", "8")
        # Arrow batches of Spark's own size limit per row count; rows can be long texts.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1024")
    )
    if not debug:
        builder = builder.config(
            "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{_LOG4J}"
        )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("INFO" if debug else "ERROR")
    return session


def default_slots(session: SparkSession) -> int:
    """Task slots of the session: how many tasks run at once (at least 1)."""
    try:
        return max(1, int(session.sparkContext.defaultParallelism))
    except Exception:  # Spark Connect (Databricks serverless) has no SparkContext
        value = session.conf.get("spark.default.parallelism", None)
        return max(1, int(value)) if value and value.isdigit() else 8


@contextmanager
def quiet_pandas_check() -> Iterator[None]:
    """Silence PySpark's FutureWarning about pandas 3 (it still works for Arrow UDFs),
    raised each time an Arrow UDF is defined; nothing else is filtered."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=PANDAS_NOTICE,
            category=FutureWarning,
        )
        yield
