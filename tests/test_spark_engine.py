"""The Spark engine gives what the local engine gives: metrics, row outputs, row errors, exit
codes; a retried task duplicates no row.

One SparkSession on ``local[2]`` serves the module (a JVM per test would cost minutes); the
retry test runs ``evalcli run --engine spark`` in a subprocess on ``local[2,2]`` (plain local
mode never retries a task, and one process holds one SparkContext).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.testing.stub_server import StubServer
from tests.conftest import QA_ROWS, REPO, MakeConfig, write_jsonl

pyspark = pytest.importorskip("pyspark", reason="the Spark engine needs pyspark (evalcli[spark])")
pq = pytest.importorskip("pyarrow.parquet")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

KEY = "spark-judge-key"


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    from evalcli.spark.session import get_session

    # Managed tables (output.table) go to the warehouse: a fresh one, not ./spark-warehouse.
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = get_session("local[2]", conf={"spark.sql.warehouse.dir": str(warehouse)})
    yield session
    session.stop()


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with StubServer(api_key=KEY, models={"gpt-4o"}) as srv:
        yield srv


def run_both(cli: CliRunner, cfg: Path, *extra: str) -> tuple[Any, Any]:
    """The same config on both engines; returns the two CLI results."""
    local = cli.invoke(app, ["run", str(cfg), "-q", "--output-dir", "out_local", *extra])
    spark = cli.invoke(
        app, ["run", str(cfg), "-q", "--output-dir", "out_spark", "--engine", "spark", *extra]
    )
    return local, spark


def results(out: str) -> dict[str, Any]:
    return json.loads(Path(out, "results.json").read_text(encoding="utf-8"))


def parquet_rows(out: str) -> list[dict[str, Any]]:
    table = pq.read_table(Path(out, "rows.parquet"))
    return [json.loads(text) for text in table.column("row_json").to_pylist()]


def assert_same_metrics(local: dict[str, Any], spark: dict[str, Any]) -> None:
    assert list(local["metrics"]) == list(spark["metrics"])  # same metrics, same order
    for name, value in local["metrics"].items():
        other = spark["metrics"][name]
        if value is None or other is None:
            assert value == other, name
        else:
            assert math.isclose(value, other, rel_tol=1e-12, abs_tol=1e-12), name


def assert_close(local: Any, spark: Any, where: str = "") -> None:
    """Equal, but floats only to 1e-12: a task's sums are added to the others' on the driver,
    so the order of float additions differs from one pass over the rows."""
    if isinstance(local, float) and isinstance(spark, float):
        assert math.isclose(local, spark, rel_tol=1e-12, abs_tol=1e-12), where
    elif isinstance(local, dict) and isinstance(spark, dict):
        assert local.keys() == spark.keys(), where
        for key in local:
            assert_close(local[key], spark[key], f"{where}.{key}")
    elif isinstance(local, list) and isinstance(spark, list):
        assert len(local) == len(spark), where
        for i, (x, y) in enumerate(zip(local, spark, strict=True)):
            assert_close(x, y, f"{where}[{i}]")
    else:
        assert local == spark, where


def assert_same_run(local_res: Any, spark_res: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Same exit code, metrics, summaries, gates, row errors, rows; Parquet instead of rows."""
    assert local_res.exit_code == spark_res.exit_code, (local_res.stderr, spark_res.stderr)
    local, spark = results("out_local"), results("out_spark")
    assert_same_metrics(local, spark)
    for key in ("status", "message", "metric_info", "errors"):
        assert local[key] == spark[key], key
    for key in ("summaries", "gates"):
        assert_close(local[key], spark[key], key)
    assert local["usage"].get("total", {}).get("calls") == spark["usage"].get("total", {}).get(
        "calls"
    )
    assert "rows" not in spark and spark["rows_parquet"] == "rows.parquet"
    assert parquet_rows("out_spark") == local["rows"]
    return local, spark


