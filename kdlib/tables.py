"""Result tables as Markdown, so notebooks and the README show the same computed numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One row per mapping; the columns are every key of any row, in the order first seen (a row without a
    key leaves its cell empty: no column is dropped)."""
    if not rows:
        raise ValueError("markdown_table needs at least one row")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
