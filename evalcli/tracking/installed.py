"""Whether the packages a configured tracker needs are installed, known before the run.

Tracking runs once the results are written and its failure is never fatal, so without this
check a config with ``output.mlflow`` on a machine without MLflow would learn it only when
the whole run is over. The packages are looked up (:func:`importlib.util.find_spec`), not
imported: importing MLflow takes seconds, and ``evalcli validate`` must stay quick.
"""

from __future__ import annotations

import importlib.util
import os

from evalcli.config import LoadedConfig, MlflowConfig

#: How to get what ``output.mlflow`` needs (the ``mlflow`` extra of pyproject.toml).
MLFLOW_INSTALL = "pip install 'evalcli[mlflow]'"
#: The packages MLflow tracking imports: the client, and pandas for the row table
#: (``MlflowClient.log_table``); the extra brings both.
MLFLOW_PACKAGES = ("mlflow", "pandas")
#: What MLflow's database stores import beyond the client (``mlflow-skinny`` has neither;
#: the full ``mlflow`` package brings both).
DB_STORE_PACKAGES = ("sqlalchemy", "alembic")
#: URI schemes MLflow opens as a database store (SQLAlchemy's, optionally ``+driver``).
_DB_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mssql"})
#: MLflow's tracking URI when none is set, since 3.7 (the oldest release evalcli allows):
#: a database store, unless ``./mlruns`` already holds file-store data.
MLFLOW_DEFAULT_URI = "sqlite:///mlflow.db"


def installed(name: str) -> bool:
    """Whether ``import name`` would find a top-level package, without importing it."""
    try:
        # None also for a None entry in sys.modules, which makes the import fail as well.
        return importlib.util.find_spec(name) is not None
    except ValueError:  # in sys.modules already, without a __spec__: it is there
        return True
    except ImportError:  # a finder that refuses it: the import would fail the same way
        return False


def mlflow_warning(loaded: LoadedConfig) -> str | None:
    """The warning for ``output.mlflow`` when a package it needs is missing, else None."""
    if loaded.config.output.mlflow is None:
        return None
    missing = [name for name in MLFLOW_PACKAGES if not installed(name)]
    if not missing:
        return None
    what = " and ".join(missing) + (" is" if len(missing) == 1 else " are")
    return (
        f"{loaded.where('output', 'mlflow', key=True)}: output.mlflow is set but {what} not "
        "installed, so MLflow tracking will fail when the run ends (its results are written "
        f"all the same); install it with {MLFLOW_INSTALL}"
    )


def database_store_warning(loaded: LoadedConfig) -> str | None:
    """The warning for a tracking URI that needs MLflow's database store, when that store's
    packages are missing (the ``mlflow`` extra installs only the client), else None."""
    cfg = loaded.config.output.mlflow
    if cfg is None:
        return None
    uri, source = _tracking_uri(cfg)
    if uri is None or not _is_database(uri):
        return None
    missing = [name for name in DB_STORE_PACKAGES if not installed(name)]
    if not missing:
        return None
    if cfg.tracking_uri:
        where = loaded.where("output", "mlflow", "tracking_uri")
    else:
        where = loaded.where("output", "mlflow", key=True)
    return (
        f"{where}: the MLflow tracking URI ({source}) is a database store, which needs the "
        f"full mlflow package ({', '.join(missing)} not installed), so MLflow tracking will "
        "fail when the run ends; install it with pip install mlflow, or set "
        "output.mlflow.tracking_uri (or MLFLOW_TRACKING_URI) to your tracking server"
    )


def _tracking_uri(cfg: MlflowConfig) -> tuple[str | None, str]:
    """The URI MLflow will use and where it comes from (MLflow's own order); None when
    MLflow decides by itself in a way this cannot see (a Databricks runtime)."""
    if cfg.tracking_uri:
        return cfg.tracking_uri, f"tracking_uri {cfg.tracking_uri}"
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env, f"MLFLOW_TRACKING_URI={env}"
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return None, "Databricks"  # MLflow tracks to the workspace there
    if _mlruns_has_data():
        return "./mlruns", "MLflow's default, the existing ./mlruns"
    return MLFLOW_DEFAULT_URI, f"MLflow's default {MLFLOW_DEFAULT_URI}: no tracking_uri set"


def _is_database(uri: str) -> bool:
    scheme, colon, _ = uri.partition(":")
    return bool(colon) and scheme.partition("+")[0].lower() in _DB_SCHEMES


def _mlruns_has_data() -> bool:
    """MLflow's test for keeping its old default: ``./mlruns`` holds an experiment."""
    try:
        with os.scandir("mlruns") as entries:
            return any(
                e.is_dir() and e.name.isdigit() and os.path.lexists(f"{e.path}/meta.yaml")
                for e in entries
            )
    except OSError:
        return False
