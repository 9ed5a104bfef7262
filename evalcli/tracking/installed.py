"""Whether the packages a configured tracker needs are installed, known before the run.

Tracking runs once the results are written and its failure is never fatal, so without this
check a config with ``output.mlflow`` on a machine without MLflow would learn it only when
the whole run is over. The packages are looked up (:func:`importlib.util.find_spec`), not
imported: importing MLflow takes seconds, and ``evalcli validate`` must stay quick.
"""

from __future__ import annotations

import importlib.util

from evalcli.config import LoadedConfig

#: How to get what ``output.mlflow`` needs (the ``mlflow`` extra of pyproject.toml).
MLFLOW_INSTALL = "pip install 'evalcli[mlflow]'"
#: The packages MLflow tracking imports: the client, and pandas for the row table
#: (``MlflowClient.log_table``); the extra brings both.
MLFLOW_PACKAGES = ("mlflow", "pandas")


def installed(name: str) -> bool:
    """Whether ``import name`` would find a top-level package, without importing it."""
    try:
        # None also for a None entry in sys.modules, which makes the import fail as well.
        return importlib.util.find_spec(name) is not None
    except ValueError:  # in sys.modules already, without a __spec__: it is there
        return True


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
