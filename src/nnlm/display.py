"""How results show: in a notebook a small table rather than a wall of fields, and progress bars
only where a person watches (a terminal or a notebook), never in a log file."""

from __future__ import annotations

import sys
from html import escape


def shows_progress() -> bool:
    """Whether a progress bar would be seen: standard error is a terminal, or a notebook's
    kernel runs this (tqdm draws its own bar there)."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def html_table(rows: list[tuple[str, str]]) -> str:
    """Rows of (name, value) as an HTML table, escaped."""
    cells = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>"
                    f"{escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"
