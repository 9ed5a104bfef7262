"""The Rich summary table (stdout) and progress bar (stderr)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.table import Table

from evalcli.results import RunResult


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
        more = []
        for key, value in s.extra.items():
            if isinstance(value, dict):
                more.append(f"{key}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
            elif isinstance(value, float | int) or value is None:
                more.append(f"{key} {_pct(value)}")
        name = s.alias if s.alias == s.use else f"{s.alias} ({s.use})"
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
        for col in ("client", "calls", "failed", "retries", "prompt tokens", "completion tokens"):
            ut.add_column(col, justify="left" if col == "client" else "right")
        for label, c in clients.items():
            ut.add_row(
                label,
                str(c["calls"]),
                str(c["failed"]),
                str(c["retries"]),
                f"{c['prompt_tokens']:,}",
                f"{c['completion_tokens']:,}",
            )
        con.print(ut)
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
