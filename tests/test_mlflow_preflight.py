"""``output.mlflow`` without MLflow installed: a warning from ``validate`` and ``run`` up front.

A machine without the ``mlflow`` extra is simulated in a fresh interpreter by hiding the
packages from every import finder: ``import mlflow`` then fails and
``importlib.util.find_spec`` answers None, exactly as where the package was never installed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from tests.conftest import BASIC_CONFIG, QA_ROWS, MakeConfig
from tests.test_startup import imported_by

#: Runs ``evalcli ARGS...`` with the packages named in argv[1] (comma-separated) uninstalled
#: as far as this interpreter can tell.
_WITHOUT = """\
import sys

HIDDEN = set(sys.argv.pop(1).split(","))


class Hiding:
    '''A finder of sys.meta_path that no longer finds the hidden packages.'''

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.finder, attr)


sys.meta_path[:] = [Hiding(f) for f in sys.meta_path]
for name in HIDDEN:
    try:
        __import__(name)
    except ModuleNotFoundError as exc:
        assert exc.name == name
    else:
        raise AssertionError(f"{name} is still importable")
sys.argv[0] = "evalcli"
from evalcli.cli import main

main()
"""


def tracked_config(make_config: MakeConfig) -> tuple[Path, int]:
    """BASIC_CONFIG with ``output.mlflow``; returns the file and the line of ``mlflow:``."""
    text = BASIC_CONFIG + "      mlflow: {tracking_uri: sqlite:///never.db}\n"
    cfg = make_config(text, QA_ROWS)
    lines = cfg.read_text(encoding="utf-8").splitlines()
    return cfg, next(i for i, line in enumerate(lines, 1) if line.startswith("  mlflow:"))


def without(
    hidden: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``evalcli *args`` with ``hidden`` uninstalled; ``env`` (if given) is added to this
    process's environment without MLFLOW_TRACKING_URI."""
    full = None
    if env is not None:
        full = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | env
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, hidden, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=full,
    )


@pytest.mark.parametrize(
    ("hidden", "missing"),
    [("mlflow", "mlflow is"), ("mlflow,pandas", "mlflow and pandas are"), ("pandas", "pandas is")],
)
def test_validate_warns_naming_the_line_and_the_install(
    make_config: MakeConfig, tmp_path: Path, hidden: str, missing: str
) -> None:
    cfg, line = tracked_config(make_config)
    proc = without(hidden, "validate", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ok: {cfg}")
    assert proc.stderr.splitlines() == [
        f"warning: {cfg}:{line}:3: output.mlflow is set but {missing} not installed, so MLflow "
        "tracking will fail when the run ends (its results are written all the same); "
        "install it with pip install 'evalcli[mlflow]'"
    ]
    assert "Traceback" not in proc.stderr


def test_run_warns_first_and_still_runs_and_exits_as_before(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg, line = tracked_config(make_config)
    proc = without("mlflow", "run", str(cfg), "-q", "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    warnings = [w for w in proc.stderr.splitlines() if w.startswith("warning: ")]
    assert warnings[0].startswith(f"warning: {cfg}:{line}:3: output.mlflow is set but mlflow is")
    # The end of the run says it again, as before: tracking failed, the results stand.
    tracked = "MLflow tracking failed: mlflow is not installed (pip install 'evalcli[mlflow]')"
    assert warnings[1:] == [f"warning: {tracked}"]
    data = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert data["status"] == "completed" and data["warnings"] == [tracked]
    assert not (tmp_path / "never.db").exists()


def test_no_warning_when_installed_and_validate_does_not_import_it(
    cli: CliRunner, make_config: MakeConfig
) -> None:
    for package in ("mlflow", "pandas"):
        try:
            importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"needs {package} (the dev extra)")
    cfg, _ = tracked_config(make_config)
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    # Looked up, not imported: MLflow's import takes seconds.
    assert not imported_by("validate", str(cfg)) & {"mlflow", "pandas"}


def test_a_config_without_mlflow_never_looks(make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    proc = without("mlflow,pandas", "validate", str(cfg))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert not imported_by("validate", str(cfg)) & {
        "evalcli.tracking",
        "evalcli.tracking.installed",
    }


SKINNY = "sqlalchemy,alembic"  # what mlflow-skinny (the mlflow extra) lacks for a database store


@pytest.mark.parametrize(
    ("mlflow_yaml", "env", "mlruns", "expected"),
    [
        # No URI anywhere: MLflow (3.7 on) defaults to sqlite:///mlflow.db.
        ("{}", {}, False, "MLflow's default sqlite:///mlflow.db: no tracking_uri set"),
        ("{tracking_uri: sqlite:///runs.db}", {}, False, "tracking_uri sqlite:///runs.db"),
        ("{tracking_uri: postgresql+psycopg2://db/mlflow}", {}, False, "tracking_uri postgresql"),
        ("{}", {"MLFLOW_TRACKING_URI": "sqlite:///e.db"}, False, "MLFLOW_TRACKING_URI=sqlite"),
        # A server, an existing file store, Databricks: the client alone is enough.
        ("{tracking_uri: http://127.0.0.1:9}", {}, False, None),
        ("{}", {"MLFLOW_TRACKING_URI": "https://mlflow.example"}, False, None),
        ("{}", {}, True, None),
        ("{}", {"DATABRICKS_RUNTIME_VERSION": "15.4"}, False, None),
    ],
)
def test_a_database_store_without_its_packages_is_said_up_front(
    tmp_path: Path, mlflow_yaml: str, env: dict[str, str], mlruns: bool, expected: str | None
) -> None:
    (tmp_path / "data.jsonl").write_text('{"answer": "a b", "truth": "a b"}\n')
    (tmp_path / "eval.yaml").write_text(
        "dataset: {path: data.jsonl}\n"
        "columns: {response: ${data.answer}, ground_truth: ${data.truth}}\n"
        "evaluators: {f1_score: {}}\n"
        f"output:\n  dir: out\n  mlflow: {mlflow_yaml}\n"
    )
    if mlruns:  # what MLflow takes as existing file-store data (its own test)
        (tmp_path / "mlruns" / "0").mkdir(parents=True)
        (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    proc = without(SKINNY, "validate", "eval.yaml", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    if expected is None:
        assert proc.stderr == ""
        return
    (warning,) = proc.stderr.splitlines()
    # Line 6 is `  mlflow: ...`: the key (column 3), or the tracking_uri value written there
    # (`  mlflow: {tracking_uri: ` is 25 characters).
    column = 26 if "tracking_uri" in mlflow_yaml else 3
    where = f"eval.yaml:6:{column}"
    assert warning.startswith(f"warning: {where}: ")
    assert f"the MLflow tracking URI ({expected}" in warning
    assert "needs the full mlflow package (sqlalchemy, alembic not installed)" in warning
    assert "install it with pip install mlflow" in warning
