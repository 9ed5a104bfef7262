"""``report.html``: one self-contained page per run (or per comparison), for people.

Library entry point (``evalcli report`` is a thin client)::

    from evalcli.report import write_report
    write_report(Path("results/quickstart"))                     # -> .../report.html
    write_report(Path("new"), compare=Path("old"))               # -> new/compare.html
    write_report(Path("run"), pair_by="pair_id", variant_column="variant")

The page reads nothing over the network (a CSP meta tag forbids it), works from a mail
attachment or a CI artifact, and prints readably. It holds the run header, the gates, the
red-team scorecard of a run over a simulated dataset (:mod:`evalcli.report.scorecard_section`),
one card per evaluator with inline SVG charts chosen by each metric's declared kind
(:mod:`evalcli.report.cards`), the errors grouped by kind, and a rows table with filters,
search and sorting (at most :data:`MAX_ROWS` rows, failing and erroring first; see
:mod:`evalcli.report.digest`). The rows are streamed from ``results.json`` and never all
held in memory; a comparison is computed by :mod:`evalcli.compare`, which does load both
runs.
"""

from __future__ import annotations

import contextlib
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from evalcli._version import __version__
from evalcli.report.cards import evaluator_cards
from evalcli.report.digest import MAX_ROWS, digest_rows
from evalcli.report.load import ReportError, ResultsStream, results_file
from evalcli.report.markup import esc, page
from evalcli.report.scorecard_section import scorecard_section
from evalcli.report.sections import errors, gates, run_header
from evalcli.report.table import rows_section

if TYPE_CHECKING:
    from evalcli.compare import Report

__all__ = ["MAX_ROWS", "REPORT_NAME", "ReportError", "render_report", "write_report"]

#: The report of a run, written beside its results.json.
REPORT_NAME = "report.html"
#: The default name of a comparison report (``--compare`` or ``--pair-by``).
COMPARE_NAME = "compare.html"


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def render_report(
    results: Path,
    *,
    compare: Path | None = None,
    pair_by: str | None = None,
    variant_column: str | None = None,
    baseline_variant: str | None = None,
    max_rows: int = MAX_ROWS,
    max_asr: float | None = None,
) -> str:
    """The report page of a run as HTML text (see :func:`write_report` for the arguments).

    Raises:
        ReportError: a results file or an option cannot be used.
        evalcli.compare.CompareError: the comparison cannot be made (exit 2 too).
    """
    comparison = ""
    if compare is not None or pair_by is not None or variant_column is not None:
        # Imported here: a plain report does not need the comparison's models.
        from evalcli.report.compare_view import comparison_section

        comparison = comparison_section(
            _compare(results, compare, pair_by, variant_column, baseline_variant)
        )
    elif baseline_variant is not None:
        raise ReportError("--baseline-variant needs --pair-by and --variant-column")
    stream = ResultsStream(results)
    digest = digest_rows(stream.header, stream.rows(), max_rows=max_rows)
    header = stream.header  # complete now: keys after the rows joined it during the pass
    name = str(header["run"].get("name") or "evalcli run")
    title = f"{name}: comparison" if comparison else name
    sections = [
        ("run", "Run", run_header(header, title=title)),
        ("comparison", "Comparison", comparison),
        ("gates", "Gates", gates(header)),
        ("scorecard", "Scorecard", scorecard_section(stream.path, digest, max_asr=max_asr)),
        ("evaluators", "Evaluators", evaluator_cards(header, digest)),
        ("errors", "Errors", errors(header, {e.line for e in digest.rows})),
        ("rows-section", "Rows", rows_section(digest)),
    ]
    nav = " · ".join(f'<a href="#{key}">{label}</a>' for key, label, html in sections if html)
    body = "".join(
        [
            f'<nav class="toc">{nav}</nav>',
            *(html for _, _, html in sections),
            f"<footer>Written by evalcli {esc(__version__)} from {esc(stream.path)}. "
            "Self-contained: this page loads nothing from the network.</footer>",
        ]
    )
    return page(f"evalcli · {title}", body, script=_asset("report.js"), style=_asset("report.css"))


def _compare(
    results: Path,
    baseline: Path | None,
    pair_by: str | None,
    variant_column: str | None,
    baseline_variant: str | None,
) -> Report:
    from evalcli.compare import compare_runs, compare_variants

    if baseline is not None:
        if pair_by is not None or variant_column is not None:
            raise ReportError(
                "--compare takes a baseline run; --pair-by/--variant-column compare the "
                "variants of one run: use one or the other"
            )
        return compare_runs(results_file(baseline), results_file(results))
    if pair_by is None or variant_column is None:
        raise ReportError("the variant view needs both --pair-by and --variant-column")
    return compare_variants(
        results_file(results),
        pair_by=pair_by,
        variant_column=variant_column,
        baseline_variant=baseline_variant,
    )


def write_report(
    results_dir: Path,
    out: Path | None = None,
    *,
    compare: Path | None = None,
    pair_by: str | None = None,
    variant_column: str | None = None,
    baseline_variant: str | None = None,
    max_rows: int = MAX_ROWS,
    max_asr: float | None = None,
) -> Path:
    """Write the report of a finished run and return its path.

    Args:
        results_dir: The run's output directory (or its ``results.json``).
        out: Where to write; default ``report.html`` beside ``results.json``, or
            ``compare.html`` for a comparison.
        compare: A baseline run's directory (or results.json): the page adds a forest plot
            of paired differences (this run minus the baseline), McNemar p-values and
            regressions.
        pair_by, variant_column: Compare the variants of this one run instead (rows grouped
            by ``inputs.<pair_by>``, each named by ``inputs.<variant_column>``).
        baseline_variant: The reference variant (default: the first in sorted order).
        max_rows: Rows the table embeds at most.
        max_asr: The scorecard's gate, for a run over a dataset made by ``evalcli simulate``
            (its rows tagged ``technique`` and ``pair_id``): the page shows the red-team
            scorecard, marking the techniques whose attack success rate is above this.

    The file appears atomically (written under a temporary name, then renamed).

    Raises:
        ReportError: a results file or an option cannot be used (exit 2).
        evalcli.compare.CompareError: the runs cannot be compared (exit 2).
    """
    text = render_report(
        results_dir,
        compare=compare,
        pair_by=pair_by,
        variant_column=variant_column,
        baseline_variant=baseline_variant,
        max_rows=max_rows,
        max_asr=max_asr,
    )
    if out is None:
        comparing = compare is not None or pair_by is not None
        out = results_file(results_dir).parent / (COMPARE_NAME if comparing else REPORT_NAME)
    # A temporary name in the same directory (so the rename is atomic), created like any
    # file (mkstemp's owner-only mode would make a shared CI artifact unreadable).
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ReportError(
            f"cannot write the report ({exc.strerror or exc})", where=str(out)
        ) from None
    return out
