"""MLflow tracking (``output.mlflow``) against a real ``mlflow server`` and a SQLite store.

The server is started once for the module on 127.0.0.1 with a SQLite backend store and
proxied artifacts (the HTTP path users have); each run is read back with ``MlflowClient``
and compared with the run's results.json.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.config import load_config
from evalcli.reporters.amend import append_warning
from evalcli.testing.stub_server import StubServer
from evalcli.tracking.params import metric_names, safe_name
from tests.conftest import REPO

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

try:
    importlib.metadata.version("mlflow")  # the full package (dev extra): server, SQL store
except importlib.metadata.PackageNotFoundError:
    pytest.skip("needs the full mlflow package (the dev extra)", allow_module_level=True)

KEY = "sk-test-secret-0123456789"
#: MLflow 3 reports usage to its makers unless told not to; tests stay offline.
OFFLINE = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` on a free loopback port: SQLite store, proxied artifacts."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = (root / "server.log").open("wb")
    # No job runner (scheduled scorers, trace archival): the tests use none, and it holds the
    # first requests back for many seconds while it starts.
    env = {**os.environ, **OFFLINE, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a cold start under load takes 10-20 s
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not ready: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow reads these when it is imported: every import of it here is inside a test."""
    for name, value in OFFLINE.items():
        monkeypatch.setenv(name, value)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)


def mlflow_client(uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def quickstart(tmp_path: Path, mlflow_yaml: str, gate_min: float = 0.6) -> Path:
    """configs/quickstart.yaml, run from tmp_path, with ``output.mlflow`` added."""
    text = (REPO / "configs" / "quickstart.yaml").read_text(encoding="utf-8")
    text = text.replace("../sample_data/qa.jsonl", str(REPO / "sample_data" / "qa.jsonl"))
    text = text.replace("dir: ../results/quickstart", f"dir: out\n  mlflow: {mlflow_yaml}")
    text = text.replace("f1_score.pass_rate, min: 0.6", f"f1_score.pass_rate, min: {gate_min}")
    cfg = tmp_path / "quickstart.yaml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def results(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "out" / "results.json").read_text())
    return data


def only_run(client: MlflowClient, experiment: str) -> Any:
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return runs[0]


def artifact_names(client: MlflowClient, run_id: str) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id)}


def check_run_matches_results(
    client: MlflowClient, run: Any, data: dict[str, Any], tmp_path: Path
) -> None:
    """Params, metrics, tags, artifacts and the row table agree with results.json."""
    assert run.data.metrics == {k: v for k, v in data["metrics"].items() if v is not None}
    params = run.data.params
    assert params["evaluators.bleu.threshold"] == "0.3"
    assert params["evaluators.rougeL.params.rouge_type"] == "rougeL"
    assert params["columns.response"] == "${data.answer}"
    assert params["run.max_error_rate"] == "0.0"
    assert params["gates.1.metric"] == "rougeL.rouge"
    assert not [k for k in params if k.startswith("output.mlflow")]
    tags = run.data.tags
    assert tags["evalcli.dataset_sha256"] == data["run"]["dataset"]["sha256"]
    assert tags["evalcli.config_sha256"] == data["run"]["config_sha256"]
    assert tags["evalcli.version"] == data["run"]["evalcli_version"]
    assert tags["evalcli.exit_code"] == str(data["exit_code"])
    assert tags["evalcli.status"] == data["status"]
    assert run.info.run_name == "quickstart"
    run_id = run.info.run_id
    assert artifact_names(client, run_id) == {
        "results.json",
        "results.csv",
        "report.html",
        "config",
        "evalcli_rows.json",
    }
    assert [a.path for a in client.list_artifacts(run_id, "config")] == ["config/quickstart.yaml"]
    got = Path(client.download_artifacts(run_id, "results.json", str(tmp_path)))
    assert got.read_bytes() == (tmp_path / "out" / "results.json").read_bytes()
    table = json.loads(Path(client.download_artifacts(run_id, "evalcli_rows.json")).read_text())
    column = table["columns"].index("outputs.f1_score.f1_score")
    # MLflow writes the table's numbers with 10 decimals (pandas' to_json default).
    assert [row[column] for row in table["data"]] == pytest.approx(
        [row["outputs.f1_score.f1_score"] for row in data["rows"]], abs=1e-9
    )


