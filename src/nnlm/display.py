"""How results show in a notebook: a small table rather than a wall of fields."""

from __future__ import annotations

from html import escape


def html_table(rows: list[tuple[str, str]]) -> str:
    """Rows of (name, value) as an HTML table, escaped."""
    cells = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>"
                    f"{escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"
