"""A run as GitHub-flavoured Markdown: ``run --format markdown`` and the GitHub step summary.

Everything is rendered from the ``results.json`` layout (``RunResult.model_dump(mode="json")``
or the file read back), so a summary can be made again from disk. Text that comes from
users or models (run names, paths, error messages) is escaped: a ``|`` or a line break
cannot break a table, and Markdown or HTML in a message shows as typed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from evalcli.textsafe import replace_unprintable

#: Environment variable naming the artifact the summary points to (``--artifact-name``).
ARTIFACT_ENV = "EVALCLI_ARTIFACT_NAME"
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
MAX_ERROR_GROUPS = 30
MAX_MESSAGE = 300
MAX_LINES_LISTED = 10

# ASCII punctuation that means something to Markdown (or starts HTML) anywhere in a line.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~!&])")
_BREAK = re.compile(r"\r\n|\r|\n")
_STATUS = {
    "completed": ("✅", "completed"),
    "gate_failed": ("❌", "gate failed"),
    "run_error": ("❌", "run error"),
    "interrupted": ("⚠️", "interrupted"),
}


def text(value: object) -> str:
    """Plain text for a Markdown line: special characters escaped, line breaks as spaces."""
    return _BREAK.sub(" ", _SPECIAL.sub(r"\\\1", replace_unprintable(str(value))))


def cell(value: object) -> str:
    """Plain text for a table cell: special characters (``|`` included) escaped, line
    breaks as ``<br>`` (a table row must stay on one line)."""
    return _BREAK.sub("<br>", _SPECIAL.sub(r"\\\1", replace_unprintable(str(value))))


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(headers: list[str], rows: list[list[str]], right: Collection[int] = ()) -> list[str]:
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    return [_row(*headers), _row(*rule), *(_row(*r) for r in rows)]


def value_text(value: float | None, kind: str | None) -> str:
    """A metric value as the console shows it: rates in percent, counts whole."""
    if value is None:
        return "—"
    if kind in ("pass_rate", "defect_rate", "passing_rate", "detection_rate"):
        return f"{value:.1%}"
    if kind == "error_count":
        return f"{value:g}"
    return f"{value:.4g}" if abs(value) >= 1 else f"{value:.4f}"


def artifact_link(artifact: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Where the full results are, as a Markdown line (None without an artifact name).

    A URL is linked as it is. A name is linked to the workflow run's page, whose artifacts
    list holds it, when GitHub's ``GITHUB_SERVER_URL``, ``GITHUB_REPOSITORY`` and
    ``GITHUB_RUN_ID`` are set: an artifact's own URL is only known after its upload step.
    """
    if not artifact:
        return None
    if re.match(r"https?://", artifact):
        return f"Full report and results: [{text(artifact)}]({_url(artifact)})"
    env = os.environ if environ is None else environ
    server, repo, run_id = (
        env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    where = "artifact **" + text(artifact) + "**"
    if server and repo and run_id:
        url = f"{server}/{repo}/actions/runs/{run_id}#artifacts"
        return f"Full report and results: {where} of [this workflow run]({_url(url)})"
    return f"Full report and results: {where}"


def _url(url: str) -> str:
    """A URL as a link destination (spaces, parentheses and angle brackets encoded)."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C")


def run_markdown(results: Mapping[str, Any], *, artifact: str | None = None) -> str:
    """The run (``results.json`` layout) as Markdown: status, gates, metrics, errors, calls."""
    run = results.get("run", {})
    dataset = run.get("dataset", {})
    icon, status = _STATUS.get(str(results.get("status")), ("", str(results.get("status"))))
    out = [f"## {icon} evalcli · {text(run.get('name', ''))}: {status}", ""]
    facts = [f"exit {results.get('exit_code')}"]
    if results.get("message"):
        facts[0] += f" ({text(results['message'])})"
    facts.append(f"{dataset.get('rows', 0):,} rows of {text(dataset.get('path', ''))}")
    facts.append(f"{len(results.get('errors', [])):,} errors")
    facts.append(f"{float(run.get('duration_s', 0.0)):.1f} s")
    out += [" · ".join(facts), ""]
    link = artifact_link(artifact)
    if link:
        out += [link, ""]
    out += _gates(results) + _metrics(results) + _errors(results) + _calls(results)
    warnings = results.get("warnings") or []
    if warnings:
        out += ["### Warnings", "", *(f"- {text(w)}" for w in warnings), ""]
    config_hash = text(str(run.get("config_sha256", ""))[:12])
    data_hash = text(str(dataset.get("sha256", ""))[:12])
    out.append(
        f"<sub>evalcli {text(run.get('evalcli_version', ''))} · config "
        f"{text(run.get('config_path', ''))} (sha256 {config_hash}) · dataset sha256 "
        f"{data_hash}</sub>"
    )
    return "\n".join(out) + "\n"


def _gates(results: Mapping[str, Any]) -> list[str]:
    gates = results.get("gates") or []
    if not gates:
        return []
    rows = [  # values in the bound's units (a rate as 0.7, not 70 %), as the config has it
        [
            "✅ pass" if g.get("passed") else "❌ **fail**",
            cell(g["metric"]),
            cell(f"{g['op']} {g['threshold']:g}"),
            value_text(g.get("value"), None),
        ]
        for g in gates
    ]
    return ["### Gates", "", *_table(["", "metric", "bound", "value"], rows, {3}), ""]


def _metrics(results: Mapping[str, Any]) -> list[str]:
    summaries = results.get("summaries") or []
    if not summaries:
        return []
    metrics = results.get("metrics") or {}
    info = results.get("metric_info") or {}
    rows: list[list[str]] = []
    for s in summaries:
        alias = s["alias"]
        name = alias if alias == s.get("use") else f"{alias} ({s.get('use')})"
        own = [
            (m, i)
            for m, i in info.items()
            if i.get("evaluator") == alias and i.get("kind") != "error_count"
        ]
        if not own:
            own = [(f"{alias}.", {})]
        for n, (metric, i) in enumerate(own):
            first = n == 0
            rows.append(
                [
                    cell(name) if first else "",
                    cell(metric.removeprefix(alias + ".")),
                    value_text(metrics.get(metric), i.get("kind")) if i else "—",
                    f"{s.get('scored', 0):,}" if first else "",
                    f"{s.get('errors', 0):,}" if first else "",
                ]
            )
    headers = ["evaluator", "metric", "value", "scored", "errors"]
    return ["### Metrics", "", *_table(headers, rows, {2, 3, 4}), ""]


def _errors(results: Mapping[str, Any]) -> list[str]:
    errors = results.get("errors") or []
    if not errors:
        return []
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for e in errors:
        groups.setdefault((str(e.get("evaluator")), str(e.get("kind"))), []).append(e)
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    rows = []
    for (evaluator, kind), items in ordered[:MAX_ERROR_GROUPS]:
        lines = ", ".join(str(e.get("line")) for e in items[:MAX_LINES_LISTED])
        if len(items) > MAX_LINES_LISTED:
            lines += ", …"
        message = str(items[0].get("message", ""))
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + "…"
        rows.append([cell(evaluator), cell(kind), f"{len(items):,}", lines, cell(message)])
    out = [f"### Errors ({len(errors):,})", ""]
    out += _table(["evaluator", "kind", "count", "rows (line)", "first message"], rows, {2})
    if len(ordered) > MAX_ERROR_GROUPS:
        out += ["", f"… and {len(ordered) - MAX_ERROR_GROUPS} more kinds (see results.json)"]
    return [*out, ""]


def _calls(results: Mapping[str, Any]) -> list[str]:
    clients = (results.get("usage") or {}).get("clients") or {}
    if not clients:
        return []
    priced = any("cost" in c for c in clients.values())
    headers = ["client", "calls", "cached", "failed", "prompt tokens", "completion tokens"]
    headers += ["cost"] if priced else []
    rows = []
    for label, c in clients.items():
        row = [cell(label)]
        row += [f"{int(c.get(k, 0)):,}" for k in ("calls", "cache_hits", "failed")]
        row += [f"{int(c.get(k, 0)):,}" for k in ("prompt_tokens", "completion_tokens")]
        if priced:
            row.append(f"{c['cost']:.4f}" if "cost" in c else "—")
        rows.append(row)
    return ["### Model calls", "", *_table(headers, rows, set(range(1, len(headers)))), ""]


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append ``markdown`` to the file ``GITHUB_STEP_SUMMARY`` names; returns its path, or
    None when the variable is unset.

    Raises:
        OSError: the file cannot be written.
    """
    env = os.environ if environ is None else environ
    target = env.get(SUMMARY_ENV, "").strip()
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path
