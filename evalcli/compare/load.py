"""Reading ``results.json`` files for ``compare``, with one clear error per unusable file.

The file is read as plain JSON rather than through :class:`evalcli.results.RunResult`, so
that results written by other evalcli versions still compare as long as the parts compare
needs (``metrics``, ``metric_info``, ``run.evaluators``, ``rows``) have the documented shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalcli.errors import UsageError
from evalcli.results import SCHEMA_VERSION

RESULTS_NAME = "results.json"


class CompareError(UsageError):
    """A results file or a ``compare`` option cannot be used (exit 2)."""


class RunMismatchError(CompareError):
    """The two runs were configured differently (evaluators, prompts or judges)."""


@dataclass(frozen=True)
class LoadedRun:
    """The parts of one ``results.json`` that ``compare`` uses."""

    path: Path
    name: str
    status: str
    metrics: dict[str, Any]
    metric_info: dict[str, dict[str, Any]]
    evaluators: dict[str, dict[str, Any]]
    rows: list[dict[str, Any]]


def load_run(path: Path) -> LoadedRun:
    """Read a ``results.json`` (or the one inside a results directory).

    Raises:
        CompareError: the file is missing, unreadable, not strict JSON, or lacks rows.
    """
    file = path / RESULTS_NAME if path.is_dir() else path
    where = str(file)
    if not file.is_file():
        hint = None
        if not path.exists():
            hint = "pass a results.json written by `evalcli run`, or its output directory"
        raise CompareError("no such results file", where=where, hint=hint)
    try:
        with file.open(encoding="utf-8") as fh:
            data = json.load(fh, parse_constant=_reject_constant)
    except OSError as exc:
        raise CompareError(f"cannot read the file ({exc.strerror or exc})", where=where) from None
    except UnicodeDecodeError:
        raise CompareError("the file is not UTF-8 text", where=where) from None
    except json.JSONDecodeError as exc:
        raise CompareError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", where=where
        ) from None
    except ValueError as exc:  # NaN / Infinity, rejected by _reject_constant
        raise CompareError(str(exc), where=where) from None
    if not isinstance(data, dict):
        raise CompareError("not an evalcli results file (expected a JSON object)", where=where)
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CompareError("not an evalcli results file (no schema_version)", where=where)
    if version > SCHEMA_VERSION:
        raise CompareError(
            f"written with results schema {version}; this evalcli reads up to {SCHEMA_VERSION}",
            where=where,
            hint="upgrade evalcli",
        )
    run = _section(data, "run", where)
    evaluators = _section(run, "evaluators", where, "run.evaluators")
    metrics = _section(data, "metrics", where)
    info = _section(data, "metric_info", where)
    rows = data.get("rows")
    if rows is None and "rows_parquet" in data:  # a Spark run: the rows are in Parquet
        from evalcli.parquet_rows import parquet_rows

        rows = list(parquet_rows(file, data["rows_parquet"], CompareError))
    if rows is None:
        raise CompareError(
            "the results file holds no rows; compare needs the per-row outputs", where=where
        )
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise CompareError("invalid results file: `rows` must be a list of objects", where=where)
    if not all(isinstance(v, dict) for v in info.values()) or not all(
        isinstance(v, dict) for v in evaluators.values()
    ):
        raise CompareError("invalid results file: malformed metric_info or evaluators", where=where)
    name = run.get("name")
    status = data.get("status")
    return LoadedRun(
        path=file,
        name=name if isinstance(name, str) else file.parent.name,
        status=status if isinstance(status, str) else "unknown",
        metrics=metrics,
        metric_info=info,
        evaluators=evaluators,
        rows=rows,
    )


def _section(parent: dict[str, Any], key: str, where: str, label: str = "") -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise CompareError(
            f"invalid results file: `{label or key}` is missing or malformed", where=where
        )
    return value


def _reject_constant(token: str) -> Any:
    raise ValueError(f"not strict JSON: contains {token}")
