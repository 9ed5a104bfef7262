"""How console output is laid out: the stdout Console (one place decides its width), tables
that never ellipsize, and counted nouns.

Rich imports are deferred to the functions so that importing this module costs nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Column, Table

#: Width given to Rich when stdout is not a terminal and COLUMNS is unset. Tables are not
#: expanded, so each renders at its natural width (never this wide) instead of Rich's
#: 80-column fallback, which ellipsized names and numbers in CI logs and files.
UNBOUNDED_WIDTH = 10_000


def stdout_width(
    environ: Mapping[str, str] | None = None, is_terminal: bool | None = None
) -> int | None:
    """The width to render stdout at; None lets Rich ask the terminal.

    ``COLUMNS`` (a positive whole number) wins everywhere, as Rich itself honours it on a
    terminal. Otherwise a terminal decides; off a terminal (a pipe, a file, a CI log) there
    is no width to respect, so tables get their natural width.
    """
    env = os.environ if environ is None else environ
    columns = env.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    tty = sys.stdout.isatty() if is_terminal is None else is_terminal
    return None if tty else UNBOUNDED_WIDTH


def stdout_console() -> Console:
    """The Console every command prints its stdout tables and lines with."""
    from rich.console import Console

    return Console(highlight=False, width=stdout_width())


def print_fitted(
    console: Console,
    table: Table,
    names: Collection[str] = (),
    numbers: Collection[str] = (),
) -> None:
    """Print ``table`` at most as wide as ``console``, never ellipsizing a name or a number.

    Rich narrows a table wider than the console by ending what no longer fits with "…".
    Here every column folds instead, and when the table does not fit, its column widths are
    chosen first: the widest columns give way first (as in Rich), but none gets narrower
    than its longest word, so text wraps between words and nothing is cut. If that is too
    wide, only the columns of ``names`` and ``numbers`` (by header; right-aligned columns
    hold numbers too) keep their longest word; then only their values do (headers fold);
    then only the numbers. A terminal too narrow even for that gets everything folded by
    Rich: a table cropped at the edge would silently lose whole columns.
    """
    columns = table.columns
    sizes = [_Sizes.of(column, names, numbers) for column in columns]
    natural = [s.natural for s in sizes]
    # Cell padding (a space each side), a rule before every column and the closing edge.
    room = console.width - 3 * len(columns) - 1
    tiers = (
        [s.word for s in sizes],
        [s.word if s.name or s.number else 1 for s in sizes],
        [s.value_word if s.name or s.number else 1 for s in sizes],
        [s.value_word if s.number else 1 for s in sizes],
    )
    if sum(natural) > room:
        minimum = next((tier for tier in tiers if sum(tier) <= room), None)
        if minimum is not None:
            for column, width in zip(columns, _shrink(natural, minimum, room), strict=True):
                column.width = width
    for column in columns:
        column.overflow = "fold"  # never "…", whatever Rich decides
    console.print(table)


@dataclass(frozen=True)
class _Sizes:
    """What a column needs, in terminal cells, and what it holds."""

    natural: int  # its longest line: the width at which nothing wraps
    word: int  # its longest word, header included
    value_word: int  # its values' longest word
    name: bool
    number: bool

    @classmethod
    def of(cls, column: Column, names: Collection[str], numbers: Collection[str]) -> _Sizes:
        from rich.cells import cell_len

        header = _plain(column.header)
        values = [line for cell in column.cells for line in _plain(cell).splitlines()]
        lines = [*header.splitlines(), *values]
        value_word = max((cell_len(w) for line in values for w in line.split()), default=1)
        return cls(
            natural=max((cell_len(line) for line in lines), default=1),
            word=max([value_word, *(cell_len(w) for w in header.split())]),
            value_word=value_word,
            name=header in names,
            number=header in numbers or column.justify == "right",
        )


def _shrink(natural: list[int], minimum: list[int], room: int) -> list[int]:
    """Widths within ``room``: the widest columns are capped first, none below its minimum.

    Binary search for the largest cap that fits, then hand the columns that were capped
    the cells still free, one each.
    """

    def fitted(cap: int) -> list[int]:
        return [max(m, min(n, cap)) for n, m in zip(natural, minimum, strict=True)]

    low, high = 0, max(natural)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(fitted(mid)) <= room:
            low = mid
        else:
            high = mid - 1
    widths = fitted(low)
    spare = room - sum(widths)
    for i, (width, n) in enumerate(zip(widths, natural, strict=True)):
        if spare <= 0:
            break
        if width == low < n:
            widths[i] += 1
            spare -= 1
    return widths


def _plain(cell: object) -> str:
    """The text a cell shows: markup resolved; empty for renderables other than text."""
    from rich.text import Text

    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return cell.plain if isinstance(cell, Text) else ""


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 row``, ``0 rows``, ``2 rows`` (``plural_form`` for nouns not made with -s)."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"
