"""HTML fragments for the report (the pytest-html extras of the suite's tests), rendered from
the macros of templates/macros.html.j2: everything that came from a device, a model file or a
tool is escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .render import macro


def table(
    rows: Iterable[Iterable[object]], header: Iterable[str] | None = None, caption: str = ""
) -> str:
    return macro("table", rows, header=header, caption=caption)


def mapping_table(values: Mapping[str, object], caption: str = "") -> str:
    return macro("mapping_table", values, caption=caption)


def image(png: bytes, alt: str) -> str:
    return macro("image", png, alt)
