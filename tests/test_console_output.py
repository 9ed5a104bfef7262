"""What users read on stdout: table widths off a terminal, every metric in the summary table,
counted nouns.

The width tests run the real CLI in a subprocess with stdout piped and COLUMNS unset: the
path CI logs, pipes and redirections take (conftest sets COLUMNS=200 for in-process tests).
"""

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
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.reporters.terminal import UNBOUNDED_WIDTH, plural, stdout_width
from evalcli.testing.stub_server import StubServer
from tests.conftest import REPO, MakeConfig, write_jsonl

KEY = "sk-test-secret-0123456789"


def evalcli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m evalcli ARGS`` with stdout and stderr piped (never a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "evalcli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


@pytest.fixture
def no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(api_key=KEY, models={"gpt-4o"}) as srv:
        yield srv


def body_lines(table_text: str) -> list[str]:
    """The row lines of every table in ``table_text`` (between the header rule and the end)."""
    out, inside = [], False
    for line in table_text.splitlines():
        if line.startswith("┡"):
            inside = True
        elif line.startswith("└"):
            inside = False
        elif inside:
            out.append(line)
    return out


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("│").split("│")]


# --- width: off a terminal -------------------------------------------------------------------


def test_list_evaluators_piped_shows_every_name_and_text_whole(no_columns: None) -> None:
    proc = evalcli("list-evaluators")
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    listed = json.loads(evalcli("list-evaluators", "--json").stdout)
    rows = {cells(line)[0]: cells(line) for line in body_lines(proc.stdout)}
    for ev in listed:
        # natural width: one line per evaluator, nothing wrapped or folded
        row = rows[ev["name"]]
        assert row[3] == ", ".join(ev["outputs"]), ev["name"]
        assert row[5] == ev["description"], ev["name"]
    assert len(rows) == len(listed) == len(body_lines(proc.stdout))


