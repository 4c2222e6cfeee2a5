"""Catalog listings (``reportgen models``, ``reportgen platforms``) whose ids survive any terminal.

An id is what a user copies into a spec, so it is never cut: in the table its column does not
wrap and is as wide as the longest id; on a terminal too narrow for a table (``COLUMNS=60``) the
listing is a plain list, one entry per line, starting with the id.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

# a table is drawn only when, beside the whole id, every other column keeps this many letters;
# narrower, rich squeezes text columns into a few letters a line and a plain list reads better
MIN_TEXT_COLUMN = 12
# an unpiped listing (a file, a test runner) is laid out this wide unless COLUMNS says otherwise
DEFAULT_WIDTH = 140


def terminal_width() -> int:
    """COLUMNS if set, else the terminal's width, else DEFAULT_WIDTH (output is not a terminal)."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def listing_console(width: int | None = None) -> Console:
    # catalog text is printed as it is: markup off ("[nvidia_t4_ds]" is not a style tag)
    return Console(width=width or terminal_width(), soft_wrap=False, highlight=False, markup=False)


def print_listing(console: Console, title: str, columns: Sequence[str],
                  rows: Sequence[Sequence[str]]) -> None:
    """``rows`` as a table whose first column (the id) is never truncated, or — on a narrow
    terminal — as lines ``id  other columns, separated by ' · '``."""
    id_width = max((len(r[0]) for r in rows), default=2)
    needed = id_width + MIN_TEXT_COLUMN * (len(columns) - 1) + 3 * len(columns) + 1  # + borders
    if console.width < needed:
        console.print(title)
        for row in rows:
            rest = " · ".join(c for c in row[1:] if c)
            console.print(f"{row[0]}  {rest}", soft_wrap=True)
        return
    table = Table(title=title)
    table.add_column(columns[0], no_wrap=True, min_width=id_width, overflow="fold")
    for col in columns[1:]:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
