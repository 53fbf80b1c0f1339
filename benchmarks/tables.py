"""The cells and tables that every benchmark report writes in Markdown."""

from __future__ import annotations

import math
from typing import Optional, Sequence


def number(value: Optional[float], digits: int = 1) -> str:
    """A table cell: whole numbers from 100 up (the decimals are noise there), "-" when not measured."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 and digits <= 1 else f"{value:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
