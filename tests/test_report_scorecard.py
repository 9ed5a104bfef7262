"""The red-team scorecard section of ``report.html`` (evalcli.report.scorecard_section)."""

from __future__ import annotations

import html as html_text
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.report import render_report
from tests.test_scorecard import _results


def _section(page: str) -> str:
    match = re.search(r'<section id="scorecard">.*?</section>', page, re.S)
    assert match, "no scorecard section"
    return match.group(0)


def _rows(section: str) -> dict[tuple[str, str], list[str]]:
    out = {}
    for tr in re.findall(r"<tr class=\"cmp[^>]*>(.*?)</tr>", section, re.S):
        cells = [html_text.unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr, re.S)]
        out[cells[0], cells[1]] = cells[2:]
    return out


def test_a_tagged_run_shows_the_scorecard_with_the_hand_computed_numbers(
    tmp_path: Path, cli: CliRunner
) -> None:
    run = _results(tmp_path / "run")  # the values of tests/test_scorecard.py
    page = render_report(run, max_asr=0.35)
    section = _section(page)
    assert '<a href="#scorecard">Scorecard</a>' in page
    rows = _rows(section)
    assert set(rows) == {
        (t, h) for t in ("A", "B") for h in ("violence", "canary.followed", "any harm")
    }
    # pairs, variants, baseline, attacked, ASR, CI, McNemar p, gate
    pairs, variants, base, attacked, asr, ci, p, gate = rows["A", "violence"]
    assert (pairs, variants, base, attacked, asr, p, gate) == (
        "4",
        "8",
        "25%",
        "50%",
        "37.5%",
        "0.5",
        "FAIL",
    )
    assert re.fullmatch(r"\[\d+(\.\d)?%, \d+(\.\d)?%\]", ci)
    assert rows["B", "violence"][4] == "33.3%" and rows["B", "violence"][-1] == "pass"
    assert "above the gate</span> ASR &gt; 35%: A</p>" in section

    # The same numbers as `evalcli scorecard --format json`, without a gate by default.
    res = cli.invoke(app, ["scorecard", str(run), "--format", "json"])
    card = json.loads(res.stdout)
    cell = next(c for c in card["cells"] if (c["technique"], c["harm"]) == ("A", "violence"))
    plain = _rows(_section(render_report(run)))
    assert plain["A", "violence"][-1] == "-"
    assert plain["A", "violence"][5] == f"[{cell['ci_low']:.1%}, {cell['ci_high']:.1%}]".replace(
        ".0%", "%"
    )
    assert "No gate" in _section(render_report(run))

    res = cli.invoke(app, ["report", str(run), "--max-asr", "0.5"])
    assert res.exit_code == 0, res.stderr
    written = (run / "report.html").read_text(encoding="utf-8")
    assert "within the gate" in _section(written)


def test_an_untagged_run_has_no_scorecard_and_an_unscorable_one_says_why(
    tmp_path: Path,
) -> None:
    run = _results(tmp_path / "tagged")
    data = json.loads((run / "results.json").read_text())
    for row in data["rows"]:
        del row["inputs.technique"]
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "results.json").write_text(json.dumps(data), encoding="utf-8")
    page = render_report(plain)
    assert 'id="scorecard"' not in page and "#scorecard" not in page

    data = json.loads((run / "results.json").read_text())
    data["rows"] = [r for r in data["rows"] if r["inputs.technique"] == "none"]
    (run / "results.json").write_text(json.dumps(data), encoding="utf-8")
    section = _section(render_report(run))
    assert "No scorecard: no attacked rows: only baseline rows." in section


def test_detections_get_their_own_table_and_are_no_harm(tmp_path: Path) -> None:
    run = _results(tmp_path / "run")
    data = json.loads((run / "results.json").read_text())
    for row in data["rows"]:  # the filter flags technique A only
        row["outputs.pa.prompt_attack_label"] = row["inputs.technique"] == "A"
    data["metric_info"]["pa.prompt_attack_detection_rate"] = {
        "evaluator": "pa",
        "kind": "detection_rate",
        "direction": "higher",
        "source_key": "prompt_attack_label",
    }
    data["metrics"]["pa.prompt_attack_detection_rate"] = 0.5
    data["run"]["evaluators"]["pa"] = {"use": "prompt_attack", "family": "attack", "params": {}}
    (run / "results.json").write_text(json.dumps(data), encoding="utf-8")
    section = _section(render_report(run))
    assert {h for _, h in _rows(section)} == {"violence", "canary.followed", "any harm"}
    table = section.split("<h3>Input filter detections</h3>", 1)[1]
    cells = [html_text.unescape(c) for c in re.findall(r"<td>(.*?)</td>", table)]
    assert cells == [
        *("A", "pa.prompt_attack", "0%", "8", "100% (8)"),
        *("B", "pa.prompt_attack", "0%", "4", "0% (0)"),
    ]
