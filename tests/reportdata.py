"""Helpers of the report tests: synthetic results.json files and reading the report back."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

HOSTILE = [
    "</script><script>window.__pwned = 1</script>",
    "</textarea><textarea>",
    '<img src=x onerror="window.__pwned = 2">',
    "javascript:window.__pwned = 3",
    '"><svg onload="window.__pwned = 4">',
    "<!-- </style> & \u2028 \u2029 done",
]


def info(
    evaluator: str,
    kind: str,
    source: str | None,
    *,
    direction: str = "higher",
    defect_threshold: int | None = None,
    scale: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One metric_info entry."""
    entry: dict[str, Any] = {
        "evaluator": evaluator,
        "kind": kind,
        "direction": direction,
        "source_key": source,
        "defect_threshold": defect_threshold,
    }
    if scale is not None:
        entry["scale"] = scale
    return entry


def write_results(
    path: Path,
    rows: list[dict[str, Any]],
    metric_info: dict[str, dict[str, Any]],
    *,
    metrics: dict[str, float | None] | None = None,
    evaluators: dict[str, dict[str, Any]] | None = None,
    summaries: list[dict[str, Any]] | None = None,
    errors: list[dict[str, Any]] | None = None,
    gates: list[dict[str, Any]] | None = None,
    name: str = "synthetic",
    rows_first: bool = False,
    extra_header: dict[str, Any] | None = None,
) -> Path:
    """A results.json in evalcli's layout (header first, one row per line), or rows first."""
    path.mkdir(parents=True, exist_ok=True)
    names = {i["evaluator"] for i in metric_info.values()}
    header: dict[str, Any] = {
        "schema_version": 1,
        "status": "completed",
        "exit_code": 0,
        "message": None,
        "run": {
            "name": name,
            "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": "2026-01-01T00:00:01+00:00",
            "duration_s": 1.0,
            "evalcli_version": "0.1.0",
            "config_path": "eval.yaml",
            "config_sha256": "0" * 64,
            "dataset": {
                "path": "data.jsonl",
                "format": "jsonl",
                "rows": len(rows),
                "sha256": "1" * 64,
            },
            "evaluators": evaluators
            or {n: {"use": n, "family": "custom", "params": {}} for n in sorted(names)},
        },
        "metrics": metrics or dict.fromkeys(metric_info),
        "metric_info": metric_info,
        "summaries": summaries or [],
        "gates": gates or [],
        "errors": errors or [],
        "usage": {},
        "warnings": [],
        **(extra_header or {}),
    }
    body = ",\n".join(json.dumps(r) for r in rows)
    head = json.dumps(header)
    if rows_first:
        text = '{"rows": [' + body + "], " + head[1:] + "\n"
    else:
        text = head[:-1] + ', "rows": [' + body + "]}\n"
    (path / "results.json").write_text(text, encoding="utf-8")
    return path


def data_block(html: str) -> Any:
    """The rows table's JSON payload."""
    match = re.search(r'<script type="application/json" id="rows-data">(.*?)</script>', html, re.S)
    assert match, "no rows-data block"
    return json.loads(match.group(1))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every element of the page, as an HTML parser (and so a browser) reads it."""
    parser = _Tags()
    parser.feed(html)
    return parser.tags


class _Charts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.svg: list[tuple[str, str]] = []  # stack of (class, metric)
        self.found: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
        self.markers: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self.svg.append((a.get("class", ""), a.get("data-metric", "")))
        elif self.svg and tag == "rect" and "data-count" in a:
            cls, metric = self.svg[-1]
            kind = cls.split()[-1]
            self.found.setdefault((kind, metric), []).append(
                (a.get("data-label", ""), int(a["data-count"]), a.get("class", ""))
            )
        elif self.svg and tag == "line" and "data-kind" in a:
            self.markers.setdefault(self.svg[-1][1], []).append(a["data-kind"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self.svg:
            self.svg.pop()


def charts(
    html: str,
) -> tuple[dict[tuple[str, str], list[tuple[str, int, str]]], dict[str, list[str]]]:
    """Bars/segments of every chart by (chart class, metric): (label, count, css class); and
    the markers (threshold, defect, mean) drawn on each metric's charts."""
    parser = _Charts()
    parser.feed(html)
    return parser.found, parser.markers