def test_quickstart_gives_the_local_results_and_compare_report_read_them(
    spark: SparkSession, cli: CliRunner
) -> None:
    local_res, spark_res = run_both(cli, REPO / "configs" / "quickstart.yaml")
    assert spark_res.exit_code == 0, spark_res.stderr
    assert_same_run(local_res, spark_res)
    # The Parquet columns are results.csv's (cells as in the CSV, empty cells null).
    header = Path("out_local", "results.csv").read_text(encoding="utf-8").splitlines()[0]
    table = pq.read_table(Path("out_spark", "rows.parquet"))
    assert table.column_names == [*header.split(","), "row_json"]
    assert table.column("line").to_pylist() == list(range(1, 21))
    assert Path("out_spark", "report.html").is_file()  # written from the Parquet rows
    res = cli.invoke(app, ["compare", "out_local", "out_spark", "--fail-on-regression"])
    assert res.exit_code == 0, res.stderr
    res = cli.invoke(app, ["report", "out_spark", "--output", "again.html"])
    assert res.exit_code == 0, res.stderr


SHAPE_PY = """
def shape(query):
    n = int(query.split()[-1])
    return {"early": n / 2} if n < 20 else {"late": 1.0, "early": n / 3}
"""


def test_judge_run_on_the_stub_same_errors_and_gate_exit(
    spark: SparkSession, cli: CliRunner, make_config: MakeConfig, stub: StubServer
) -> None:
    rows = [{"q": f"question {i}", "a": f"answer {i}", "t": f"answer {i % 7}"} for i in range(40)]
    rows[5]["a"] = "answer STUB_SCORE=99"  # out of the rubric's range: a row error
    rows[17]["a"] = None  # not text: the NLP metric's row error
    del rows[23]["a"]  # missing input
    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        columns: {{query: ${{data.q}}, response: ${{data.a}}, ground_truth: ${{data.t}}}}
        judge:
          type: azure_openai
          endpoint: {stub.url}
          deployment: gpt-4o
          api_key: ${{env:AZURE_OPENAI_API_KEY}}
          concurrency: 4
        evaluators:
          relevance: {{}}
          f1_score: {{}}
          shape: {{use: code, function: shape.py:shape}}
        run: {{max_error_rate: 0.2}}
        cache: {{enabled: false}}
        gates:
          - {{metric: relevance.pass_rate, min: 0.99}}
        """,
        rows,
    )
    # Metrics learned at run time, in the order rows show them: "early" from line 1,
    # "late" from line 21 (the second task, which alone would learn "late" first).
    (cfg.parent / "shape.py").write_text(SHAPE_PY, encoding="utf-8")
    local_res, spark_res = run_both(cli, cfg)
    assert spark_res.exit_code == 1, spark_res.stderr  # the gate fails on both engines
    local, _ = assert_same_run(local_res, spark_res)
    shape = [m for m in local["metrics"] if m.startswith("shape.")]
    assert shape == ["shape.early", "shape.late", "shape.error_count"]
    kinds = {(e["line"], e["evaluator"]): e["kind"] for e in local["errors"]}
    assert kinds[(6, "relevance")] == "judge-score-out-of-range"
    assert (24, "f1_score") in kinds
    assert KEY not in spark_res.stderr and KEY not in Path("out_spark/results.json").read_text()


def test_conversations_with_the_engine_in_the_config(
    spark: SparkSession, cli: CliRunner, make_config: MakeConfig, stub: StubServer
) -> None:
    def turn(role: str, text: str) -> dict[str, str]:
        return {"role": role, "content": text}

    conv = [
        {"messages": [turn("user", "q1"), turn("assistant", "a1 STUB_SCORE=5")]},
        {
            "messages": [
                turn("user", "q1"),
                turn("assistant", "a1 STUB_SCORE=4"),
                turn("user", "q2"),
                turn("assistant", "a2 STUB_SCORE=2"),
            ]
        },
        {"messages": [turn("user", "q")]},  # no answer: a bad conversation
    ]
    rows = [{"conversation": conv[i % 3]} for i in range(12)]
    rows.append({"query": "single", "response": "single STUB_SCORE=3"})
    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        judge: {{type: azure_openai, endpoint: {stub.url}, deployment: gpt-4o,
                 api_key: "${{env:AZURE_OPENAI_API_KEY}}"}}
        evaluators:
          relevance: {{}}
          worst: {{use: relevance, aggregation: min}}
        run: {{max_error_rate: 1.0}}
        cache: {{enabled: false}}
        engine: {{type: spark, partitions: 3}}
        """,
        rows,
    )
    local_res = cli.invoke(
        app, ["run", str(cfg), "-q", "--output-dir", "out_local", "--engine", "local"]
    )
    spark_res = cli.invoke(app, ["run", str(cfg), "-q", "--output-dir", "out_spark"])
    assert spark_res.exit_code == 0, spark_res.stderr
    local, _ = assert_same_run(local_res, spark_res)
    assert local["metrics"]["worst.relevance"] is not None
    assert any(e["kind"] == "bad-conversation" for e in local["errors"])