def test_a_run_is_logged_to_an_mlflow_server(
    cli: CliRunner, tmp_path: Path, mlflow_server: str
) -> None:
    cfg = quickstart(
        tmp_path,
        f'{{tracking_uri: "{mlflow_server}", experiment: qs-http, run_name: quickstart, '
        "tags: {team: nlp, sprint: 12, nightly: true}}",
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    assert data["warnings"] == []
    client = mlflow_client(mlflow_server)
    run = only_run(client, "qs-http")
    assert run.info.status == "FINISHED"
    check_run_matches_results(client, run, data, tmp_path)
    tags = run.data.tags
    assert (tags["team"], tags["sprint"], tags["nightly"]) == ("nlp", "12", "true")
    assert f"mlflow: {mlflow_server}/#/experiments/{run.info.experiment_id}/runs/" in res.stderr
    assert run.info.run_id in res.stderr
    # Nothing of MLflow's global state changed in this process.
    import mlflow

    assert mlflow.active_run() is None and mlflow.get_tracking_uri() != mlflow_server
    assert not [k for k in os.environ if k.startswith("MLFLOW_HTTP_REQUEST_")]


def test_a_sqlite_tracking_uri_and_a_failed_gate(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No server: MLflow's SQL store directly; artifacts go to ./mlruns. A failed gate is
    still a finished MLflow run, with exit code 1 in its tags."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = quickstart(tmp_path, f'{{tracking_uri: "{uri}", experiment: qs-sqlite}}', gate_min=0.9)
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 1, res.stderr
    data = results(tmp_path)
    assert data["status"] == "gate_failed" and data["warnings"] == []
    client = mlflow_client(uri)
    run = only_run(client, "qs-sqlite")
    assert run.info.status == "FINISHED"
    assert run.data.tags["evalcli.exit_code"] == "1"
    assert run.data.tags["evalcli.gates"] == "1 of 2 passed"
    check_run_matches_results(client, run, data, tmp_path)
    assert (tmp_path / "mlruns").is_dir()


@pytest.mark.parametrize("uri", ["http://127.0.0.1:{port}", "nosuchscheme://tracking"])
def test_a_tracking_failure_is_one_warning_and_keeps_everything(tmp_path: Path, uri: str) -> None:
    """A server that is down or a URI MLflow cannot use: the results are all written, the
    exit code (1: a gate failed) is the evaluation's, and one warning says why. MLflow's own
    retries (minutes for a dead server) are bounded while evalcli logs."""
    uri = uri.format(port=_free_port())  # nothing listens there
    cfg = quickstart(tmp_path, f'{{tracking_uri: "{uri}", experiment: x}}', gate_min=0.9)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "evalcli", "run", str(cfg), "-q"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert time.monotonic() - started < 60
    assert proc.returncode == 1, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "MLflow tracking failed" in warnings[0], proc.stderr
    assert "Traceback" not in proc.stderr
    data = results(tmp_path)
    assert data["status"] == "gate_failed" and data["exit_code"] == 1
    assert data["warnings"] == [warnings[0].removeprefix("warning: ")]
    assert len(data["rows"]) == 20 and data["metrics"]["f1_score.pass_rate"] == 0.85
    for name in ("results.csv", "report.html"):
        assert (tmp_path / "out" / name).is_file()


def test_a_run_that_fails_half_way_is_marked_failed(cli: CliRunner, tmp_path: Path) -> None:
    """The run is created and its params logged, then the artifacts cannot be stored: the
    MLflow run says FAILED, the evalcli run keeps its files and exit code, one warning."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    mlflow_client(uri).create_experiment("broken", artifact_location=str(blocker))
    cfg = quickstart(tmp_path, f"{{tracking_uri: '{uri}', experiment: broken}}")
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    assert len(data["warnings"]) == 1 and "MLflow tracking failed" in data["warnings"][0]
    assert f"warning: {data['warnings'][0]}" in res.stderr
    run = only_run(mlflow_client(uri), "broken")
    assert run.info.status == "FAILED"
    assert run.data.params["evaluators.bleu.threshold"] == "0.3"
    assert "mlflow:" not in res.stderr


def test_mlflow_not_installed_is_a_warning(tmp_path: Path) -> None:
    cfg = quickstart(tmp_path, "{tracking_uri: sqlite:///never.db}")
    code = "import sys; sys.modules['mlflow'] = None; from evalcli.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", str(cfg), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    expected = "MLflow tracking failed: mlflow is not installed (pip install 'evalcli[mlflow]')"
    assert f"warning: {expected}" in proc.stderr.splitlines()
    assert results(tmp_path)["warnings"] == [expected]
    assert not (tmp_path / "never.db").exists()


def test_secrets_never_reach_mlflow(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_server: str
) -> None:
    """Values from ${env:...} are logged as the reference, whatever the variable's name."""
    rows = [
        {"question": f"Q{i}?", "answer": f"A{i}. STUB_SCORE={5 - i % 3}", "truth": f"A{i}."}
        for i in range(3)
    ]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with StubServer(api_key=KEY, models={"gpt-4o"}) as stub:
        monkeypatch.setenv("SECRET", KEY)
        monkeypatch.setenv("JUDGE_ENDPOINT", stub.url)
        cfg = tmp_path / "judged.yaml"
        cfg.write_text(
            "name: judged\n"
            "dataset: {path: data.jsonl}\n"
            "columns: {query: ${data.question}, response: ${data.answer}}\n"
            "judge:\n"
            "  type: azure_openai\n"
            "  endpoint: ${env:JUDGE_ENDPOINT}\n"
            "  deployment: gpt-4o\n"
            "  api_key: ${env:SECRET}\n"
            "evaluators:\n"
            "  relevance: {}\n"
            "output:\n"
            "  dir: out\n"
            f"  mlflow: {{tracking_uri: '{mlflow_server}', experiment: secrets}}\n",
            encoding="utf-8",
        )
        res = cli.invoke(app, ["run", str(cfg), "-q"])
        assert res.exit_code == 0, res.stderr
        endpoint = stub.url
    client = mlflow_client(mlflow_server)
    run = only_run(client, "secrets")
    params, tags = run.data.params, run.data.tags
    assert params["judge.api_key"] == "${env:SECRET}"
    assert params["judge.endpoint"] == "${env:JUDGE_ENDPOINT}"
    assert params["judge.deployment"] == "gpt-4o"
    assert "gpt-4o" in tags["evalcli.judge"] and tags["evalcli.judge_model"].endswith("gpt-4o")
    logged = json.dumps([params, tags])
    assert KEY not in logged and endpoint not in json.dumps(params)
    for name in ("results.json", "results.csv", "report.html", "config/judged.yaml"):
        text = Path(client.download_artifacts(run.info.run_id, name, str(tmp_path))).read_text()
        assert KEY not in text, name


def test_a_literal_secret_keeps_the_config_file_out(cli: CliRunner, tmp_path: Path) -> None:
    """A key written into the config (not ${env:...}) is masked in params, and the file that
    holds it is not uploaded (the rest is)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = quickstart(tmp_path, f"{{tracking_uri: '{uri}', experiment: literal}}")
    judge = (
        f"judge: {{type: openai, model: gpt-4o, base_url: 'http://127.0.0.1:9', api_key: {KEY}}}\n"
    )
    cfg.write_text(cfg.read_text().replace("evaluators:\n", judge + "evaluators:\n"))
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    client = mlflow_client(uri)
    run = only_run(client, "literal")
    assert run.data.params["judge.api_key"] == "***"
    assert KEY not in json.dumps([run.data.params, run.data.tags])
    assert "judge.api_key" in run.data.tags["evalcli.notes"]
    assert "config" not in artifact_names(client, run.info.run_id)
    assert "results.json" in artifact_names(client, run.info.run_id)


def test_the_spark_engines_parquet_rows_are_logged(tmp_path: Path) -> None:
    """A run whose rows are a Parquet directory (the Spark engine's layout): that directory
    is logged and read for the table; a results.csv left by an earlier run is not."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from evalcli.api import run
    from evalcli.tracking.mlflow import track_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = quickstart(tmp_path, f"{{tracking_uri: '{uri}', experiment: parquet}}")
    result = run(cfg)
    out = tmp_path / "out"
    parts = out / "rows.parquet"
    parts.mkdir()
    frame = pd.read_csv(out / "results.csv")
    frame["row_json"] = [json.dumps(r) for r in results(tmp_path)["rows"]]
    frame.to_parquet(parts / "part-00000.parquet")
    (parts / "_SUCCESS").write_bytes(b"")
    result.rows_parquet = "rows.parquet"
    tracked = track_run(load_config(cfg), result, out)
    assert tracked is not None, result.warnings
    client = mlflow_client(uri)
    assert artifact_names(client, tracked.run_id) == {
        "results.json",
        "report.html",
        "rows.parquet",
        "config",
        "evalcli_rows.json",
    }
    logged = {a.path for a in client.list_artifacts(tracked.run_id, "rows.parquet")}
    assert "rows.parquet/part-00000.parquet" in logged
    table = json.loads(
        Path(
            client.download_artifacts(tracked.run_id, "evalcli_rows.json", str(tmp_path))
        ).read_text()
    )
    assert len(table["data"]) == 20 and "row_json" not in table["columns"]
    assert table["columns"] == list(frame.columns[:-1])


def test_a_bad_key_is_exit_2_naming_it(cli: CliRunner, tmp_path: Path) -> None:
    cfg = quickstart(tmp_path, "{tracking_url: http://127.0.0.1:5000}")
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2
    assert "output.mlflow.tracking_url" in res.stderr and "tracking_uri" in res.stderr
    assert "Traceback" not in res.stderr


def test_metric_names_are_made_valid_for_mlflow() -> None:
    assert safe_name("code.score(%)") == "code.score___"
    assert safe_name("a/b:c") == "a_b_c"
    assert safe_name("..") == "_.."
    got = metric_names({"x.a/b": 1.0, "x.a_b": 2.0, "x.none": None, "x.nan": float("nan")})
    assert got == {"x.a_b": 1.0, "x.a_b_2": 2.0}


def _results_file(path: Path, header: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    text = json.dumps(header, ensure_ascii=False)[:-1]
    body = ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    path.write_text(f'{text}, "rows": [{body}]}}\n', encoding="utf-8")


@pytest.mark.parametrize("warnings", [[], ["an earlier one"]])
def test_append_warning_splices_the_header_and_keeps_the_rows(
    tmp_path: Path, warnings: list[str]
) -> None:
    """The header is longer than the first read (multi-byte text across the boundary) and
    holds a nested "rows" key; the rows after it are copied as they were."""
    header = {
        "status": "completed",
        "run": {"evaluators": {"e": {"params": {"a": 1, "rows": ["x"]}}}},
        "errors": [{"line": i, "message": "é€😀" * 50} for i in range(2000)],
        "usage": {"total": 12345678},
        "warnings": warnings,
    }
    rows = [{"line": i, "text": f"row {i} ü"} for i in range(5000)]
    path = tmp_path / "results.json"
    _results_file(path, header, rows)
    tail = path.read_bytes().rsplit(b'"rows": [', 1)[1]
    append_warning(path, 'MLflow tracking failed: "quoted" ünïcode')
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["warnings"] == [*warnings, 'MLflow tracking failed: "quoted" ünïcode']
    assert data["rows"] == rows and data["errors"] == header["errors"]
    assert path.read_bytes().endswith(tail)
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
