"""The Rich summary table (stdout) and progress bar (stderr)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.table import Table

from evalcli.reporters.terminal import plural, print_fitted, stdout_console
from evalcli.results import EvaluatorSummary, MetricInfo, RunResult
from evalcli.safety.severity import LABELS as SEVERITY_LABELS


def _fmt(value: float | None, digits: int = 4) -> str:
    return (
        "—"
        if value is None
        else f"{value:.{digits}g}"
        if abs(value) >= 1
        else f"{value:.{digits}f}"
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def print_summary(result: RunResult, console: Console | None = None) -> None:
    """Print the per-evaluator table, gate verdicts and the run status."""
    con = console or stdout_console()
    table = Table(title=f"evalcli · {result.run.name}", title_justify="left")
    table.add_column("evaluator")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("pass rate", justify="right")
    table.add_column("scored", justify="right")
    table.add_column("errors", justify="right")
    rows = {s.alias: _metric_rows(result, s) or [_MetricRow("")] for s in result.summaries}
    more = any(row.more for metric_rows in rows.values() for row in metric_rows)
    if more:  # severities and yes/no labels only; no empty column for the others
        table.add_column("more")
    for s in result.summaries:
        name = s.alias if s.alias == s.use else f"{s.alias} ({s.use})"
        for i, row in enumerate(rows[s.alias]):
            first = i == 0
            table.add_row(
                name if first else "",
                row.metric,
                _fmt(row.mean),
                _pct(row.pass_rate),
                str(s.scored) if first else "",
                (f"[red]{s.errors}[/red]" if s.errors else "0") if first else "",
                *((" · ".join(row.more),) if more else ()),
            )
    print_fitted(con, table, names=("evaluator", "metric"))
    clients = result.usage.get("clients") if result.usage else None
    if clients:
        ut = Table(title="model calls", title_justify="left")
        priced = any("cost" in c for c in clients.values())
        cols = (
            "client",
            "calls",
            "cached",
            "failed",
            "retries",
            "prompt tokens",
            "completion tokens",
        ) + (("cost",) if priced else ())
        for col in cols:
            ut.add_column(col, justify="left" if col == "client" else "right")
        for label, c in clients.items():
            ut.add_row(
                label,
                str(c.get("calls", 0)),
                str(c.get("cache_hits", 0)),
                str(c.get("failed", 0)),
                str(c.get("retries", 0)),
                f"{c.get('prompt_tokens', 0):,}",
                f"{c.get('completion_tokens', 0):,}",
                *((f"{c['cost']:.4f}" if "cost" in c else "—",) if priced else ()),
            )
        print_fitted(con, ut)
        total_cost = result.usage.get("total", {}).get("cost")
        if total_cost is not None:
            con.print(f"spent: {total_cost:.4f} (answers from the cache cost nothing)")
    if result.gates:
        gt = Table(title="gates", title_justify="left")
        gt.add_column("metric")
        gt.add_column("check")
        gt.add_column("value", justify="right")
        gt.add_column("verdict")
        for g in result.gates:
            verdict = "[green]pass[/green]" if g.passed else "[red]FAIL[/red]"
            gt.add_row(g.metric, f"{g.op} {g.threshold:g}", _fmt(g.value), verdict)
        print_fitted(con, gt, names=("metric", "verdict"), numbers=("check",))
    colour = {
        "completed": "green",
        "gate_failed": "red",
        "run_error": "red",
        "interrupted": "yellow",
    }[result.status]
    con.print(
        f"[{colour}]{result.status}[/{colour}] · {plural(result.run.dataset.rows, 'row')} · "
        f"{plural(len(result.errors), 'error')} · {result.run.duration_s:.2f}s · "
        f"exit {result.exit_code}"
    )


@dataclass
class _MetricRow:
    """One line of the summary table: a metric (what a gate names after ``<alias>.``)."""

    metric: str
    mean: float | None = None
    pass_rate: float | None = None
    more: list[str] = field(default_factory=list)
    paired: bool = False  # a pass rate joined it (its value may be None: nothing scored)


def _metric_rows(result: RunResult, s: EvaluatorSummary) -> list[_MetricRow]:
    """Every metric the evaluator produced (all of them can be gated on), as table rows.

    Each mean gets a row; a rate joins the row of the mean with the same subject (the
    declared stem of the output it summarises): a score's pass rate, a severity's defect
    rate and severity-label distribution. A primary ``pass_rate`` without such a mean joins
    the first mean without one (the headline). Any other rate, e.g. a yes/no label's defect
    or passing rate, gets a row of its own, so that no metric is left out; so does a corpus
    score (``corpus_chrf``), shown in the mean column.
    """
    prefix = s.alias + "."
    info = {
        name.removeprefix(prefix): m
        for name, m in result.metric_info.items()
        if m.evaluator == s.alias and m.kind != "error_count"
    }

    def value(short: str) -> float | None:
        return result.metrics.get(prefix + short)

    def subject(m: MetricInfo) -> str | None:
        return m.subject if m.subject is not None else m.source_key

    rows: dict[str, _MetricRow] = {}  # short metric name -> its row, in metric_info order
    by_subject: dict[str | None, _MetricRow] = {}  # a mean's subject -> its row
    for short, m in info.items():
        if m.kind == "mean":
            rows[short] = _MetricRow(short, mean=value(short))
            by_subject.setdefault(subject(m), rows[short])
    joined: set[str] = set()
    for short, m in info.items():
        row = by_subject.get(subject(m))
        if m.kind == "defect_rate" and row is not None:
            row.more.append(f"defect rate {_pct(value(short))}")
            dist = s.extra.get(f"{subject(m)}_distribution")
            if isinstance(dist, dict):
                known = [(label, dist.get(label, 0)) for label in SEVERITY_LABELS]
                others = [(k, v) for k, v in dist.items() if k not in SEVERITY_LABELS]
                row.more.append(", ".join(f"{k} {v}" for k, v in (*known, *others)))
            joined.add(short)
        elif m.kind == "pass_rate":
            if row is None and short == "pass_rate":
                row = next((r for r in rows.values() if not r.paired), None)
            if row is not None and not row.paired:
                row.pass_rate, row.paired = value(short), True
                joined.add(short)
    out: list[_MetricRow] = []
    for short, m in info.items():
        if short in rows:
            out.append(rows[short])
        elif short not in joined:
            own = _MetricRow(short)
            if m.kind == "defect_rate":
                own.more.append(f"defect rate {_pct(value(short))}")
            elif m.kind == "detection_rate":  # neither a pass nor a defect: its own words
                own.more.append(f"detected {_pct(value(short))}")
            elif m.kind == "corpus":  # a score of the whole corpus, in the score's column
                own.mean = value(short)
            else:
                own.pass_rate = value(short)
            out.append(own)
    return out


class Progress:
    """A progress bar on stderr that starts lazily (after the runner forked its workers).

    Args:
        enabled: False makes every call a no-op.
        console: Where to draw (default: a console on stderr; tests pass a recording one).
    """

    def __init__(self, enabled: bool, console: Console | None = None):
        self.enabled = enabled
        self._console = console
        self._progress: Any = None
        self._task: Any = None

    def update(self, done: int, total: int, status: str = "") -> None:
        """Report progress, with ``status`` (e.g. calls and errors) after the bar."""
        if not self.enabled:
            return
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                TextColumn("rows"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=self._console or Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("rows", total=total, status=status)
        self._progress.update(self._task, completed=done, total=total, status=status)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
