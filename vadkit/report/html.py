"""HTML building blocks of the report: escaping, inline images, tables and the page shell.
Everything is inline (styles, PNGs as data URIs); the page loads nothing and runs no script."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
:root { --fg:#1d2430; --muted:#5b6576; --line:#d9dee7; --bg:#f6f7f9; --accent:#2458a6; --warn:#8a5a00; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
       color:var(--fg); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:16px 28px; }
header h1 { margin:0 0 4px; font-size:22px; }
main { padding:8px 28px 40px; max-width:1180px; }
nav a { margin-right:14px; color:var(--accent); text-decoration:none; }
section.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 20px; margin:18px 0; }
h2 { font-size:19px; margin:4px 0 2px; } h3 { font-size:15px; margin:18px 0 6px; color:var(--accent); }
.muted, .path { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; margin:6px 0 10px; font-size:13px; }
th, td { border-bottom:1px solid var(--line); padding:3px 10px; text-align:left; vertical-align:top; }
th { background:#eef1f6; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr.child td:first-child { padding-left:26px; }
.big { display:inline-block; margin:4px 28px 8px 0; }
.big b { display:block; font-size:26px; font-variant-numeric:tabular-nums; }
.problems { background:#fff6e0; border:1px solid #f0d48a; color:var(--warn); border-radius:6px;
            padding:6px 14px; margin:8px 0; }
.problems li { margin:2px 0; } .error { color:#a21d1d; white-space:pre-wrap; }
img { max-width:100%; height:auto; display:block; margin:6px 0; border:1px solid var(--line); }
img.narrow { max-width:760px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(520px,1fr)); gap:8px; }
details { margin:6px 0; } pre { background:#f3f4f7; padding:8px; overflow:auto; font-size:12px; }
"""


class Raw(str):
    """Text that is already HTML and must not be escaped again."""


def esc(value: Any) -> str:
    return value if isinstance(value, Raw) else html.escape(str(value))


def tag(name: str, body: Any = "", **attrs: Any) -> Raw:
    """``<name attrs>body</name>``; ``cls`` is written as ``class``."""
    parts = "".join(f' {"class" if k == "cls" else k}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return Raw(f"<{name}{parts}>{esc(body)}</{name}>")


def join(items: Iterable[Any]) -> Raw:
    return Raw("".join(esc(i) for i in items))


def img(data: bytes, alt: str, cls: str | None = None) -> Raw:
    """An inline PNG; ``alt`` names it (and is what a failing image check reports)."""
    b64 = base64.b64encode(data).decode("ascii")
    klass = f' class="{esc(cls)}"' if cls else ""
    return Raw(f'<img src="data:image/png;base64,{b64}" alt="{esc(alt)}"{klass}>')


def table(
    header: Sequence[Any] | None,
    rows: Iterable[Sequence[Any]],
    numeric: Sequence[int] = (),
    row_classes: Sequence[str | None] | None = None,
) -> Raw:
    """A table (no header row when ``header`` is None); columns in ``numeric`` are right-aligned."""
    body = []
    for r, row in enumerate(rows):
        cells = join(tag("td", c, cls="num" if i in numeric else None) for i, c in enumerate(row))
        body.append(tag("tr", cells, cls=row_classes[r] if row_classes else None))
    if header is None:
        return tag("table", tag("tbody", join(body)))
    head = join(tag("th", h, cls="num" if i in numeric else None) for i, h in enumerate(header))
    return tag("table", join([tag("thead", tag("tr", head)), tag("tbody", join(body))]))


def flat_items(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dict -> (dotted key, leaf value) pairs, for generic key/value tables."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            out.extend(flat_items(value, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", value))
    return out


def fmt(value: Any) -> str:
    """Numbers with 4 significant digits, lists comma-joined, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def kv_table(data: dict[str, Any]) -> Raw:
    return table(["key", "value"], [(k, fmt(v)) for k, v in flat_items(data)])


def pct(value: Any) -> str:
    """A [0, 1] AUC as a percentage with one decimal."""
    return f"{100 * value:.1f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def problems_box(problems: list[str]) -> Raw:
    if not problems:
        return Raw("")
    return tag(
        "div",
        join([tag("b", "Missing or unreadable files"), tag("ul", join(tag("li", p) for p in problems))]),
        cls="problems",
    )


def page(title: str, subtitle: str, nav: list[tuple[str, str]], body: Sequence[Any]) -> str:
    """The whole document: inline CSS, an empty inline favicon (so nothing is requested)."""
    links = join(tag("a", label, href=f"#{anchor}") for anchor, label in nav)
    head = join(
        [
            Raw('<meta charset="utf-8">'),
            Raw('<meta name="viewport" content="width=device-width, initial-scale=1">'),
            Raw('<link rel="icon" href="data:,">'),
            tag("title", title),
            tag("style", Raw(CSS)),
        ]
    )
    top = tag("header", join([tag("h1", title), tag("div", subtitle, cls="muted"), tag("nav", links)]))
    return (
        "<!DOCTYPE html>\n"
        + tag("html", join([tag("head", head), tag("body", join([top, tag("main", join(body))]))]), lang="en")
        + "\n"
    )
