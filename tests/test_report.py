"""report.html without a browser: streaming, escaping, CSP, charts from declared kinds, the
row cap, the command line. The browser tests are in test_report_browser.py."""

from __future__ import annotations

import base64
import hashlib
import html as html_text
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.report import render_report, write_report
from evalcli.report.digest import ValueCounts, cut_text, digest_rows
from evalcli.report.load import ResultsStream
from evalcli.report.markup import json_script
from tests.reportdata import HOSTILE, charts, data_block, info, tags, write_results

JUDGE_INFO = {
    "rel.relevance": info("rel", "mean", "relevance"),
    "rel.pass_rate": info("rel", "pass_rate", "relevance_result"),
    "rel.error_count": info("rel", "error_count", None, direction="lower"),
}


def judge_row(line: int, score: int | None, *, error: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "line": line,
        "inputs.id": f"q{line}",
        "inputs.query": f"Question {line}?",
        "inputs.response": f"Answer {line}.",
    }
    if error is not None:
        row["outputs.rel.error"] = f"judge said nothing ({error})"
        row["outputs.rel.error_kind"] = error
    else:
        row["outputs.rel.relevance"] = score
        row["outputs.rel.relevance_result"] = "pass" if (score or 0) >= 3 else "fail"
        row["outputs.rel.relevance_threshold"] = 3
        row["outputs.rel.relevance_reason"] = f"reason {line}"
    return row


def judge_run(path: Path, scores: list[int | None], **kw: Any) -> Path:
    rows = [
        judge_row(i + 1, s, error=None if s is not None else "judge-output-unparseable")
        for i, s in enumerate(scores)
    ]
    scored = [s for s in scores if s is not None]
    errors = [
        {
            "line": r["line"],
            "evaluator": "rel",
            "kind": r["outputs.rel.error_kind"],
            "message": r["outputs.rel.error"],
        }
        for r in rows
        if "outputs.rel.error" in r
    ]
    metrics = {
        "rel.relevance": sum(scored) / len(scored) if scored else None,
        "rel.pass_rate": sum(s >= 3 for s in scored) / len(scored) if scored else None,
        "rel.error_count": float(len(errors)),
    }
    return write_results(path, rows, JUDGE_INFO, metrics=metrics, errors=errors, **kw)


# -- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rows_first", [False, True])
def test_stream_reads_the_header_and_then_one_row_at_a_time(
    tmp_path: Path, rows_first: bool
) -> None:
    run = judge_run(tmp_path / "r", [5, 1, None, 3], rows_first=rows_first)
    stream = ResultsStream(run)
    assert stream.header["run"]["name"] == "synthetic"
    assert "rows" not in stream.header
    lines = [r["line"] for r in stream.rows()]
    assert lines == [1, 2, 3, 4]
    assert [r["line"] for r in stream.rows()] == lines  # a second pass reads the file again


