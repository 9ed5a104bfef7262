"""report.html in a real browser: Debian's headless Chromium (scripts/bootstrap.sh installs it),
driven over the DevTools pipe (evalcli.testing.chromium).

For each kind of run (the quickstart, a judge run, a safety run, a conversation run, a
comparison): the page loads with no console error and no request but its own, its charts
carry the counts of results.json, filtering to "fail" shows exactly the failing rows, and a
screenshot is not blank. One browser serves the whole module.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.report import write_report
from evalcli.testing.chromium import Browser, Page, find_chromium
from evalcli.testing.png import png_pixel_stdev
from evalcli.testing.stub_demo import demo_env
from evalcli.testing.stub_server import StubServer
from tests.conftest import REPO, MakeConfig, write_jsonl
from tests.reportdata import HOSTILE, info, write_results

if find_chromium() is None and os.environ.get("CI") != "true":
    pytest.skip(
        "chromium is not installed (scripts/bootstrap.sh installs it)", allow_module_level=True
    )

pytestmark = pytest.mark.slow
KEY = "report-key-0123456789"

CHARTS_JS = """(() => {
  const out = {};
  document.querySelectorAll('svg.chart[data-metric]').forEach(svg => {
    const key = svg.classList[1] + '|' + svg.dataset.metric;
    out[key] = [...svg.querySelectorAll('rect[data-count]')]
      .map(r => [r.dataset.label, +r.dataset.count]);
  });
  return out;
})()"""
VISIBLE_JS = """[...document.querySelectorAll('#rows tbody tr.row')]
  .filter(tr => tr.getClientRects().length > 0).map(tr => +tr.dataset.line)"""


def set_filter(page: Page, result: str = "all", evaluator: str = "", search: str = "") -> list[int]:
    """Set the table's controls as a user would and return the lines now shown."""
    page.evaluate(
        f"""(() => {{
      const r = document.getElementById('f-result'), e = document.getElementById('f-evaluator');
      const s = document.getElementById('f-search');
      r.value = {json.dumps(result)}; r.dispatchEvent(new Event('change'));
      e.value = {json.dumps(evaluator)}; e.dispatchEvent(new Event('change'));
      s.value = {json.dumps(search)}; s.dispatchEvent(new Event('input'));
    }})()"""
    )
    page.evaluate("new Promise(r => setTimeout(r, 200))")  # the search box waits 120 ms
    # The table puts rows in the page a few at a time; show every matching row.
    page.evaluate("document.getElementById('rows-all-button').click()")
    lines: list[int] = page.evaluate(VISIBLE_JS)
    return lines


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(width=1280, height=900) as b:
        yield b


# -- what results.json says, computed here independently of evalcli.report -----------------------


def failing_lines(results: dict[str, Any], evaluator: str | None = None) -> list[int]:
    """Rows whose outcome counts against a pass, defect or passing rate."""
    out = []
    for row in results["rows"]:
        bad = False
        for m in results["metric_info"].values():
            ev, key = m["evaluator"], m["source_key"]
            if evaluator not in (None, ev) or row.get(f"outputs.{ev}.error") is not None:
                continue
            value = row.get(f"outputs.{ev}.{key}")
            if m["kind"] == "pass_rate":
                bad |= value == "fail"
            elif m["kind"] == "passing_rate":
                bad |= value is False
            elif m["kind"] == "defect_rate":
                threshold = m["defect_threshold"]
                bad |= value is True or (
                    threshold is not None and isinstance(value, int) and value >= threshold
                )
        if bad:
            out.append(row["line"])
    return out


def erroring_lines(results: dict[str, Any]) -> list[int]:
    return sorted({e["line"] for e in results["errors"]})


