"""What a CI pipeline reads: the JUnit file (through junitparser, a real consumer), the
GitHub step summary, the runners' error annotations and their escaping, Markdown on stdout,
and progress lines in logs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.reporters import ci_annotations as ann
from evalcli.reporters.junit import junit_xml
from evalcli.reporters.markdown import cell, run_markdown
from evalcli.reporters.progress import LogProgress, clock_text
from evalcli.testing.stub_server import StubServer
from tests.conftest import REPO, MakeConfig, write_jsonl

KEY = "sk-test-secret-0123456789"
# A message with everything that breaks XML, tables, Markdown or a workflow command.
NASTY = "boom | pipe\r\nline 2 \x1b[31mred\x1b[0m \x00\ud800 <script>&amp; 100% ::error::x"

CHECKS = f"""
def flaky(response: str) -> float:
    if "bad" in response:
        raise ValueError({NASTY!r})
    return 1.0
"""


def _rows(n: int = 10, bad: int = 3) -> list[dict[str, Any]]:
    return [
        {"id": i, "answer": ("bad " if i < bad else "") + f"answer {i}", "truth": f"answer {i}"}
        for i in range(n)
    ]


@pytest.fixture
def flaky_config(make_config: MakeConfig, tmp_path: Path) -> Path:
    """3 of 10 rows fail in `flaky` (30 %); 3 of 20 evaluations in the run (15 %)."""
    (tmp_path / "checks.py").write_text(CHECKS, encoding="utf-8")
    return make_config(
        """
        name: flaky-run
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators:
          flaky: {use: code, function: checks.py:flaky}
          f1_score: {}
        run: {max_error_rate: 0.2, workers: 0}
        gates:
          - {metric: f1_score.f1_score, min: 0.99}
          - {metric: f1_score.pass_rate, min: 0}
        output: {dir: out}
        """,
        _rows(),
    )


def _ci_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("TF_BUILD", "True")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return summary


# --- JUnit ------------------------------------------------------------------------------


def test_junit_gates_evaluators_and_properties(
    cli: CliRunner, flaky_config: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "reports" / "junit.xml"  # its directory does not exist yet
    res = cli.invoke(app, ["run", str(flaky_config), "-q", "--junit", str(junit)])
    # whole run: 3 of 20 evaluations failed (15 % <= 20 %), so the exit code is the gate's
    assert res.exit_code == 1, res.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))

    xml = JUnitXml.fromfile(str(junit))
    (suite,) = list(xml)
    assert suite.name == "flaky-run"
    assert (suite.tests, suite.failures, suite.errors) == (5, 1, 1)
    assert (xml.tests, xml.failures, xml.errors) == (5, 1, 1)
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert props["config.sha256"] == results["run"]["config_sha256"]
    assert props["dataset.sha256"] == results["run"]["dataset"]["sha256"]
    assert props["dataset.rows"] == "10" and props["run.exit_code"] == "1"
    assert props["run.max_error_rate"] == "0.2"

    cases = {(c.classname, c.name): c for c in suite}
    assert set(cases) == {
        ("flaky-run", "run"),
        ("flaky-run.gates", "f1_score.f1_score >= 0.99"),
        ("flaky-run.gates", "f1_score.pass_rate >= 0"),
        ("flaky-run.evaluators", "flaky"),
        ("flaky-run.evaluators", "f1_score"),
    }
    assert cases["flaky-run", "run"].is_passed
    assert cases["flaky-run.gates", "f1_score.pass_rate >= 0"].is_passed
    (failure,) = cases["flaky-run.gates", "f1_score.f1_score >= 0.99"].result
    assert isinstance(failure, Failure) and failure.type == "gate"
    value = results["metrics"]["f1_score.f1_score"]
    assert failure.message == f"f1_score.f1_score = {value:.6g}, needs >= 0.99"
    assert "metric: f1_score.f1_score" in failure.text and "bound: >= 0.99" in failure.text

    # the evaluator's own share (3 of 10) is above max_error_rate: an error element
    (error,) = cases["flaky-run.evaluators", "flaky"].result
    assert isinstance(error, Error) and error.type == "evaluator-errors"
    assert error.message == "3 of 10 evaluations failed (30.0%), above run.max_error_rate 20.0%"
    # characters XML cannot carry (ESC, NUL, a lone surrogate) become U+FFFD; the rest stays
    shown = "boom | pipe\nline 2 \ufffd[31mred\ufffd[0m \ufffd\ufffd <script>&amp; 100% ::error::x"
    assert error.text == (
        "evaluator-exception: 3\n"
        + "".join(f"line {n}: evaluator-exception: ValueError: {shown}\n" for n in (1, 2, 3))
    )
    assert cases["flaky-run.evaluators", "f1_score"].is_passed


def test_report_writes_the_same_junit_again_from_results_json(
    cli: CliRunner, flaky_config: Path, tmp_path: Path
) -> None:
    at_run = tmp_path / "run.xml"
    res = cli.invoke(app, ["run", str(flaky_config), "-q", "--junit", str(at_run)])
    assert res.exit_code == 1, res.stderr
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["run"]["max_error_rate"] == 0.2  # the gate setting travels with the run

    again = tmp_path / "again" / "junit.xml"
    res = cli.invoke(app, ["report", str(out), "--junit", str(again)])
    assert res.exit_code == 0, res.stderr
    assert f"junit: {again}" in res.stderr
    # Byte for byte: the evaluator case that errs above 20 %, the property, the counts.
    assert again.read_bytes() == at_run.read_bytes()

    # A results file from before the setting was recorded: its default (0) is assumed.
    del results["run"]["max_error_rate"]
    (out / "results.json").write_text(json.dumps(results) + "\n", encoding="utf-8")
    res = cli.invoke(app, ["report", str(out), "--junit", str(again)])
    assert res.exit_code == 0, res.stderr
    assert '<property name="run.max_error_rate" value="0" />' in again.read_text("utf-8")

    res = cli.invoke(app, ["report", str(out), "--junit", str(tmp_path)])
    assert res.exit_code == 2 and "is a directory" in res.stderr
    assert "Traceback" not in res.stderr


def test_junit_run_error_marks_the_run_case(
    cli: CliRunner, flaky_config: Path, tmp_path: Path
) -> None:
    text = flaky_config.read_text().replace("max_error_rate: 0.2", "max_error_rate: 0.0")
    flaky_config.write_text(text)
    junit = tmp_path / "junit.xml"
    res = cli.invoke(app, ["run", str(flaky_config), "-q", "--junit", str(junit)])
    assert res.exit_code == 3, res.stderr
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    run_case = next(c for c in suite if c.name == "run")
    (error,) = run_case.result
    assert error.type == "run_error" and "run.max_error_rate" in error.message


def test_junit_path_that_is_a_directory_is_refused_before_running(
    cli: CliRunner, flaky_config: Path, tmp_path: Path
) -> None:
    res = cli.invoke(app, ["run", str(flaky_config), "-q", "--junit", str(tmp_path)])
    assert res.exit_code == 2
    assert "--junit" in res.stderr and "is a directory" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out" / "results.json").exists()


def test_junit_of_an_interrupted_run_counts_the_rows_it_reached() -> None:
    results = {
        "status": "interrupted",
        "message": "interrupted after 4 of 10 rows",
        "run": {
            "name": "r",
            "dataset": {"rows": 10},
            "evaluators": {"qa": {"family": "composite", "prompt_sha256": {"a": "x", "b": "y"}}},
        },
        "gates": [],
        "errors": [],
        "summaries": [{"alias": "qa", "use": "qa", "scored": 3, "errors": 3}],
    }
    text = junit_xml(results, max_error_rate=0.5)
    # 4 rows reached (3 scored + 1 whose 2 members both failed, + 1 member of a partial row):
    # 3 of 8 evaluations, 37.5 % <= 50 %; the run itself is an error (interrupted)
    assert 'errors="1"' in text and "interrupted after 4 of 10 rows" in text


# --- annotations and their escaping ----------------------------------------------------


def test_workflow_command_escaping() -> None:
    assert ann.github_data("100%\r\nnext ::error::x") == "100%25%0D%0Anext ::error::x"
    assert ann.github_property("a: b, c::d%\n") == "a%3A b%2C c%3A%3Ad%25%0A"
    assert ann.azure_data("100%\r\n]; x") == "100%AZP25%0D%0A]; x"
    assert ann.azure_property("a;b]c%\r\n") == "a%3Bb%5Dc%AZP25%0D%0A"
    a = ann.Annotation("t: 1,2", "50% done\nnext")
    assert ann.command_line("github", a) == "::error title=t%3A 1%2C2::50%25 done%0Anext"
    assert ann.command_line("azure", a) == (
        "##vso[task.logissue type=error]t: 1,2: 50%AZP25 done%0Anext"
    )


def test_runners_are_detected_from_their_variables() -> None:
    assert ann.detect_runners({}) == []
    assert ann.detect_runners({"GITHUB_ACTIONS": "true"}) == ["github"]
    assert ann.detect_runners({"TF_BUILD": "True"}) == ["azure"]
    assert ann.detect_runners({"GITHUB_ACTIONS": "false", "TF_BUILD": ""}) == []


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(api_key=KEY, models={"gpt-4o"}) as srv:
        yield srv


@pytest.fixture
def judged_config(
    make_config: MakeConfig, stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A judged run on the stub whose gate fails (every answer scores 2) and whose name
    holds every character a workflow command must escape."""
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    rows = [{"q": f"Question {i}?", "a": f"Answer {i}. STUB_SCORE=2"} for i in range(4)]
    return make_config(
        f"""
        name: "50%: a,b\\nnext"
        dataset: {{path: data.jsonl}}
        columns: {{query: ${{data.q}}, response: ${{data.a}}}}
        judge:
          type: azure_openai
          endpoint: {stub.url}
          deployment: gpt-4o
          api_key: ${{env:AZURE_OPENAI_API_KEY}}
        evaluators:
          relevance: {{}}
        gates:
          - {{metric: relevance.relevance, min: 4}}
        output: {{dir: out}}
        """,
        rows,
    )


