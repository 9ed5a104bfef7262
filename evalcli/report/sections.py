"""The run's header, its gates and its errors, as HTML (every value through :func:`esc`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from evalcli.report.load import as_dict, as_list
from evalcli.report.markup import esc, fmt_count, fmt_number

_STATUS_WORDS = {
    "completed": ("ok", "completed"),
    "gate_failed": ("bad", "gate failed"),
    "run_error": ("bad", "run error"),
    "interrupted": ("bad", "interrupted"),
}
#: Lines listed per error kind (all of them are in results.json).
_MAX_ERROR_LINES = 200


def run_header(header: dict[str, Any], *, title: str | None = None) -> str:
    """Run name, status, exit code and why, dataset, duration, identities, version, hashes."""
    run = as_dict(header.get("run"))
    status = str(header.get("status", "unknown"))
    tone, word = _STATUS_WORDS.get(status, ("neutral", status))
    code = header.get("exit_code")
    why = header.get("message")
    if not isinstance(why, str) or not why:
        why = "every gate passed" if as_list(header.get("gates")) else "no gates configured"
    dataset = as_dict(run.get("dataset"))
    facts: list[tuple[str, str]] = []
    if dataset:
        rows = dataset.get("rows")
        facts.append(
            (
                "dataset",
                f"{esc(dataset.get('path', '?'))} · "
                f"{esc(fmt_count(rows) if isinstance(rows, int) else '?')} rows · "
                f"{esc(dataset.get('format', ''))} · "
                f'sha256 <code class="hash">{esc(dataset.get("sha256", "?"))}</code>',
            )
        )
    duration = run.get("duration_s")
    if isinstance(duration, int | float):
        facts.append(("duration", f"{esc(fmt_number(float(duration), 1))} s"))
    if run.get("started_at"):
        facts.append(
            ("started", f"{esc(run.get('started_at'))} · finished {esc(run.get('finished_at'))}")
        )
    for role, names in _identities(header).items():
        facts.append((role, "<br>".join(esc(n) for n in names)))
    facts.append(("evalcli", esc(run.get("evalcli_version", "?"))))
    if run.get("config_path"):
        facts.append(("config", esc(run.get("config_path"))))
    facts.append(
        ("config sha256", f'<code class="hash">{esc(run.get("config_sha256", "?"))}</code>')
    )
    warnings = "".join(f"<li>{esc(w)}</li>" for w in as_list(header.get("warnings")))
    return (
        f'<header id="run"><h1>{esc(title or run.get("name") or "evalcli run")}</h1>'
        f'<p class="status"><span class="badge tone-{tone}" data-status="{esc(status)}">'
        f"{esc(word)}</span> exit code <b>{esc(code)}</b> · {esc(why)}</p>"
        '<dl class="facts">'
        + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
        + "</dl>"
        + (f'<ul class="warnings">{warnings}</ul>' if warnings else "")
        + "</header>"
    )


def _identities(header: dict[str, Any]) -> dict[str, list[str]]:
    """Judges and targets, from the usage record's client names and the evaluator records."""
    out: dict[str, list[str]] = defaultdict(list)
    for name in as_dict(as_dict(header.get("usage")).get("clients")):
        role = str(name).split(" ", 1)[0]
        key = role if role in ("judge", "target") else "services"
        out[key].append(str(name))
    if "judge" not in out:
        judges = {
            rec.get("judge")
            for rec in as_dict(as_dict(header.get("run")).get("evaluators")).values()
            if isinstance(rec, dict) and isinstance(rec.get("judge"), str)
        }
        if judges:
            out["judge"] = sorted(str(j) for j in judges)
    return dict(out)


def gates(header: dict[str, Any]) -> str:
    """The gates table (metric, bound, value, verdict)."""
    rows = [g for g in as_list(header.get("gates")) if isinstance(g, dict)]
    if not rows:
        return ""
    body = []
    for g in rows:
        passed = g.get("passed") is True
        op = {">=": "≥", "<=": "≤"}.get(str(g.get("op")), str(g.get("op")))
        value = g.get("value")
        shown = fmt_number(float(value), 4) if isinstance(value, int | float) else "no value"
        threshold = g.get("threshold")
        bound = fmt_number(float(threshold), 4) if isinstance(threshold, int | float) else "?"
        body.append(
            f'<tr class="gate" data-passed="{str(passed).lower()}"><td>{esc(g.get("metric"))}</td>'
            f"<td>{esc(op)} {esc(bound)}</td><td>{esc(shown)}</td>"
            f'<td><span class="badge tone-{"ok" if passed else "bad"}">'
            f"{'pass' if passed else 'fail'}</span></td></tr>"
        )
    return (
        '<section id="gates"><h2>Gates</h2><table class="grid"><thead><tr><th>metric</th>'
        "<th>bound</th><th>value</th><th>verdict</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></section>"
    )


def errors(header: dict[str, Any], embedded: set[int]) -> str:
    """Errors grouped by kind: count, evaluators, example messages and the rows they hit.

    A line links to its row when the table embeds it.
    """
    records = [e for e in as_list(header.get("errors")) if isinstance(e, dict)]
    if not records:
        return ""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in records:
        groups[str(e.get("kind", "unknown"))].append(e)
    parts = [
        f'<section id="errors"><h2>Errors <span class="count">{fmt_count(len(records))}</span></h2>'
    ]
    for kind, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        evaluators = sorted({str(e.get("evaluator")) for e in items})
        messages = list(dict.fromkeys(str(e.get("message", "")) for e in items))
        lines = sorted({e["line"] for e in items if isinstance(e.get("line"), int)})
        shown = [
            f'<a href="#row-{n}">{n}</a>' if n in embedded else str(n)
            for n in lines[:_MAX_ERROR_LINES]
        ]
        more = len(lines) - len(shown)
        parts.append(
            f'<details class="errkind" data-kind="{esc(kind)}" data-count="{len(items)}" open>'
            f"<summary><b>{esc(kind)}</b> · {fmt_count(len(items))} · "
            f'{esc(", ".join(evaluators))}</summary><ul class="msgs">'
            + "".join(f"<li>{esc(m)}</li>" for m in messages[:3])
            + (f"<li>… {len(messages) - 3} other messages</li>" if len(messages) > 3 else "")
            + f'</ul><p class="lines">rows: {", ".join(shown)}'
            + (f" and {fmt_count(more)} more (see results.json)" if more > 0 else "")
            + "</p></details>"
        )
    parts.append("</section>")
    return "".join(parts)
