"""The Rich summary table (stdout) and progress bar (stderr)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.table import Table

from evalcli.results import EvaluatorSummary, RunResult
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


def _short(key: str, headline: str | None) -> str:
    """``rouge_precision_pass_rate`` -> ``precision pass`` next to the ``rouge`` headline."""
    if headline and key.startswith(headline + "_") and key != headline + "_pass_rate":
        key = key[len(headline) + 1 :]
    return (
        key.replace("_pass_rate", " pass")
        .replace("_defect_rate", " defects")
        .replace("_passing_rate", " passing")
        .replace("_", " ")
    )


def print_summary(result: RunResult, console: Console | None = None) -> None:
    """Print the per-evaluator table, gate verdicts and the run status."""
    con = console or Console(highlight=False)
    table = Table(title=f"evalcli · {result.run.name}", title_justify="left")
    table.add_column("evaluator")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("pass rate", justify="right")
    table.add_column("scored", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("more")
    for s in result.summaries:
        name = s.alias if s.alias == s.use else f"{s.alias} ({s.use})"
        harms = _severity_rows(result, s)
        if harms:
            for i, (metric, mean, pass_rate, details) in enumerate(harms):
                first = i == 0
                table.add_row(
                    name if first else "",
                    metric,
                    _fmt(mean),
                    _pct(pass_rate),
                    str(s.scored) if first else "",
                    (f"[red]{s.errors}[/red]" if s.errors else "0") if first else "",
                    details,
                )
            continue
        more = []
        for key, value in s.extra.items():
            label = _short(key, s.headline_key)
            if isinstance(value, dict):
                more.append(f"{label}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
            elif isinstance(value, float | int) or value is None:
                more.append(f"{label} {_pct(value)}")
        table.add_row(
            name,
            s.headline_key or "",
            _fmt(s.mean),
            _pct(s.pass_rate),
            str(s.scored),
            f"[red]{s.errors}[/red]" if s.errors else "0",
            "; ".join(more),
        )
    con.print(table)
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
        con.print(ut)
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
        con.print(gt)
    colour = {
        "completed": "green",
        "gate_failed": "red",
        "run_error": "red",
        "interrupted": "yellow",
    }[result.status]
    errors = len(result.errors)
    con.print(
        f"[{colour}]{result.status}[/{colour}] · {result.run.dataset.rows} rows · "
        f"{errors} error{'s' if errors != 1 else ''} · {result.run.duration_s:.2f}s · "
        f"exit {result.exit_code}"
    )


def _severity_rows(
    result: RunResult, s: EvaluatorSummary
) -> list[tuple[str, float | None, float | None, str]]:
    """One row per harm of a severity evaluator: (metric, mean, pass rate, details).

    A harm is a severity output: it has both a mean and a defect rate computed from the
    same key (``metric_info`` says which); its label distribution is in the summary's
    ``extra`` under ``<stem>_distribution``. Empty for other evaluators.
    """
    info = {name: m for name, m in result.metric_info.items() if m.evaluator == s.alias}
    means = {m.source_key: name for name, m in info.items() if m.kind == "mean"}
    prefix = s.alias + "."
    rows = []
    for name, m in info.items():
        if m.kind != "defect_rate" or m.source_key not in means:
            continue
        stem = name.removeprefix(prefix).removesuffix("_defect_rate")
        pass_rate = result.metrics.get(f"{prefix}{stem}_pass_rate", s.pass_rate)
        details = [f"defect rate {_pct(result.metrics.get(name))}"]
        dist = s.extra.get(f"{stem}_distribution")
        if isinstance(dist, dict):
            known = [(label, dist.get(label, 0)) for label in SEVERITY_LABELS]
            others = [(k, v) for k, v in dist.items() if k not in SEVERITY_LABELS]
            details.append(", ".join(f"{k} {v}" for k, v in (*known, *others)))
        rows.append(
            (
                str(m.source_key),
                result.metrics.get(means[m.source_key]),
                pass_rate,
                " · ".join(details),
            )
        )
    return rows


class Progress:
    """A progress bar on stderr that starts lazily (after the runner forked its workers)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def update(self, done: int, total: int) -> None:
        """Report progress (called from the runner's main thread)."""
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
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("rows", total=total)
        self._progress.update(self._task, completed=done, total=total)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
