"""Formatting helpers shared by the human (table) renderers."""

from __future__ import annotations

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
    """A two-column label/value table; values are shown verbatim (no rich markup)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, value in rows:
        table.add_row(label, Text("-" if value is None else printable(str(value))))
    return table


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]],
          caption: str | None = None) -> Any:
    """A table with a header row; cells are shown verbatim (no rich markup)."""
    from rich.table import Table
    from rich.text import Text

    result = Table(title=Text(printable(title)) if title else None, title_justify="left",
                   caption=Text(printable(caption)) if caption else None)
    for column in columns:
        result.add_column(column)
    for row in rows:
        result.add_row(*(Text("-" if cell is None else printable(str(cell))) for cell in row))
    return result
