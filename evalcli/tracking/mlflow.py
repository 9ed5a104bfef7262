"""Log an evalcli run to MLflow (``output.mlflow``; ``pip install 'evalcli[mlflow]'``).

One MLflow run per evalcli run, made once the local result files are written:

* params: the resolved config, flat and scrubbed (:mod:`evalcli.tracking.params`);
* metrics: every metric of results.json (null ones have no value and are left out);
* tags: ``evalcli.*`` (dataset and config hashes, version, status, exit code, judges) over
  the user's ``tags``;
* artifacts: results.json, the row file (results.csv, or the Spark engine's Parquet
  directory), report.html, the config file;
* the row table (``MlflowClient.log_table``, which needs pandas) as ``evalcli_rows.json``.

The client gets the tracking URI explicitly (``MlflowClient(tracking_uri=...)``): nothing
global of MLflow's (``mlflow.set_tracking_uri``, an active run) changes in the caller's
process. Tracking can never cost a result: any failure (mlflow not installed, a bad URI, a
server that is down) becomes one warning line, printed and added to results.json
``warnings``, and the run's exit code stays what the evaluation made it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalcli._version import __version__
from evalcli.config import LoadedConfig, MlflowConfig
from evalcli.reporters.amend import append_warning
from evalcli.results import RunResult
from evalcli.tracking.installed import MLFLOW_INSTALL, MLFLOW_PACKAGES
from evalcli.tracking.params import (
    MAX_TAG_VALUE,
    clip,
    config_params,
    literal_secrets,
    metric_names,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: Artifact name of the row table (``log_table`` wants a .json or .parquet name).
ROW_TABLE = "evalcli_rows.json"
#: Rows put in the table at most: MLflow's table view loads the whole artifact, and every
#: row is in results.csv / results.json anyway.
TABLE_MAX_ROWS = 100_000
#: The files of the output directory that are logged, besides the rows (see _row_file).
_RESULT_FILES = ("results.json", "report.html")
#: MLflow's HTTP client retries a failed request 7 times with a backoff of minutes in all;
#: a run must not hang that long at its end for a server that is down. These apply only
#: where the user has not set the variable, and only while evalcli logs.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
#: The MLflow run's final state: the evaluation ran (passing its gates or not), could not
#: be trusted, or was stopped.
_RUN_STATUS = {
    "completed": "FINISHED",
    "gate_failed": "FINISHED",
    "run_error": "FAILED",
    "interrupted": "KILLED",
}


@dataclass(frozen=True)
class Tracked:
    """Where the run was logged."""

    run_id: str
    experiment_id: str
    tracking_uri: str

    @property
    def where(self) -> str:
        """The run's page for an HTTP(S) tracking server, else its id and store."""
        if self.tracking_uri.startswith(("http://", "https://")):
            base = self.tracking_uri.rstrip("/")
            return f"{base}/#/experiments/{self.experiment_id}/runs/{self.run_id}"
        return f"run {self.run_id} (experiment {self.experiment_id}) in {self.tracking_uri}"


class TrackingError(Exception):
    """A problem evalcli found itself (not MLflow's own exception)."""


def track_run(loaded: LoadedConfig, result: RunResult, out_dir: Path) -> Tracked | None:
    """Log a finished run whose result files are in ``out_dir``, if ``output.mlflow`` is set.

    Never raises for a tracking problem: it becomes one warning, appended to
    ``result.warnings`` and to the ``warnings`` of ``out_dir/results.json``.

    Returns:
        Where the run was logged; None when tracking is off or failed.
    """
    settings = loaded.config.output.mlflow
    if settings is None:
        return None
    try:
        with _bounded_http():
            return _log(settings, loaded, result, out_dir)
    except Exception as exc:  # whatever MLflow or the network raises: a warning, no more
        _warn(result, out_dir, loaded.scrub(f"MLflow tracking failed: {_reason(exc)}"))
        return None


def _warn(result: RunResult, out_dir: Path, warning: str) -> None:
    result.warnings.append(warning)
    try:
        append_warning(out_dir / "results.json", warning)
    except (OSError, ValueError) as exc:  # the console line still says it
        result.warnings.append(f"results.json not updated with the warning above: {exc}")


def _reason(exc: BaseException) -> str:
    """One line saying why, from an exception (MLflow's messages can span many lines)."""
    package = (exc.name or "").split(".")[0] if isinstance(exc, ImportError) else ""
    if package in MLFLOW_PACKAGES:
        return f"{package} is not installed ({MLFLOW_INSTALL})"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return clip(text, 400)