def check_report(page: Page, results: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """The checks every report passes; returns the charts' bars for more specific checks."""
    assert page.console_errors() == []
    assert page.requests() == [page.url]  # nothing fetched, not even a favicon
    charts: dict[str, list[list[Any]]] = page.evaluate(CHARTS_JS)
    summaries = {s["alias"]: s for s in results["summaries"]}
    cards = page.evaluate(
        "[...document.querySelectorAll('article.card')].map(c => c.dataset.evaluator)"
    )
    assert cards == [
        a
        for a in dict.fromkeys(m["evaluator"] for m in results["metric_info"].values())
        if a in summaries
    ]
    for name, m in results["metric_info"].items():
        scored = summaries[m["evaluator"]]["scored"] if m["evaluator"] in summaries else None
        if m["kind"] == "mean":
            bars = charts[f"dist|{name}"]
            values = Counter(
                r[f"outputs.{m['evaluator']}.{m['source_key']}"]
                for r in results["rows"]
                if isinstance(r.get(f"outputs.{m['evaluator']}.{m['source_key']}"), int | float)
            )
            assert sum(c for _, c in bars) == sum(values.values()) == scored, name
            if all(label.isdigit() for label, _ in bars):  # one bar per value
                assert {int(lab): c for lab, c in bars if c} == dict(values), name
        elif m["kind"] in ("pass_rate", "defect_rate", "passing_rate"):
            good, bad = (c for _, c in charts[f"split|{name}"])
            assert good + bad == scored, name
            share = bad if m["kind"] == "defect_rate" else good
            assert math.isclose(share / (good + bad), results["metrics"][name]), name
    # Filtering: exactly the failing rows, the erroring rows, and back to all.
    assert set_filter(page, "fail") == failing_lines(results)
    assert set_filter(page, "error") == erroring_lines(results)
    assert len(set_filter(page)) == len(results["rows"])
    assert png_pixel_stdev(page.screenshot(scale=0.25)) > 10  # not blank
    return charts


def run_and_report(
    cli: CliRunner, cfg: Path, out: Path, *extra: str
) -> tuple[Path, dict[str, Any]]:
    res = cli.invoke(app, ["run", str(cfg), "-o", str(out), "-q", "--no-cache", *extra])
    assert res.exit_code in (0, 1), res.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return write_report(out), results


# -- the runs -----------------------------------------------------------------------------------


def test_quickstart(browser: Browser, cli: CliRunner, tmp_path: Path) -> None:
    report, results = run_and_report(cli, REPO / "configs" / "quickstart.yaml", tmp_path / "qs")
    page = browser.new_page()
    seconds = page.goto(report)
    assert seconds < 10
    check_report(page, results)
    assert page.evaluate("document.querySelectorAll('tr.gate').length") == len(results["gates"])
    # Only bleu's failures.
    assert set_filter(page, "fail", evaluator="1") == failing_lines(results, "bleu")
    # Search finds the row that mentions Jane Austen and nothing else.
    assert set_filter(page, search="jane austen") == [2]
    # Sorting by a score: click its column, highest first.
    set_filter(page)
    page.evaluate("document.querySelector('th button[title=\"bleu.bleu\"]').click()")
    shown = page.evaluate(VISIBLE_JS)
    scores = {r["line"]: r["outputs.bleu.bleu"] for r in results["rows"]}
    assert [scores[line] for line in shown] == sorted(scores.values(), reverse=True)
    page.close()


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    with StubServer(api_key=KEY) as srv:
        for name, value in demo_env(srv.url, KEY).items():
            monkeypatch.setenv(name, value)
        yield srv


def judge_config(url: str, extra: str = "") -> str:
    return f"""
        name: judged
        dataset: {{path: data.jsonl}}
        columns: {{query: "${{data.question}}", response: "${{data.answer}}"}}
        judge: {{type: azure_openai, endpoint: "{url}", deployment: gpt-4o,
                 api_key: "${{env:AZURE_OPENAI_API_KEY}}"}}
        evaluators:
          relevance: {{}}
          coherence: {{threshold: 4}}
        run: {{max_error_rate: 1.0}}
        {extra}
    """


def judge_rows(scores: list[int | None]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, s in enumerate(scores):
        row: dict[str, Any] = {"id": i + 1, "question": f"Question {i + 1}?"}
        if s is not None:  # no answer: a missing-input error for both evaluators
            row["answer"] = f"Answer {i + 1}. STUB_SCORE={s}"
        rows.append(row)
    return rows


def test_judge_run(
    browser: Browser, cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(judge_config(stub.url), judge_rows([5, 4, 3, 2, 1, None, 5, 2]))
    report, results = run_and_report(cli, cfg, tmp_path / "out")
    assert erroring_lines(results) == [6]
    page = browser.new_page()
    page.goto(report)
    charts = check_report(page, results)
    assert {lab: c for lab, c in charts["dist|relevance.relevance"] if c} == {
        "1": 1,
        "2": 2,
        "3": 1,
        "4": 1,
        "5": 2,
    }
    # The errors section links to its row; following the link opens it even when filtered out.
    kinds = page.evaluate(
        "[...document.querySelectorAll('details.errkind')].map(d => d.dataset.kind)"
    )
    assert kinds == sorted({e["kind"] for e in results["errors"]})
    set_filter(page, "pass")
    page.evaluate("document.querySelector('details.errkind a[href=\"#row-6\"]').click()")
    detail = page.evaluate("document.querySelector('#row-6 + tr.detail').innerText")
    assert "missing" in detail and "Question 6?" in detail
    assert 6 in page.evaluate(VISIBLE_JS)
    # Printed: no controls, the charts keep their colours, and Chromium makes a PDF of it.
    page.call("Emulation.setEmulatedMedia", {"media": "print"})
    assert page.evaluate("getComputedStyle(document.querySelector('.controls')).display") == "none"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('rect.bar.tone-bad')).fill")
        == "rgb(194, 59, 49)"
    )
    pdf = base64.b64decode(page.call("Page.printToPDF")["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    page.close()


def test_safety_run(
    browser: Browser, cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    text = (REPO / "configs" / "content-safety.yaml").read_text(encoding="utf-8")
    text = text.replace("../sample_data/qa.jsonl", "data.jsonl")
    severities = ["Violence:6", "Hate:4", "SelfHarm:2", "Sexual:0", "Violence:2,Hate:6"]
    rows = [
        {"question": f"q{i}", "truth": f"t{i}", "answer": f"answer {i} STUB_SEVERITY={s}"}
        for i, s in enumerate(severities)
    ]
    cfg = make_config(text, rows)
    report, results = run_and_report(cli, cfg, tmp_path / "out")
    assert results["status"] == "gate_failed"
    page = browser.new_page()
    page.goto(report)
    charts = check_report(page, results)
    assert failing_lines(results) == [1, 2, 5]
    # The severity labels the summary counted, stacked with the defect threshold marked.
    dist = next(s for s in results["summaries"] if s["alias"] == "safety")["extra"]
    for harm in ("violence", "hate_unfairness", "self_harm", "sexual"):
        segments = dict(charts[f"shares|safety.{harm}_defect_rate"])
        assert segments == dist[f"{harm}_distribution"]
    assert (
        page.evaluate(
            "document.querySelectorAll('svg.dist line.marker[data-kind=\"defect\"]').length"
        )
        == 4
    )
    assert page.evaluate(
        "document.querySelectorAll('tr.gate[data-passed=\"false\"]').length"
    ) == sum(not g["passed"] for g in results["gates"])
    page.close()


def test_conversation_run(
    browser: Browser, cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    def conv(*pairs: tuple[str, str]) -> dict[str, Any]:
        messages = []
        for q, a in pairs:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        return {"messages": messages}

    rows = [
        {"conversation": conv(("hello?", "hi STUB_SCORE=5"), ("and then?", "then STUB_SCORE=1"))},
        {"conversation": conv(("one", "a STUB_SCORE=2"))},
        {
            "conversation": conv(
                ("x", "y STUB_SCORE=4"), ("z", "w STUB_SCORE=4"), ("u", "v STUB_SCORE=3")
            )
        },
    ]
    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        judge: {{type: azure_openai, endpoint: "{stub.url}", deployment: gpt-4o,
                 api_key: "${{env:AZURE_OPENAI_API_KEY}}"}}
        evaluators: {{relevance: {{}}}}
        """,
        rows,
    )
    report, results = run_and_report(cli, cfg, tmp_path / "out")
    page = browser.new_page()
    page.goto(report)
    check_report(page, results)
    page.evaluate("document.getElementById('row-3').click()")
    turns = page.evaluate(
        "[...document.querySelectorAll('#row-3 + tr.detail table.turns tr')].slice(1)"
        ".map(tr => [...tr.cells].map(td => td.innerText))"
    )
    per_turn = results["rows"][2]["outputs.relevance.evaluation_per_turn"]["relevance"]
    assert [t[:3] for t in turns] == [
        ["1", "x", "y STUB_SCORE=4"],
        ["2", "z", "w STUB_SCORE=4"],
        ["3", "u", "v STUB_SCORE=3"],
    ]
    assert [f"relevance: {v}" in t[3] for t, v in zip(turns, per_turn, strict=True)] == [True] * 3
    page.close()


def test_compare_and_variant_reports(
    browser: Browser, cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(judge_config(stub.url), judge_rows([5] * 12))
    base, _ = run_and_report(cli, cfg, tmp_path / "base")
    write_jsonl(tmp_path / "data.jsonl", judge_rows([5] * 4 + [1] * 8))
    cand, cand_results = run_and_report(cli, cfg, tmp_path / "cand")
    res = cli.invoke(app, ["report", str(cand.parent), "--compare", str(base.parent)])
    assert res.exit_code == 0, res.stderr
    page = browser.new_page()
    page.goto(cand.parent / "compare.html")
    check_report(page, cand_results)
    regressions = page.evaluate(
        "[...document.querySelectorAll('svg.forest g.frow.tone-bad')].map(g => g.dataset.label)"
    )
    assert sorted(regressions) == [
        "coherence.coherence",
        "coherence.pass_rate",
        "relevance.pass_rate",
        "relevance.relevance",
    ]
    assert page.evaluate("document.querySelectorAll('ul.regressions li').length") == 4
    page.close()

    # One run, two variants per pair: the gap of each variant reads off one plot.
    rows = judge_rows([5, 1, 4, 2, 5, 1, 4, 1])
    for i, row in enumerate(rows):
        row["pair"], row["variant"] = f"p{i // 2}", "a" if i % 2 == 0 else "b"
    cfg = make_config(judge_config(stub.url), rows)
    _, results = run_and_report(cli, cfg, tmp_path / "pairs")
    res = cli.invoke(
        app, ["report", str(tmp_path / "pairs"), "--pair-by", "pair", "--variant-column", "variant"]
    )
    assert res.exit_code == 0, res.stderr
    page = browser.new_page()
    page.goto(tmp_path / "pairs" / "compare.html")
    check_report(page, results)
    labels = page.evaluate(
        "[...document.querySelectorAll('svg.forest g.frow')].map(g => g.dataset.label)"
    )
    assert "relevance.relevance · b" in labels and "coherence.pass_rate · b" in labels
    page.close()


def test_red_team_walkthrough_run_shows_its_scorecard(
    browser: Browser, cli: CliRunner, tmp_path: Path, stub: StubServer
) -> None:
    # The walkthrough's direct run (README: Red teaming), on the shipped simulated dataset.
    for folder, name in (
        ("configs", "redteam-direct.yaml"),
        ("sample_data", "redteam_direct.jsonl"),
    ):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_bytes((REPO / folder / name).read_bytes())
    out = tmp_path / "results"
    _, results = run_and_report(cli, tmp_path / "configs" / "redteam-direct.yaml", out)
    page = browser.new_page()
    page.goto(write_report(out, max_asr=0.05))
    check_report(page, results)
    assert page.evaluate("document.querySelector('a[href=\"#scorecard\"]') !== null")
    assert page.evaluate("document.getElementById('scorecard').getClientRects().length > 0")
    cells = page.evaluate(
        "[...document.querySelectorAll('#scorecard tr.cmp')].map(tr => [tr.dataset.technique, "
        "tr.dataset.harm, ...[...tr.cells].slice(6).map(td => td.innerText)])"
    )
    gates = {(t, h): (asr, gate) for t, h, asr, _ci, _p, gate in cells}
    # the README's numbers: role-play gets through (plain or in Base64), the others do not
    assert {t for (t, _), (_, gate) in gates.items() if gate == "FAIL"} == {
        "roleplay",
        "roleplay+base64",
    }
    assert gates["roleplay", "safety.violence"] == ("100%", "FAIL")
    assert gates["roleplay+rot13", "safety.violence"] == ("0%", "pass")
    assert page.console_errors() == []
    page.close()


def test_hostile_rows_render_as_text(browser: Browser, tmp_path: Path) -> None:
    rows = [
        {
            "line": i,
            "inputs.query": text,
            "outputs.m.score": i % 5 + 1,
            "outputs.m.score_reason": text,
            "outputs.m.score_result": "fail",
        }
        for i, text in enumerate(HOSTILE, start=1)
    ]
    metric_info = {
        "m.score": info("m", "mean", "score"),
        "m.pass_rate": info("m", "pass_rate", "score_result"),
    }
    run = write_results(
        tmp_path / "r",
        rows,
        metric_info,
        name=HOSTILE[0],
        errors=[{"line": 1, "evaluator": "m", "kind": HOSTILE[2], "message": HOSTILE[3]}],
    )
    page = browser.new_page()
    page.goto(write_report(run))
    page.evaluate("document.querySelectorAll('#rows tr.row').forEach(tr => tr.click())")
    assert page.console_errors() == []
    assert page.requests() == [page.url]
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert (
        page.evaluate(
            "document.querySelectorAll('img, textarea, iframe, [onload], [onerror]').length"
        )
        == 0
    )
    assert page.evaluate("document.querySelectorAll('a[href^=\"javascript\"]').length") == 0
    text = page.evaluate("document.getElementById('rows').innerText")
    for hostile in HOSTILE:
        assert hostile.split("\u2028")[0].strip() in text
    assert page.evaluate("document.querySelector('h1').textContent") == HOSTILE[0]
    page.close()


def test_capped_report(browser: Browser, tmp_path: Path) -> None:
    rows = [
        {
            "line": i,
            "inputs.query": f"question {i}",
            "outputs.m.score": i % 5 + 1,
            "outputs.m.score_result": "pass" if i % 5 else "fail",
        }
        for i in range(1, 6001)
    ]
    metric_info = {
        "m.score": info("m", "mean", "score"),
        "m.pass_rate": info("m", "pass_rate", "score_result"),
    }
    page = browser.new_page()
    seconds = page.goto(write_report(write_results(tmp_path / "r", rows, metric_info)))
    assert seconds < 10  # the benchmark measures it properly (benchmarks/bench_report.py)
    assert page.console_errors() == []
    # 50 rows in the page at first, 200 more at a time on demand; all 5,000 are embedded.
    assert page.evaluate("document.querySelectorAll('#rows tr.row').length") == 50
    assert page.evaluate("document.getElementById('f-count').textContent").startswith(
        "5000 of 5000 rows match"
    )
    page.evaluate("document.getElementById('rows-more-button').click()")
    assert page.evaluate("document.querySelectorAll('#rows tr.row').length") == 250
    assert "embeds 5,000 of 6,000 rows" in page.evaluate(
        "document.getElementById('rows-notice').textContent"
    )
    assert set_filter(page, "fail") == list(range(5, 6001, 5))
    page.close()
