"""docs/recipes.md's key tables, generated from the settings declared in ``vadkit.config``.

``python -m vadkit.config_docs docs/recipes.md`` rewrites every block between
``<!-- settings:SECTION -->`` and ``<!-- /settings:SECTION -->``; ``--check`` exits 1 when a
block differs from what the declarations give (tests/test_config.py runs it), so the docs
cannot drift from the code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from .config import SECTION_CLASSES, range_text, settings_of

BLOCK = re.compile(r"(<!-- settings:(?P<name>[a-z]+) -->\n)(?P<body>.*?)(<!-- /settings:(?P=name) -->)", re.S)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def _type(hint: Any) -> str:
    names = {"dict[str, typing.Any]": "component table", "dict[str, float]": "table of numbers"}
    text = str(hint) if getattr(hint, "__args__", None) else getattr(hint, "__name__", str(hint))
    return names.get(text, text.replace("typing.", ""))


def section_table(name: str) -> str:
    """The markdown table of section ``name``: key, type, default, allowed values, meaning."""
    cls = SECTION_CLASSES[name]
    if cls is None:
        raise KeyError(f"[{name}] is a component table; its options are the component's")
    rows = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key, default, meta, hint in settings_of(cls):
        allowed = ", ".join(f'"{c}"' for c in meta["choices"]) if meta.get("choices") else range_text(meta)
        if meta.get("note"):
            allowed = f"{allowed}; {meta['note']}" if allowed else meta["note"]
        shown = "required" if meta.get("required") else f"`{_value(default)}`"
        rows.append(f"| `{key}` | {_type(hint)} | {shown} | {allowed or 'any'} | {meta['help']} |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """``text`` with every settings block regenerated."""
    return BLOCK.sub(lambda m: m.group(1) + section_table(m.group("name")) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [Path(a) for a in args if a != "--check"] or [Path("docs/recipes.md")]
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    if check and stale:
        print(
            f"stale settings tables in {', '.join(map(str, stale))}: run python -m vadkit.config_docs", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