def test_stream_refills_its_buffer_across_long_values(tmp_path: Path) -> None:
    # Values longer than one read (1 MiB) and numbers cut at a chunk's end parse whole.
    big = "x" * (3 << 20)
    rows = [judge_row(1, 4) | {"inputs.response": big}, judge_row(2, 2)]
    run = write_results(tmp_path / "r", rows, JUDGE_INFO)
    got = list(ResultsStream(run).rows())
    assert got[0]["inputs.response"] == big and got[1]["outputs.rel.relevance"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"schema_version": 1, "run": {}, "metric_info": {}, "metrics": {}, "rows": [{"line": ',
            "not valid JSON",
        ),
        (
            '{"schema_version": 1, "run": {}, "metric_info": {}, "metrics": {}, "rows": [NaN]}',
            "not strict JSON",
        ),
        ("[1, 2]", "expected a JSON object"),
        ('{"schema_version": 1, "run": {}, "metric_info": {}, "metrics": {}}', "holds no rows"),
        (
            '{"schema_version": 99, "run": {}, "metric_info": {}, "metrics": {}, "rows": []}',
            "results schema 99",
        ),
        ('{"schema_version": 1, "metric_info": {}, "metrics": {}, "rows": []}', "`run`"),
        (
            '{"schema_version": 1, "run": {}, "metric_info": {}, "metrics": {}, "rows": [1]}',
            "row 1 is not an object",
        ),
    ],
)
def test_unusable_results_files_exit_2_with_one_message(
    tmp_path: Path, cli: CliRunner, content: str, message: str
) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(content, encoding="utf-8")
    res = cli.invoke(app, ["report", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: ") and message in res.stderr
    assert str(tmp_path / "r" / "results.json") in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "r" / "report.html").exists()


def test_a_truncated_file_is_named_with_its_line(tmp_path: Path, cli: CliRunner) -> None:
    run = judge_run(tmp_path / "r", [5, 1, 3])
    text = (run / "results.json").read_text(encoding="utf-8")
    (run / "results.json").write_text(text[: text.rindex("{")], encoding="utf-8")
    res = cli.invoke(app, ["report", str(run)])
    assert res.exit_code == 2
    assert f"{run / 'results.json'}:" in res.stderr and "not valid JSON" in res.stderr


# -- escaping and the content security policy -------------------------------------------------


def test_json_script_escapes_whatever_could_end_or_confuse_the_block() -> None:
    data = {"a": HOSTILE, "b": "<!-- & -->", "\u2028": "\u2029"}
    block = json_script("d", data)
    inner = block[block.index(">") + 1 : block.rindex("</script>")]
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in inner
    assert json.loads(inner) == data  # \u escapes read back to the very same data


def _hostile_run(path: Path) -> Path:
    rows = []
    for i, text in enumerate(HOSTILE, start=1):
        row = judge_row(i, 2 if i % 2 else 4)
        row["inputs.query"] = text
        row["outputs.rel.relevance_reason"] = text
        rows.append(row)
    return write_results(
        path,
        rows,
        JUDGE_INFO,
        name=HOSTILE[0],
        errors=[{"line": 1, "evaluator": "rel", "kind": HOSTILE[2], "message": HOSTILE[1]}],
        gates=[{"metric": HOSTILE[3], "op": ">=", "threshold": 0.5, "value": 0.4, "passed": False}],
        extra_header={"warnings": [HOSTILE[4]], "message": HOSTILE[5]},
    )


def test_hostile_text_in_rows_and_header_never_becomes_markup(tmp_path: Path) -> None:
    html = render_report(_hostile_run(tmp_path / "r"))
    elements = tags(html)
    # Exactly two scripts: the data block and the table script; no element of the rows'.
    assert [a.get("type") for t, a in elements if t == "script"] == ["application/json", None]
    assert not {t for t, _ in elements} & {"img", "textarea", "iframe", "object", "embed"}
    # No element carries an event handler, an inline style or a javascript: URL.
    for tag, attrs in elements:
        assert not [k for k in attrs if k.startswith("on") or k == "style"], (tag, attrs)
        assert not any(v.strip().lower().startswith("javascript:") for v in attrs.values())
    assert "&lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt;" in html  # shown as text
    assert data_block(html)["rows"][0][3][1] == HOSTILE[0]  # the data itself is intact


def test_a_run_without_rows_still_gets_a_report(tmp_path: Path) -> None:
    # An interrupted run, or one whose every row failed before scoring.
    run = write_results(tmp_path / "r", [], JUDGE_INFO, extra_header={"status": "interrupted"})
    html = render_report(run)
    assert 'data-status="interrupted"' in html and "All 0 rows" in html
    assert data_block(html)["rows"] == []


def test_lone_surrogates_do_not_stop_the_report(tmp_path: Path) -> None:
    # Valid in JSON and kept in results.json; the page, UTF-8, shows U+FFFD instead.
    row = judge_row(1, 4) | {"inputs.query": "cut emoji \ud83d", "inputs.\udc00": "x"}
    out = write_report(write_results(tmp_path / "r", [row], JUDGE_INFO, name="run \udfff"))
    html = out.read_text(encoding="utf-8")
    assert "cut emoji \ufffd" in html and "run \ufffd" in html


def test_the_policy_forbids_every_fetch_and_allows_exactly_our_script_and_style(
    tmp_path: Path,
) -> None:
    html = render_report(judge_run(tmp_path / "r", [5, 1, 3]))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy
    pairs = [d.strip().split(" ", 1) for d in html_text.unescape(policy.group(1)).split(";")]
    directives = {pair[0]: pair[1] for pair in pairs}
    assert directives["default-src"] == "'none'"
    assert "unsafe" not in policy.group(1)

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    script = re.search(r"<script>(.*?)</script>", html, re.S)
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert script and style
    assert directives["script-src"] == sha(script.group(1))
    assert directives["style-src"] == sha(style.group(1))
    assert "@media print" in style.group(1)  # a print stylesheet


# -- charts come from declared kinds and scales --------------------------------------------------


def _score_rows(values: list[float]) -> list[dict[str, Any]]:
    return [
        {"line": i + 1, "outputs.m.score": v, "outputs.m.score_threshold": 3}
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("scale", "values", "expected"),
    [
        # A declared integer scale: one bar per value, empty values included.
        (
            {"min": 1, "max": 5, "integer": True},
            [1, 1, 2, 5, 5, 5],
            [("1", 2), ("2", 1), ("3", 0), ("4", 0), ("5", 3)],
        ),
        # A declared continuous scale: ten bins over it, whatever values came.
        (
            {"min": 0, "max": 1, "integer": False},
            [0.05, 0.5, 0.55, 0.99, 1.0],
            [
                ("0", 1),
                ("0.1", 0),
                ("0.2", 0),
                ("0.3", 0),
                ("0.4", 0),
                ("0.5", 2),
                ("0.6", 0),
                ("0.7", 0),
                ("0.8", 0),
                ("0.9", 2),
            ],
        ),
        # No scale (results written before scales): whole numbers get a bar each over the
        # values seen widened to the threshold (3)...
        (None, [4, 5, 5], [("3", 0), ("4", 1), ("5", 2)]),
        # ... other numbers ten bins over that range.
        (
            None,
            [3.0, 4.5, 8.0],
            [
                ("3", 1),
                ("3.5", 0),
                ("4", 0),
                ("4.5", 1),
                ("5", 0),
                ("5.5", 0),
                ("6", 0),
                ("6.5", 0),
                ("7", 0),
                ("7.5", 1),
            ],
        ),
    ],
)
def test_score_distribution_follows_the_declared_scale(
    tmp_path: Path, scale: dict[str, Any] | None, values: list[float], expected: list[Any]
) -> None:
    metric_info = {"m.score": info("m", "mean", "score", scale=scale)}
    run = write_results(
        tmp_path / "r",
        _score_rows(values),
        metric_info,
        metrics={"m.score": sum(values) / len(values)},
    )
    found, markers = charts(render_report(run))
    bars = found[("dist", "m.score")]
    assert [(label, count) for label, count, _ in bars] == expected
    assert sum(count for _, count, _ in bars) == len(values)
    assert markers["m.score"] == ["threshold", "mean"]


def test_kinds_not_names_choose_the_charts(tmp_path: Path) -> None:
    # Metric and key names that look like nothing in particular: only metric_info says that
    # "x.a" is a severity (a defect rate of the same key), "x.b" a pass rate, "x.c" a label.
    metric_info = {
        "x.a": info(
            "x", "mean", "k1", direction="lower", scale={"min": 0, "max": 7, "integer": True}
        ),
        "x.a_defect_rate": info("x", "defect_rate", "k1", direction="lower", defect_threshold=4),
        "x.b": info("x", "pass_rate", "k2"),
        "x.c": info("x", "passing_rate", "k3"),
        "x.error_count": info("x", "error_count", None, direction="lower"),
    }
    rows = [
        {"line": 1, "outputs.x.k1": 0, "outputs.x.k2": "pass", "outputs.x.k3": True},
        {"line": 2, "outputs.x.k1": 6, "outputs.x.k2": "fail", "outputs.x.k3": False},
        {"line": 3, "outputs.x.k1": 4, "outputs.x.k2": "fail", "outputs.x.k3": True},
        {"line": 4, "outputs.x.error": "boom", "outputs.x.error_kind": "remote"},
    ]
    summaries = [
        {
            "alias": "x",
            "scored": 3,
            "errors": 1,
            "extra": {"a_distribution": {"High": 1, "Very low": 1, "Medium": 1}},
        }
    ]
    run = write_results(
        tmp_path / "r",
        rows,
        metric_info,
        summaries=summaries,
        metrics={
            "x.a": 10 / 3,
            "x.a_defect_rate": 2 / 3,
            "x.b": 1 / 3,
            "x.c": 2 / 3,
            "x.error_count": 1.0,
        },
    )
    html = render_report(run)
    found, markers = charts(html)
    severity = found[("dist", "x.a")]
    assert [c for _, c, _ in severity] == [1, 0, 0, 0, 1, 0, 1, 0]  # 0..7
    assert markers["x.a"] == ["defect", "mean"]
    # The labels the summary counted, mildest first, the defect threshold between bands.
    labels = found[("shares", "x.a_defect_rate")]
    assert [(lab, c) for lab, c, _ in labels] == [("Very low", 1), ("Medium", 1), ("High", 1)]
    assert markers["x.a_defect_rate"] == ["defect"]
    assert [(lab, c) for lab, c, _ in found[("split", "x.a_defect_rate")]] == [
        ("no defect", 1),
        ("defect", 2),
    ]
    assert [(lab, c) for lab, c, _ in found[("split", "x.b")]] == [("pass", 1), ("fail", 2)]
    assert [(lab, c) for lab, c, _ in found[("split", "x.c")]] == [
        ("passing", 2),
        ("not passing", 1),
    ]
    assert "1 error<" in html
    payload = data_block(html)
    by_line = {r[0]: r for r in payload["rows"]}
    assert by_line[1][1:3] == [[], []] and by_line[2][1] == [0] and by_line[3][1] == [0]
    assert by_line[4][2] == [0]  # erroring


def test_threshold_key_and_subject_come_from_metric_info(tmp_path: Path) -> None:
    # The threshold sits under a key no naming rule would guess, and the severity labels
    # are counted under the declared subject, not under a name derived from the metric.
    declared = {"subject": "harm", "threshold_key": None}
    metric_info = {
        "x.sev": info("x", "mean", "k1", direction="lower", scale={"min": 0, "max": 7})
        | {"subject": "harm", "threshold_key": "cutoff"},
        "x.sev_defect_rate": info("x", "defect_rate", "k1", direction="lower", defect_threshold=4)
        | declared,
        # Declared without a threshold: a stray ``k2_threshold`` in the rows is no threshold.
        "x.other": info("x", "mean", "k2") | {"subject": "k2", "threshold_key": None},
    }
    rows = [
        {"line": 1, "outputs.x.k1": 1, "outputs.x.cutoff": 3, "outputs.x.k2": 0.2},
        {"line": 2, "outputs.x.k1": 5, "outputs.x.cutoff": 3, "outputs.x.k2": 0.9},
    ]
    rows[0]["outputs.x.k2_threshold"] = rows[1]["outputs.x.k2_threshold"] = 0.5
    summaries = [
        {
            "alias": "x",
            "scored": 2,
            "errors": 0,
            "extra": {"harm_distribution": {"Low": 1, "High": 1}},
        }
    ]
    run = write_results(tmp_path / "r", rows, metric_info, summaries=summaries)
    html = render_report(run)
    found, markers = charts(html)
    assert markers["x.sev"] == ["threshold", "defect"]
    assert "threshold 3" in html
    assert [(lab, c) for lab, c, _ in found[("shares", "x.sev_defect_rate")]] == [
        ("Low", 1),
        ("High", 1),
    ]
    assert "harm severity labels" in html
    assert "threshold" not in markers.get("x.other", [])


# -- the row cap ---------------------------------------------------------------------------------


def test_the_table_keeps_failing_and_erroring_rows_then_a_fixed_sample(tmp_path: Path) -> None:
    scores: list[int | None] = [4] * 200
    for i in (10, 50, 51, 120, 199):
        scores[i] = 1  # failing
    for i in (3, 77, 150):
        scores[i] = None  # erroring
    run = judge_run(tmp_path / "r", scores)
    html = render_report(run, max_rows=20)
    lines = [r[0] for r in data_block(html)["rows"]]
    flagged = {11, 51, 52, 121, 200, 4, 78, 151}
    assert len(lines) == 20 and flagged <= set(lines) and lines == sorted(lines)
    assert lines == [r[0] for r in data_block(render_report(run, max_rows=20))["rows"]]
    assert "embeds 20 of 200 rows (5 failing, 3 erroring)" in html
    assert "every failing or erroring row (8), then a fixed sample of 12 of the other 192" in html


def test_past_the_cap_only_the_first_failing_rows_fit(tmp_path: Path) -> None:
    run = judge_run(tmp_path / "r", [1] * 30 + [5] * 10)
    html = render_report(run, max_rows=20)
    assert [r[0] for r in data_block(html)["rows"]] == list(range(1, 21))
    assert "the first 20 failing or erroring rows" in html


def test_the_digest_holds_no_more_than_the_cap(tmp_path: Path) -> None:
    held: list[int] = []

    def rows() -> Any:
        for i in range(5000):
            yield judge_row(i + 1, 1 if i % 7 == 0 else 4)
            held.append(i)

    header = ResultsStream(judge_run(tmp_path / "r", [4])).header
    digest = digest_rows(header, rows(), max_rows=50)
    assert len(held) == 5000 and digest.total_rows == 5000 and len(digest.rows) == 50
    assert digest.failing_rows == 715 and digest.flagged_cut


def test_many_distinct_scores_are_counted_in_bounded_memory() -> None:
    counts = ValueCounts()
    for i in range(20_000):
        counts.add(i / 20_000 + 1e-9)
    assert len(counts.counts) <= 4096 and counts.total == 20_000 and counts.digits is not None


def test_long_texts_are_cut_in_the_page_not_in_the_results() -> None:
    cut = cut_text({"a": ["x" * 2500]})
    assert (
        cut["a"][0].startswith("x" * 2000) and "500 more characters in results.json" in cut["a"][0]
    )


def test_size_budget_of_a_capped_report(tmp_path: Path) -> None:
    rows = []
    for i in range(6000):
        row = judge_row(i + 1, (i % 5) + 1)
        row["inputs.query"] = f"How do I reset the password of account {i}? " * 2
        row["inputs.response"] = "Open Settings, choose Security, then Reset password. " * 4
        row["outputs.rel.relevance_reason"] = "The response answers the question directly."
        rows.append(row)
    run = write_results(tmp_path / "r", rows, JUDGE_INFO)
    out = write_report(run)
    assert len(data_block(out.read_text(encoding="utf-8"))["rows"]) == 5000
    assert out.stat().st_size <= 200_000 + 1_000 * 5000


# -- the command -------------------------------------------------------------------------------


def test_report_command_writes_beside_results_json(tmp_path: Path, cli: CliRunner) -> None:
    run = judge_run(tmp_path / "r", [5, 1, 3])
    res = cli.invoke(app, ["report", str(run)])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == str(run / "report.html")
    assert "<title>evalcli · synthetic</title>" in (run / "report.html").read_text(encoding="utf-8")
    res = cli.invoke(
        app, ["report", str(run / "results.json"), "-o", str(tmp_path / "x" / "r.html")]
    )
    assert res.exit_code == 0 and (tmp_path / "x" / "r.html").is_file()
    assert not list(tmp_path.glob("x/.*.tmp"))


def test_compare_and_variant_views(tmp_path: Path, cli: CliRunner) -> None:
    old = judge_run(tmp_path / "old", [5] * 30)
    new = judge_run(tmp_path / "new", [5] * 10 + [1] * 20)
    res = cli.invoke(app, ["report", str(new), "--compare", str(old)])
    assert res.exit_code == 0, res.stderr
    html = (new / "compare.html").read_text(encoding="utf-8")
    assert 'data-metric="rel.pass_rate" data-regression="true"' in html
    assert html.count('class="frow tone-bad"') == 2  # relevance and its pass rate got worse
    assert "rel.relevance" in html and "p=" in html  # McNemar on the pass rate

    rows = [judge_row(i + 1, 5 if i % 2 == 0 else 1) for i in range(20)]
    for i, r in enumerate(rows):
        r["inputs.pair"], r["inputs.variant"] = f"p{i // 2}", "a" if i % 2 == 0 else "b"
    one = write_results(tmp_path / "one", rows, JUDGE_INFO)
    res = cli.invoke(app, ["report", str(one), "--pair-by", "pair", "--variant-column", "variant"])
    assert res.exit_code == 0, res.stderr
    html = (one / "compare.html").read_text(encoding="utf-8")
    assert 'data-label="rel.relevance · b"' in html and "gap per variant" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pair-by", "pair"], "needs both --pair-by and --variant-column"),
        (["--compare", "{run}", "--pair-by", "p", "--variant-column", "v"], "use one or the other"),
        (["--baseline-variant", "a"], "--baseline-variant needs"),
        (["--compare", "{missing}"], "no such results file"),
        (["-o", "{run}/results.json/x.html"], "cannot write the report"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, cli: CliRunner, args: list[str], message: str) -> None:
    run = judge_run(tmp_path / "r", [5, 1])
    args = [a.format(run=run, missing=tmp_path / "nope") for a in args]
    res = cli.invoke(app, ["report", str(run), *args])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.stderr