def test_dirty_data_same_metrics_and_row_errors(
    spark: SparkSession, cli: CliRunner, tmp_path: Path, stub: StubServer
) -> None:
    from tests.test_dirty_data import _config, _dataset, _write

    rows = [r for r in _dataset()[:300] if len(str(r["answer"])) < 10_000]
    _write(tmp_path / "dirty.jsonl", rows)
    _config(tmp_path / "dirty.yaml", stub.url, "dirty.jsonl", "unused")
    text = (tmp_path / "dirty.yaml").read_text(encoding="utf-8")
    (tmp_path / "dirty.yaml").write_text(
        text + "run: {max_error_rate: 1.0}\ncache: {enabled: false}\n", encoding="utf-8"
    )
    local_res, spark_res = run_both(cli, tmp_path / "dirty.yaml")
    assert spark_res.exit_code == 0, spark_res.stderr
    local, _ = assert_same_run(local_res, spark_res)
    assert len(local["errors"]) > 20  # the dirty rows failed, the same way on both engines


def test_table_and_dataframe_and_parquet_datasets(
    spark: SparkSession, cli: CliRunner, make_config: MakeConfig
) -> None:
    import pyarrow as pa

    import evalcli.spark
    from evalcli.api import run

    pq.write_table(pa.Table.from_pylist(QA_ROWS * 5), "qa.parquet")
    body = """
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators: {f1_score: {}, bleu: {}}
        output: {dir: out}
        """
    # The local engine reads Parquet with pyarrow; a table needs Spark.
    local = run(make_config("dataset: {path: qa.parquet}\n" + textwrap.dedent(body)))
    assert local.exit_code == 0
    spark.createDataFrame(QA_ROWS * 5).createOrReplaceTempView("qa_rows")
    body = body.replace("{dir: out}", "{dir: out, table: qa_results}")
    cfg = make_config("dataset: {table: qa_rows}\n" + textwrap.dedent(body), name="table.yaml")
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 2
    assert "table.yaml:1" in res.stderr and "--engine spark" in res.stderr
    # Spark reads the table; the Python API returns the summary and the rows.
    got = evalcli.spark.evaluate(spark.table("qa_rows"), cfg, output_dir="out_table")
    assert got.exit_code == 0 and got.result.run.dataset.format == "table"
    assert spark.table("qa_results").count() == 20  # output.table, beside rows.parquet
    assert_same_metrics(local.model_dump(), got.result.model_dump())
    assert got.rows.count() == 20
    assert [r["line"] for r in got.rows.orderBy("line").select("line").collect()] == list(
        range(1, 21)
    )
    assert got.summary()["rows_parquet"] == "rows.parquet"
    # A limit keeps the table's first rows, as a file's; the rows stay cached in Spark.
    body = body.replace("output: {dir: out, table: qa_results}", "")
    cfg = make_config("dataset: {table: qa_rows, limit: 7}\n" + textwrap.dedent(body))
    seen: list[tuple[int, int]] = []
    limited = evalcli.spark.evaluate(
        None, cfg, write_files=False, partitions=3, progress=lambda *p: seen.append(p)
    )
    assert limited.result.run.dataset.rows == 7 and limited.rows.count() == 7
    assert seen[0] == (0, 7) and seen[-1] == (7, 7)  # the API reports progress too
    first = [json.loads(r["row_json"]) for r in limited.rows.orderBy("line").collect()]
    assert [r["inputs.id"] for r in first] == [1, 2, 3, 4, 1, 2, 3]
    assert not Path("results").exists()  # nothing written


def test_concurrency_is_divided_among_running_tasks(tmp_path: Path) -> None:
    from evalcli.config import load_config
    from evalcli.spark.limits import divided, task_share

    assert [task_share(16, s) for s in (1, 2, 3, 16, 40)] == [16, 8, 5, 1, 1]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "dataset: {path: d.jsonl}\n"
        "judge: {type: openai, model: m, concurrency: 12}\n"
        "evaluators:\n  rel: {use: relevance, judge: {type: openai, model: n, concurrency: 9}}\n"
        "run: {concurrency: 8}\n",
        encoding="utf-8",
    )
    shared = divided(load_config(cfg), 4).config
    assert shared.run.concurrency == 2
    assert shared.judge is not None and shared.judge.concurrency == 3
    assert (shared.evaluators["rel"].model_extra or {})["judge"]["concurrency"] == 2


