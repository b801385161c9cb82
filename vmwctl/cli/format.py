"""Formatting helpers shared by the human (table) renderers."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from vmwctl.cli.output import printable

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(value: int | None) -> str:
    """Bytes in binary units with the exact count: '1.0 GiB (1073741824 bytes)'."""
    if value is None:
        return "-"
    amount = float(value)
    for unit in UNITS:
        if amount < 1024 or unit == UNITS[-1]:
            text = f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
            break
        amount /= 1024
    return text if value < 1024 else f"{text} ({value} bytes)"


def short_size(value: int | None) -> str:
    """Bytes in binary units without the exact count: '1.0 GiB'."""
    return size(value).split(" (")[0]


def details(rows: Iterable[tuple[str, Any]]) -> Any:
    """A two-column label/value table; values are shown verbatim (no rich markup).

    A value too long for the width wraps (a long word folds): nothing is cut.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, Text("-" if value is None else printable(str(value))))
    return table


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]],
          caption: str | None = None, *, whole: Iterable[str] = ()) -> Any:
    """A table with a header row; cells are shown verbatim (no rich markup) unless they are
    rich Text already.

    Nothing is cut to fit the width: cells wrap, and a word longer than its column folds
    onto the next line. The columns named in ``whole`` hold identifiers (image ids,
    paths): they keep their full width, and the other columns wrap first, whenever the
    width allows that at all.
    """
    from rich.text import Text

    columns = list(columns)
    result = _table_class()(title=Text(printable(title)) if title else None,
                            title_justify="left",
                            caption=Text(printable(caption)) if caption else None)
    result.whole = [i for i, name in enumerate(columns) if name in set(whole)]
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*(cell if isinstance(cell, Text) else
                         Text("-" if cell is None else printable(str(cell))) for cell in row))
    return result


@functools.cache
def _table_class() -> type:
    """rich's Table, keeping the ``whole`` columns whole when the width allows (rich is
    imported only when a table is drawn)."""
    from rich.cells import cell_len
    from rich.table import Table

    class WholeColumnsTable(Table):
        whole: list[int]

        def __rich_console__(self, console: Any, options: Any) -> Any:
            fits = self._whole_width() <= options.max_width
            for index in self.whole:
                self.columns[index].no_wrap = fits  # rich narrows the other columns first
            yield from super().__rich_console__(console, options)

        def _whole_width(self) -> int:
            """The narrowest table with the whole columns at full width: one character for
            each other column, the padding and the borders."""
            width = len(self.columns) + 1  # the vertical borders
            for index, column in enumerate(self.columns):
                width += 2  # padding
                if index not in self.whole:
                    width += 1
                    continue
                width += max(cell_len(line) for cell in (column.header, *column.cells)
                             for line in str(getattr(cell, "plain", cell)).splitlines() or [""])
            return width

    return WholeColumnsTable
