"""HTML fragments for the report. Everything that came from a device, a model file or a tool
goes through html.escape: a board name or an error text must not become markup."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from html import escape


def table(
    rows: Iterable[Iterable[object]], header: Iterable[str] | None = None, caption: str = ""
) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header) if header else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<table class="tflm-hil">{cap}{thead}<tbody>{body}</tbody></table>'


def mapping_table(values: Mapping[str, object], caption: str = "") -> str:
    return table(values.items(), caption=caption)


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    alt = escape(alt, quote=True)
    return f'<img class="tflm-hil-plot" alt="{alt}" src="data:image/png;base64,{data}"/>'


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