def test_failed_gate_becomes_annotations_and_a_step_summary(
    cli: CliRunner, judged_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = _ci_env(monkeypatch, tmp_path)
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/app")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    res = cli.invoke(app, ["run", str(judged_config), "-q", "--artifact-name", "eval-results"])
    assert res.exit_code == 1, res.stderr
    lines = res.stdout.splitlines()
    github = [line for line in lines if line.startswith("::")]
    azure = [line for line in lines if line.startswith("##vso[")]
    assert github == [
        "::error title=evalcli 50%25%3A a%2Cb%0Anext%3A gate failed::"
        "relevance.relevance = 2, needs >= 4"
    ]
    assert azure == [
        "##vso[task.logissue type=error]evalcli 50%AZP25: a,b%0Anext: gate failed: "
        "relevance.relevance = 2, needs >= 4"
    ]
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## ❌ evalcli · 50%: a,b next: gate failed")  # appended
    assert "| ❌ **fail** | relevance.relevance | \\>= 4 | 2 |" in text
    assert (
        "artifact **eval-results** of [this workflow run]"
        "(https://github.example/octo/app/actions/runs/77#artifacts)"
    ) in text
    assert "| relevance | relevance | 2 | 4 | 0 |" in text
    assert KEY not in text and KEY not in res.stdout


def test_no_step_summary_and_no_ci_means_no_extra_output(
    cli: CliRunner, judged_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = _ci_env(monkeypatch, tmp_path)
    res = cli.invoke(app, ["run", str(judged_config), "-q", "--no-step-summary"])
    assert res.exit_code == 1, res.stderr
    assert not summary.exists()
    assert "::error" in res.stdout  # annotations are not part of the summary
    for name in ("GITHUB_ACTIONS", "TF_BUILD", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name)
    res = cli.invoke(app, ["run", str(judged_config), "-q"])
    assert res.exit_code == 1
    assert "::error" not in res.stdout and "##vso" not in res.stdout
    assert "step summary" not in res.stderr


def test_document_formats_keep_stdout_clean(
    cli: CliRunner, judged_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = _ci_env(monkeypatch, tmp_path)
    res = cli.invoke(app, ["run", str(judged_config), "-q", "--format", "json"])
    assert res.exit_code == 1, res.stderr
    assert json.loads(res.stdout)["status"] == "gate_failed"  # nothing else on stdout
    assert "::error title=" in res.stderr and "##vso[task.logissue" in res.stderr

    monkeypatch.setenv("EVALCLI_ARTIFACT_NAME", "from_env")  # same as --artifact-name
    res = cli.invoke(app, ["run", str(judged_config), "-q", "--format", "markdown"])
    assert res.exit_code == 1, res.stderr
    assert res.stdout.startswith("## ❌ evalcli · 50%: a,b next: gate failed\n")
    assert "Full report and results: artifact **from\\_env**\n" in res.stdout
    assert "::error" not in res.stdout and "##vso" not in res.stdout
    assert "::error title=" in res.stderr
    # the same Markdown went to the step summary (appended once per run: two runs, two)
    assert summary.read_text(encoding="utf-8").count("## ❌ evalcli") == 2
    assert res.stdout in summary.read_text(encoding="utf-8")


def test_markdown_tables_escape_pipes_newlines_and_markup(
    cli: CliRunner, flaky_config: Path, tmp_path: Path
) -> None:
    res = cli.invoke(app, ["run", str(flaky_config), "-q", "-f", "markdown"])
    assert res.exit_code == 1, res.stderr
    md = res.stdout
    # each table (a run of lines starting with "|") has as many unescaped separators per row
    # as its header: no cell text split a row
    tables: list[list[str]] = [[]]
    for line in md.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert len(tables) == 3  # gates, metrics, errors
    for table in tables:
        assert len({len(re.findall(r"(?<!\\)\|", line)) for line in table}) == 1, table
    err_lines = tables[2]
    (row,) = [line for line in err_lines if "flaky" in line]
    assert row == (
        "| flaky | evaluator-exception | 3 | 1, 2, 3 | ValueError: boom \\| pipe<br>line 2 "
        "\ufffd\\[31mred\ufffd\\[0m \ufffd\ufffd \\<script\\>\\&amp; 100% ::error::x |"
    )
    assert cell("a|b\nc\r\nd") == "a\\|b<br>c<br>d"


def test_markdown_renders_from_the_results_file_too(flaky_config: Path, cli: CliRunner) -> None:
    assert cli.invoke(app, ["run", str(flaky_config), "-q"]).exit_code == 1
    results = json.loads((flaky_config.parent / "out" / "results.json").read_text())
    md = run_markdown(results, artifact="https://ci.example/a b")
    assert "[https://ci.example/a b](https://ci.example/a%20b)" in md
    assert "### Gates" in md and "### Metrics" in md and "### Errors (3)" in md


# --- compare --fail-on-regression --------------------------------------------------------


def _nlp_run(cli: CliRunner, folder: Path, wrong: int) -> Path:
    folder.mkdir()
    rows = [
        {"id": i, "answer": "nothing alike" if i < wrong else f"the answer is {i}"}
        | {"truth": f"the answer is {i}"}
        for i in range(12)
    ]
    write_jsonl(folder / "data.jsonl", rows)
    (folder / "eval.yaml").write_text(
        "name: r\ndataset: {path: data.jsonl}\n"
        "columns: {response: ${data.answer}, ground_truth: ${data.truth}}\n"
        "evaluators: {f1_score: {}}\nrun: {workers: 0}\noutput: {dir: out}\n",
        encoding="utf-8",
    )
    res = cli.invoke(app, ["run", str(folder / "eval.yaml"), "-q"])
    assert res.exit_code == 0, res.stderr
    return folder / "out"


def test_compare_regressions_become_annotations(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _nlp_run(cli, tmp_path / "base", wrong=0)
    cand = _nlp_run(cli, tmp_path / "cand", wrong=10)
    _ci_env(monkeypatch, tmp_path)
    res = cli.invoke(app, ["compare", str(base), str(cand)])
    assert res.exit_code == 0 and "::error" not in res.stdout  # only with --fail-on-regression
    res = cli.invoke(app, ["compare", str(base), str(cand), "--fail-on-regression"])
    assert res.exit_code == 1
    github = [line for line in res.stdout.splitlines() if line.startswith("::error")]
    azure = [line for line in res.stdout.splitlines() if line.startswith("##vso")]
    assert len(github) == len(azure) >= 2
    assert any(
        line.startswith("::error title=evalcli compare%3A regression::f1_score.pass_rate got worse")
        for line in github
    )
    res = cli.invoke(app, ["compare", str(base), str(cand), "--fail-on-regression", "-f", "json"])
    assert res.exit_code == 1
    json.loads(res.stdout)
    assert "::error title=evalcli compare%3A regression::" in res.stderr


# --- the test suite never writes to a real CI job's summary -------------------------------


@pytest.mark.slow
def test_suite_inside_a_ci_job_leaves_its_summary_alone(tmp_path: Path) -> None:
    """conftest clears the CI variables: run one of these tests under pytest with them set,
    as a GitHub or Azure job would, and the job's summary file stays untouched."""
    summary = tmp_path / "real_summary.md"
    summary.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "TF_BUILD": "True",
    }
    target = "tests/test_ci_outputs.py::test_no_ci_variables_reach_the_tests"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert summary.read_text(encoding="utf-8") == ""


def test_no_ci_variables_reach_the_tests(cli: CliRunner, flaky_config: Path) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "TF_BUILD"):
        assert name not in os.environ
    res = cli.invoke(app, ["run", str(flaky_config), "-q"])
    assert res.exit_code == 1
    assert "::error" not in res.stdout and "step summary" not in res.stderr


# --- progress in logs --------------------------------------------------------------------


def test_log_progress_every_tenth_and_every_interval() -> None:
    import io

    now = [0.0]
    out = io.StringIO()
    p = LogProgress(lambda: (7, 2), interval_s=15, stream=out, clock=lambda: now[0])
    for done in range(101):  # 100 rows, one every 0.1 s: only the 10 % steps print
        now[0] = done * 0.1
        p.update(done, 100)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("progress: 100/100 rows (100%)")
    assert lines[0] == (
        "progress: 10/100 rows (10%) · 7 calls (2 cached) · 0 errors · 0:01 elapsed · ETA 0:09"
    )
    p.update(100, 100)  # the runner's closing call: no repeated line
    assert len(out.getvalue().splitlines()) == 10

    out = io.StringIO()
    now[0] = 0.0
    p = LogProgress(None, interval_s=15, stream=out, clock=lambda: now[0])
    p.update(1, 1000)
    now[0] = 16.0
    p.update(2, 1000)  # stuck below the next tenth: the interval still prints a line
    assert out.getvalue().splitlines() == [
        "progress: 2/1,000 rows (0%) · 0 errors · 0:16 elapsed · ETA 2:13:04"
    ]
    assert clock_text(3725) == "1:02:05" and clock_text(59.6) == "1:00"


def test_the_terminal_bar_shows_calls_and_errors_as_they_happen() -> None:
    """On a terminal the bar carries what the log lines say: calls (cached) and errors."""
    import io

    from rich.console import Console

    from evalcli.errors import RowError
    from evalcli.reporters.progress import _Bar
    from evalcli.results import RowResult

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    calls = [(0, 0)]
    with _Bar(lambda: calls[0], console=console) as bar:
        bar.update(0, 4)
        calls[0] = (5, 2)
        row = RowResult(1, {})
        row.outcomes["relevance"] = RowError("judge-error", "the judge answered 500")
        bar.on_row(row)
        bar.update(3, 4)
    drawn = out.getvalue()
    assert "0 calls · 0 errors" in drawn
    assert "3/4" in drawn and "5 calls (2 cached) · 1 error" in drawn


def _evalcli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalcli", *args],
        capture_output=True,  # stderr is a pipe, as in a CI log
        text=True,
        encoding="utf-8",
        timeout=300,
        env={**os.environ, **env},
        check=False,
    )


@pytest.mark.slow
def test_progress_lines_off_a_terminal(make_config: MakeConfig, tmp_path: Path) -> None:
    (tmp_path / "checks.py").write_text(CHECKS, encoding="utf-8")
    with StubServer(api_key=KEY, models={"gpt-4o"}, latency_s=0.05) as srv:
        rows = [
            {"q": f"Q{i}?", "answer": ("bad " if i % 5 == 0 else "") + f"A{i}. STUB_SCORE=4"}
            for i in range(20)
        ]
        cfg = make_config(
            f"""
            dataset: {{path: data.jsonl}}
            columns: {{query: ${{data.q}}, response: ${{data.answer}}}}
            judge:
              type: azure_openai
              endpoint: {srv.url}
              deployment: gpt-4o
              api_key: ${{env:AZURE_OPENAI_API_KEY}}
            evaluators:
              relevance: {{}}
              flaky: {{use: code, function: checks.py:flaky}}
            run: {{concurrency: 1, max_error_rate: 1.0, workers: 0}}
            output: {{dir: out}}
            """,
            rows,
        )
        env = {"AZURE_OPENAI_API_KEY": KEY, "EVALCLI_PROGRESS_INTERVAL_S": "0.2"}
        proc = _evalcli("run", str(cfg), "--no-cache", **env)
        assert proc.returncode == 0, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.startswith("progress: ")]
        assert len(lines) >= 5, proc.stderr
        done = [int(re.findall(r"^progress: (\d+)/20 rows", line)[0]) for line in lines]
        assert done == sorted(done)
        assert lines[-1].startswith("progress: 20/20 rows (100%) · 20 calls · 4 errors · ")
        assert any("ETA" in line for line in lines)
        assert "\x1b" not in proc.stderr and "\r" not in proc.stderr  # no bar in a log


def test_quiet_silences_progress_and_a_bad_interval_is_refused(
    cli: CliRunner, flaky_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALCLI_PROGRESS_INTERVAL_S", "0.001")
    res = cli.invoke(app, ["run", str(flaky_config)])  # CliRunner's stderr is no terminal
    assert res.exit_code == 1 and "progress: 10/10 rows (100%)" in res.stderr
    res = cli.invoke(app, ["run", str(flaky_config), "--quiet"])
    assert res.exit_code == 1 and "progress:" not in res.stderr

    monkeypatch.setenv("EVALCLI_PROGRESS_INTERVAL_S", "soon")
    res = cli.invoke(app, ["run", str(flaky_config), "-o", str(tmp_path / "b")])
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: EVALCLI_PROGRESS_INTERVAL_S: must be a positive number of seconds, got 'soon'"
    )
    assert not (tmp_path / "b" / "results.json").exists()


def test_markdown_is_for_runs_not_estimates(cli: CliRunner, flaky_config: Path) -> None:
    res = cli.invoke(app, ["run", str(flaky_config), "--estimate", "-f", "markdown"])
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: --estimate prints a table or json, not markdown"