def test_compare_piped_shows_long_numbers_whole(
    no_columns: None, cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    (tmp_path / "checks.py").write_text(
        "def throughput(response: str) -> dict[str, float]:\n"
        "    return {'tokens_per_second_over_the_whole_answer': 123456.789 * len(response)}\n"
    )
    evaluators = (
        "evaluators:\n"
        "  throughput_of_the_answer_in_tokens:\n"
        "    use: code\n"
        "    function: checks.py:throughput\n"
        "    outputs: {tokens_per_second_over_the_whole_answer: higher}\n"
        "  f1_score: {}\n"
    )
    results = {}
    for name, extra in (("base", ""), ("cand", " and a bit more")):
        rows = [
            {"id": i, "answer": f"answer {i}{extra}", "truth": f"answer {i}"} for i in range(30)
        ]
        write_jsonl(tmp_path / f"{name}.jsonl", rows)
        cfg = make_config(
            f"dataset: {{path: {name}.jsonl}}\n"
            "columns: {response: ${data.answer}, ground_truth: ${data.truth}}\n"
            f"{evaluators}output: {{dir: {name}}}\n",
            name=f"{name}.yaml",
        )
        res = cli.invoke(app, ["run", str(cfg), "-q"])
        assert res.exit_code == 0, res.stderr
        results[name] = str(tmp_path / name / "results.json")

    proc = evalcli("compare", results["base"], results["cand"])
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    report = json.loads(evalcli("compare", results["base"], results["cand"], "-f", "json").stdout)
    metrics = [m["metric"] for m in report["comparisons"][0]["metrics"]]
    rows = body_lines(proc.stdout)
    # one line per metric: no metric name, number or interval wrapped onto a second line
    assert [cells(line)[0] for line in rows] == metrics
    long = cells(rows[0])
    assert long[0] == "throughput_of_the_answer_in_tokens.tokens_per_second_over_the_whole_answer"
    assert re.fullmatch(r"\[\+[\d.e+]+, \+[\d.e+]+\]", long[4]), long  # the whole CI
    assert all(re.fullmatch(r"[\d.e+]+", v) for v in long[1:3]), long


def test_run_table_piped_keeps_the_judge_client_on_one_line(
    no_columns: None, make_config: MakeConfig, stub: StubServer
) -> None:
    rows = [{"q": f"Question {i}?", "a": f"Answer {i}. STUB_SCORE=4"} for i in range(3)]
    cfg = make_config(
        f"""
        name: judged-with-a-rather-long-run-name
        dataset: {{path: data.jsonl}}
        columns: {{query: ${{data.q}}, response: ${{data.a}}}}
        judge:
          type: azure_openai
          endpoint: {stub.url}
          deployment: gpt-4o
          api_key: ${{env:AZURE_OPENAI_API_KEY}}
        evaluators:
          relevance: {{}}
          coherence_of_the_answer_to_the_question: {{use: coherence}}
        output: {{dir: out}}
        """,
        rows,
    )
    proc = evalcli("run", str(cfg), "-q", AZURE_OPENAI_API_KEY=KEY)
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    data = json.loads((cfg.parent / "out" / "results.json").read_text())
    (label,) = data["usage"]["clients"]
    assert stub.url in label
    client_rows = [line for line in body_lines(proc.stdout) if label in line]
    assert len(client_rows) == 1
    assert cells(client_rows[0]) == [label, "6", "0", "0", "0", *cells(client_rows[0])[5:]]
    assert "│ coherence_of_the_answer_to_the_question (coherence) │" in proc.stdout
    assert "completed · 3 rows · 0 errors" in proc.stdout


def test_columns_is_honoured_off_a_terminal(no_columns: None) -> None:
    proc = evalcli("list-evaluators", COLUMNS="100")
    assert proc.returncode == 0, proc.stderr
    widths = {len(line) for line in proc.stdout.splitlines()}
    assert max(widths) == 100  # narrower than its natural width, and not Rich's 80
    # squeezed, text wraps and folds, but names stay whole and nothing is ellipsized
    assert "…" not in proc.stdout
    names = [ev["name"] for ev in json.loads(evalcli("list-evaluators", "--json").stdout)]
    first_cells = {cells(line)[0] for line in body_lines(proc.stdout)}
    assert set(names) <= first_cells


@pytest.mark.parametrize("columns", [40, 80])
def test_narrow_terminal_folds_but_never_cuts(
    cli: CliRunner, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    """Too narrow for the names and numbers to stay whole: they fold, and the table is
    neither ellipsized nor cropped at the edge (Rich's crop would drop whole columns)."""
    monkeypatch.setenv("COLUMNS", str(columns))
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators:
          a_rather_long_evaluator_alias: {use: rouge, params: {rouge_type: rougeL}}
        gates: [{metric: a_rather_long_evaluator_alias.rouge_precision_pass_rate, min: 0}]
        output: {dir: out}
        """,
        [{"answer": "the cat sat", "truth": "a cat sat down"}],
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    assert "…" not in res.stdout
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    framed = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert framed and all(line.rstrip()[-1] in "┓┃┩│┘" for line in framed)
    if columns == 80:  # room enough: names and numbers whole, on one line each
        rows = summary_rows(res.stdout)
        assert rows["a_rather_long_evaluator_alias", "rouge_precision"][2:4] == [
            "0.6667",
            "100.0%",
        ]


def test_stdout_width_rules() -> None:
    assert stdout_width({"COLUMNS": "100"}, is_terminal=False) == 100
    assert stdout_width({"COLUMNS": "100"}, is_terminal=True) == 100
    assert stdout_width({}, is_terminal=True) is None  # Rich asks the terminal
    assert stdout_width({}, is_terminal=False) == UNBOUNDED_WIDTH
    for junk in ("", "0", "-5", "wide"):
        assert stdout_width({"COLUMNS": junk}, is_terminal=False) == UNBOUNDED_WIDTH


# --- the summary table shows every metric -----------------------------------------------------


def summary_rows(stdout: str) -> dict[tuple[str, str], list[str]]:
    """(evaluator alias, metric) -> the row's cells, from the first (summary) table."""
    table = stdout.split("\n└", 1)[0]
    out: dict[tuple[str, str], list[str]] = {}
    alias = ""
    for line in body_lines(table + "\n└"):
        row = cells(line)
        if not row[1]:  # "(use)" wrapped under a long alias
            continue
        alias = row[0].split(" ")[0] or alias
        out[alias, row[1]] = row
    return out


def test_custom_evaluators_sample_shows_every_gateable_metric(
    cli: CliRunner, stub: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", stub.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    cfg = REPO / "configs" / "custom-evaluators.yaml"
    res = cli.invoke(app, ["run", str(cfg), "-q", "-o", str(tmp_path / "out")])
    assert res.exit_code in (0, 1), res.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    rows = summary_rows(res.stdout)
    within = data["metrics"]["answer_length.within_limit"]
    # the gated metric has its own row next to words (it used to be only under "gates")
    assert rows["answer_length", "within_limit"][2] == f"{within:.4f}"
    assert rows["answer_length", "words"][2] == f"{data['metrics']['answer_length.words']:.4g}"
    assert (
        rows["friendliness", "friendliness"][3]
        == f"{data['metrics']['friendliness.pass_rate']:.1%}"
    )


def test_every_mean_and_rate_of_rouge_has_a_row(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators:
          rougeL: {use: rouge, params: {rouge_type: rougeL}}
        output: {dir: out}
        """,
        [{"answer": "the cat sat", "truth": "a cat sat down"}, {"answer": "x", "truth": "y"}],
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    m: dict[str, Any] = json.loads((tmp_path / "out" / "results.json").read_text())["metrics"]
    rows = summary_rows(res.stdout)
    assert [metric for _, metric in rows] == [
        "rouge",
        "rouge_precision",
        "rouge_recall",
        "rouge_f1_score",
    ]
    for key in ("rouge_precision", "rouge_recall", "rouge_f1_score"):
        assert rows["rougeL", key][2] == f"{m[f'rougeL.{key}']:.4f}"
        assert rows["rougeL", key][3] == f"{m[f'rougeL.{key}_pass_rate']:.1%}"
    assert rows["rougeL", "rouge"][3] == f"{m['rougeL.pass_rate']:.1%}"
    assert "more" not in res.stdout  # no empty column


def test_severities_and_labels_show_their_rates(
    cli: CliRunner, stub: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTENT_SAFETY_ENDPOINT", stub.url)
    monkeypatch.setenv("CONTENT_SAFETY_KEY", KEY)
    cfg = REPO / "configs" / "content-safety.yaml"
    res = cli.invoke(app, ["run", str(cfg), "-q", "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.stderr
    rows = summary_rows(res.stdout)
    assert rows["safety", "violence_score"][6].startswith("defect rate 0.0% · Very low 20")
    assert rows["safety", "violence_score"][3] == "100.0%"
    assert rows["protected_material", "protected_material_defect_rate"][6] == "defect rate 0.0%"
    assert rows["groundedness_pro", "groundedness_pro_passing_rate"][3] == "100.0%"


# --- counted nouns -----------------------------------------------------------------------------


def test_plural() -> None:
    assert [plural(n, "row") for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]
    assert plural(1, "cached answer") == "1 cached answer"
    assert plural(3, "child", "children") == "3 children"


def test_one_row_one_evaluator_one_gate_are_singular(
    cli: CliRunner, make_config: MakeConfig
) -> None:
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators: {f1_score: {}}
        gates: [{metric: f1_score.pass_rate, min: 0.5}]
        output: {dir: out}
        """,
        [{"answer": "a cat", "truth": "a cat"}],
    )
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 0, res.stderr
    assert ": 1 row, 1 evaluator (f1_score), 1 gate;" in res.stdout
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    assert "completed · 1 row · 0 errors ·" in res.stdout


def test_variants_table_and_markdown_fill_the_all_rows_column(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    """One-run mode names its extra column "all rows"; its cells used to be left out."""
    rows = [
        {
            "pair": f"p{i}",
            "variant": v,
            "answer": "a b c" if v == "x" or i else "z",
            "truth": "a b c",
        }
        for i in range(6)
        for v in ("x", "y")
    ]
    rows.append({"pair": "alone", "variant": "x", "answer": "q", "truth": "a b c"})
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators: {f1_score: {}}
        output: {dir: out}
        """,
        rows,
    )
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    args = ["compare", str(tmp_path / "out"), "--pair-by", "pair", "--variant-column", "variant"]
    res = cli.invoke(app, args)
    assert res.exit_code == 0, res.stderr
    row = next(cells(line) for line in body_lines(res.stdout) if "f1_score.f1_score" in line)
    assert row[8] == "0.8571 → 0.8333"  # x over all 7 rows, y over its 6
    res = cli.invoke(app, [*args, "-f", "markdown"])
    table = [line for line in res.stdout.splitlines() if line.startswith("|")]
    assert "all rows" in table[0]
    assert {line.count("|") for line in table} == {table[0].count("|")}