CRASH_PY = """
import os
from pathlib import Path

def check(response):
    marker = Path(os.environ["EVALCLI_TEST_MARKER"])
    if response == "CRASH" and not marker.exists():
        marker.write_text("crashed once")
        os._exit(1)  # the Python worker dies mid-task: Spark retries the task
    return {"chars": len(response)}
"""


@pytest.mark.slow
def test_a_task_killed_mid_run_is_retried_without_duplicate_rows(tmp_path: Path) -> None:
    n = 1200
    rows = [{"answer": f"answer number {i}", "truth": f"answer {i}"} for i in range(n)]
    # Deep in the second partition (lines ~601-1200): the task has handed a batch of 256
    # rows to Spark's writer (in flight: at most 256 rows) before it dies.
    rows[1150]["answer"] = "CRASH"
    write_jsonl(tmp_path / "data.jsonl", rows)
    (tmp_path / "crash.py").write_text(CRASH_PY, encoding="utf-8")
    (tmp_path / "eval.yaml").write_text(
        textwrap.dedent(
            """
            dataset: {path: data.jsonl}
            columns: {response: ${data.answer}, ground_truth: ${data.truth}}
            evaluators:
              f1_score: {}
              crash: {use: code, function: crash.py:check}
            engine: {type: spark, master: "local[2,2]", partitions: 2}
            output: {dir: out}
            """
        ),
        encoding="utf-8",
    )
    marker = tmp_path / "marker"
    env = {**os.environ, "EVALCLI_TEST_MARKER": str(marker)}
    proc = subprocess.run(
        [sys.executable, "-m", "evalcli", "run", "eval.yaml", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert marker.read_text() == "crashed once"  # the task did die once
    lines = pq.read_table(tmp_path / "out" / "rows.parquet").column("line").to_pylist()
    assert sorted(lines) == list(range(1, n + 1))  # every row once: no duplicate, no loss
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    assert summary["summaries"][0]["scored"] == n and summary["errors"] == []


def test_parquet_on_the_local_engine_without_pyarrow_is_bad_input(
    cli: CliRunner, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(QA_ROWS), "qa.parquet")
    cfg = make_config(
        """
        dataset: {path: qa.parquet}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators: {f1_score: {}}
        """
    )
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # as if not installed
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 2
    assert "needs pyarrow" in res.stderr and "evalcli[spark]" in res.stderr
    assert "Traceback" not in res.stderr
    res = cli.invoke(app, ["run", str(cfg), "-q", "--engine", "dask"])
    assert res.exit_code == 2 and "--engine must be 'local' or 'spark'" in res.stderr


def test_a_refused_judge_is_a_run_error_on_both_engines(
    spark: SparkSession,
    cli: CliRunner,
    make_config: MakeConfig,
    stub: StubServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "not-the-key")  # 401: fatal, not a row error
    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        columns: {{query: ${{data.q}}, response: ${{data.a}}}}
        judge: {{type: azure_openai, endpoint: {stub.url}, deployment: gpt-4o,
                 api_key: "${{env:AZURE_OPENAI_API_KEY}}"}}
        evaluators: {{relevance: {{}}}}
        cache: {{enabled: false}}
        """,
        [{"q": f"q{i}", "a": f"a{i}"} for i in range(6)],
    )
    local, spark_res = run_both(cli, cfg)
    assert local.exit_code == spark_res.exit_code == 3, spark_res.stderr
    assert results("out_spark")["message"] == results("out_local")["message"]
    assert "not-the-key" not in spark_res.stderr


SLOW_PY = """
import time

def slow(response):
    time.sleep(0.003)  # 200 rows a task: ~0.6 s, longer than the driver's 0.5 s progress poll
    if response.endswith("00"):
        raise ValueError("every hundredth row fails")
    return {"chars": len(response)}
"""


@pytest.fixture
def slow_config(make_config: MakeConfig) -> Path:
    """1,200 rows in 6 partitions, 3 waves of tasks on local[2] (one row at a time in each:
    run.concurrency is shared by the 2 running tasks), ~0.6 s apart; 12 rows fail."""
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.a}}
        evaluators:
          slow: {use: code, function: slow.py:slow}
        run: {max_error_rate: 1.0, concurrency: 2}
        engine: {partitions: 6}
        """,
        [{"a": f"answer {i}"} for i in range(1, 1201)],
    )
    (cfg.parent / "slow.py").write_text(SLOW_PY, encoding="utf-8")
    return cfg


def progress_lines(stderr: str) -> list[tuple[int, str]]:
    """The log progress lines of a run: (rows done, line)."""
    return [
        (int(line.split()[1].split("/")[0].replace(",", "")), line)
        for line in stderr.splitlines()
        if line.startswith("progress: ")
    ]


def test_progress_moves_while_the_spark_job_runs(spark: SparkSession, slow_config: Path) -> None:
    from evalcli.spark.engine import SparkEngine

    engine = SparkEngine(slow_config, session=spark)
    plan = engine.validate()
    seen: list[tuple[int, int]] = []
    result, _ = engine.run(plan, progress=lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    assert {total for _, total in seen} == {1200}
    assert done[0] == 0 and done[-1] == 1200
    assert done == sorted(done)  # never backwards
    assert any(0 < d < 1200 for d in done)  # finished partitions show before the job ends
    # The tasks' numbers, exact once the job is done: rows, failed evaluations, calls.
    assert engine.counts.snapshot() == (1200, 12, 0, 0)
    assert len(result.errors) == 12
    assert not [t for t in threading.enumerate() if t.name == "evalcli-spark-progress"]


def test_log_progress_on_spark_shows_rows_before_the_job_ends(
    spark: SparkSession, cli: CliRunner, slow_config: Path
) -> None:
    res = cli.invoke(app, ["run", str(slow_config), "--engine", "spark"])
    assert res.exit_code == 0, res.stderr
    lines = progress_lines(res.stderr)  # off a terminal: a line each tenth of the rows
    assert lines[-1][0] == 1200 and any(0 < d < 1200 for d, _ in lines[:-1]), res.stderr
    assert [d for d, _ in lines] == sorted(d for d, _ in lines)
    assert " · 12 errors · " in lines[-1][1]  # the tasks' failed evaluations, not 0


def test_spark_progress_shows_the_calls_and_errors_of_the_tasks(
    spark: SparkSession, cli: CliRunner, make_config: MakeConfig, stub: StubServer
) -> None:
    rows = [{"q": f"q{i}", "a": f"a{i}"} for i in range(24)]
    rows[5]["a"] = "a STUB_SCORE=99"  # out of the rubric's range: one failed evaluation
    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        columns: {{query: ${{data.q}}, response: ${{data.a}}}}
        judge: {{type: azure_openai, endpoint: {stub.url}, deployment: gpt-4o,
                 api_key: "${{env:AZURE_OPENAI_API_KEY}}"}}
        evaluators: {{relevance: {{}}}}
        run: {{max_error_rate: 1.0}}
        cache: {{enabled: false}}
        engine: {{partitions: 3}}
        """,
        rows,
    )
    res = cli.invoke(app, ["run", str(cfg), "--engine", "spark", "--output-dir", "out"])
    assert res.exit_code == 0, res.stderr
    calls = stub.count()
    assert calls >= 24
    final = progress_lines(res.stderr)[-1][1]
    assert f"24/24 rows (100%) · {calls} calls · 1 error · " in final, res.stderr
    assert results("out")["usage"]["total"]["calls"] == calls


def test_the_progress_poller_clamps_rows_and_never_fails_the_run() -> None:
    import time

    from evalcli.spark.live import LiveCounts, TaskCounts, polling

    counts = LiveCounts()
    counts.finish(TaskCounts(rows=1500))  # a re-executed task added its rows twice
    seen: list[tuple[int, int]] = []

    def shaky(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 2:
            raise RuntimeError("the display broke")

    with polling(counts, 1200, shaky, interval_s=0.01):
        time.sleep(0.2)  # the Spark action; the poller's error does not reach it
    assert seen == [(1200, 1200), (1200, 1200)]  # clamped; polling stopped at the error
    assert not [t for t in threading.enumerate() if t.name == "evalcli-spark-progress"]