@contextlib.contextmanager
def _bounded_http() -> Iterator[None]:
    """MLflow's HTTP retry settings bounded (:data:`_HTTP_DEFAULTS`) for the duration."""
    added = [name for name in _HTTP_DEFAULTS if name not in os.environ]
    for name in added:
        os.environ[name] = _HTTP_DEFAULTS[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _quiet_mlflow_log() -> Iterator[None]:
    """MLflow's INFO lines (creating database tables, ...) and the Python warnings raised in
    its code kept off the console while evalcli logs; its logged warnings still show.
    MLflow sets its logger's level when it is imported, so this runs after the import, and
    puts the level back."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        with warnings.catch_warnings():
            # Python warnings raised at MLflow's own lines (its deprecations, pandas' about
            # how MLflow calls it) say nothing an evalcli user can act on.
            warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
            yield
    finally:
        logger.setLevel(level)


def _log(settings: MlflowConfig, loaded: LoadedConfig, result: RunResult, out_dir: Path) -> Tracked:
    # Imported here: only runs that track load MLflow (it takes a second or two).
    from mlflow.tracking import MlflowClient

    with _quiet_mlflow_log():
        return _log_run(
            MlflowClient(tracking_uri=settings.tracking_uri), settings, loaded, result, out_dir
        )


def _log_run(
    client: MlflowClient,
    settings: MlflowConfig,
    loaded: LoadedConfig,
    result: RunResult,
    out_dir: Path,
) -> Tracked:
    from mlflow.entities import Metric, Param

    params = config_params(loaded)
    experiment_id = _experiment(client, settings.experiment)
    tags = _tags(settings, loaded, result)
    run = client.create_run(experiment_id, run_name=settings.run_name or result.run.name, tags=tags)
    run_id = run.info.run_id
    notes: list[str] = []
    try:
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in metric_names(result.metrics).items()]
        param_list = [Param(k, v) for k, v in params.items()]
        # MLflow takes at most 100 params and 1,000 metrics per batch.
        for i in range(0, len(param_list), 100):
            client.log_batch(run_id, params=param_list[i : i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i : i + 1000])
        _log_files(client, run_id, loaded, result, out_dir, notes)
        table = _row_table(out_dir, result)
        if table is not None and len(table):
            client.log_table(run_id, data=table, artifact_file=ROW_TABLE)
        if notes:
            client.set_tag(run_id, "evalcli.notes", clip("; ".join(notes), MAX_TAG_VALUE))
    except BaseException:
        with contextlib.suppress(Exception):  # the reason that matters is the first one
            client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, _RUN_STATUS[result.status])
    return Tracked(run_id, experiment_id, str(client.tracking_uri))


def _experiment(client: MlflowClient, name: str | None) -> str:
    """The experiment's id, creating it if needed (MLflow's default one if none is named)."""
    name = name or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if not name:
        return os.environ.get("MLFLOW_EXPERIMENT_ID") or "0"
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name)
        except Exception:  # another run created it meanwhile: use that one
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise TrackingError(
            f"experiment {name!r} is deleted in MLflow; restore it or name another one"
        )
    return str(found.experiment_id)


def _tags(settings: MlflowConfig, loaded: LoadedConfig, result: RunResult) -> dict[str, str]:
    """The user's tags, then evalcli's own (``evalcli.*`` names are evalcli's)."""
    tags = {str(k): _tag_text(v) for k, v in settings.tags.items()}
    run = result.run
    judges = sorted({e.judge for e in run.evaluators.values() if e.judge})
    ours = {
        "evalcli.version": __version__,
        "evalcli.status": result.status,
        "evalcli.exit_code": str(result.exit_code),
        "evalcli.config_sha256": run.config_sha256,
        "evalcli.config_file": loaded.path.name,
        "evalcli.dataset_sha256": run.dataset.sha256,
        "evalcli.dataset": run.dataset.path,
        "evalcli.dataset_rows": str(run.dataset.rows),
        "evalcli.evaluators": ", ".join(f"{a}={e.use}" for a, e in run.evaluators.items()),
    }
    if judges:
        ours["evalcli.judge"] = "; ".join(judges)
    judge = loaded.config.judge
    if judge is not None:
        ours["evalcli.judge_model"] = f"{judge.type} {judge.model_name}"
    if result.gates:
        passed = sum(g.passed for g in result.gates)
        ours["evalcli.gates"] = f"{passed} of {len(result.gates)} passed"
    tags.update(ours)
    return {k: clip(loaded.scrub(v), MAX_TAG_VALUE) for k, v in tags.items()}


def _tag_text(value: str | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _log_files(
    client: MlflowClient,
    run_id: str,
    loaded: LoadedConfig,
    result: RunResult,
    out_dir: Path,
    notes: list[str],
) -> None:
    for name in _RESULT_FILES:
        if (out_dir / name).is_file():
            client.log_artifact(run_id, str(out_dir / name))
    rows = _row_file(out_dir, result)
    if rows.is_dir():  # Spark writes a directory of part files
        client.log_artifacts(run_id, str(rows), artifact_path=rows.name)
    elif rows.is_file():
        client.log_artifact(run_id, str(rows))
    literal = literal_secrets(loaded)
    if literal:
        notes.append(
            f"config file not uploaded: it holds a literal secret ({', '.join(literal)}); "
            "use ${env:NAME}"
        )
    else:
        client.log_artifact(run_id, str(loaded.path), artifact_path="config")


def _row_file(out_dir: Path, result: RunResult) -> Path:
    """This run's row file: the Spark engine's Parquet directory, else results.csv (a file
    the other engine left in the same directory earlier is not this run's)."""
    if result.rows_parquet:
        return out_dir / result.rows_parquet
    return out_dir / "results.csv"


def _row_table(out_dir: Path, result: RunResult) -> Any:
    """The first :data:`TABLE_MAX_ROWS` rows as a pandas DataFrame (None: no row file)."""
    import pandas as pd  # log_table needs it; part of the mlflow extra

    rows = _row_file(out_dir, result)
    if not rows.exists():
        return None
    if rows.suffix == ".parquet":
        import pyarrow.dataset as ds  # the Spark engine's extra has it

        table = ds.dataset(str(rows), format="parquet").head(TABLE_MAX_ROWS).to_pandas()
        # The Spark engine's row_json column repeats the row as JSON: the CSV columns only.
        return table.drop(columns=["row_json"], errors="ignore")
    # low_memory=False: typed from all the rows read, not chunk by chunk (which warns
    # about columns whose chunks disagree).
    return pd.read_csv(rows, nrows=TABLE_MAX_ROWS, low_memory=False)
