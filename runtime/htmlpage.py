"""The one HTML look of mlform's pages, the drift report and the model card: stylesheet, page shell, escaping.

Pages are self-contained (no scripts, no external assets). Every value reaches a page through `escape` (or
`code_text`, or Jinja's autoescape in the card's template); only markup built here or by the plots is trusted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape as _html_escape

__all__ = ["STYLE", "code_text", "escape", "page", "table", "tag"]

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:#5b6573;font-size:13px}
.verdict{border-radius:8px;padding:14px 18px;margin:18px 0;color:#fff}
.verdict.ok{background:#1f8a4c}.verdict.breach{background:#c0392b}
.verdict strong{font-size:18px}.verdict ul{margin:6px 0 0;padding-left:20px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6}
th,td{padding:6px 10px;border-bottom:1px solid #e7eaee;text-align:left}
th{background:#eef1f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.used{font-weight:700}
table.facts th{width:190px}table.facts{margin-bottom:10px}
.tag{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.tag.bad{background:#fbe3e0;color:#a4281b}.tag.good{background:#dff3e7;color:#17693a}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:12px}
.plot{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:8px 10px}
.plot h3{font-size:14px;margin:0 0 4px}.note{color:#a4281b}
"""


def escape(value: object) -> str:
    """`value` as HTML text: `&`, `<`, `>` and both quotes escaped."""
    return _html_escape(str(value))


def code_text(message: str) -> str:
    """Escaped text whose `backticked` names show as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(message))


def tag(bad: bool, bad_text: str, good_text: str) -> str:
    """A red or green badge."""
    return f'<span class="tag bad">{bad_text}</span>' if bad else f'<span class="tag good">{good_text}</span>'


def table(headers: Sequence[str], rows: Iterable[str]) -> str:
    """A table with escaped `headers` over `rows`, each already `<tr>...</tr>` markup."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def page(title: str, body: str) -> str:
    """A whole page: the shared head and style, `title` as its heading, then `body` (trusted markup)."""
    shown = escape(title)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{shown}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{STYLE}</style></head>'
            f"<body><main><h1>{shown}</h1>{body}</main></body></html>\n")
