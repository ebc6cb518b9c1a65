"""The one HTML rendering layer: Jinja2 templates shipped in the package (``templates/`` of
this package and of each application that renders a page), autoescaped, so nothing from a
device, a model file or a tool becomes markup.

A template names its own package's templates first, then these shared ones: ``base.html.j2``
(a self-contained page) and ``macros.html.j2`` (tables, images, status pills)."""

from __future__ import annotations

import base64
import math
import time
from functools import cache
from typing import Any

import jinja2


def fig(value: object, name: str | None = None) -> str:
    """A figure as the reports print it: a float to 6 significant digits; with the figure's
    ``name`` (the matrix's cells), agreements and cosines to 3 decimals, whole numbers as
    integers, other values to 4 significant digits."""
    if not isinstance(value, float | int) or isinstance(value, bool):
        return str(value)
    if name is None:
        return f"{value:.6g}" if isinstance(value, float) else str(value)
    if "agreement" in name or name.startswith("cosine"):
        return f"{value:.3f}"
    if math.isfinite(value) and value == int(value) and abs(value) < 1e12:
        return f"{int(value)}"
    return f"{value:.4g}"


def when(t: float | None, seconds: bool = False) -> str:
    """A time in UTC (empty for none)."""
    if not t:
        return ""
    return time.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""), time.gmtime(t))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@cache
def environment(package: str) -> jinja2.Environment:
    loaders = [jinja2.PackageLoader(package, "templates")] if package != __package__ else []
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([*loaders, jinja2.PackageLoader(__package__, "templates")]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the render, never blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fig=fig, when=when, b64=b64)
    return env


def render(package: str, name: str, **context: Any) -> str:
    """Template ``name`` of ``package`` (its ``templates/`` folder) with ``context``."""
    return environment(package).get_template(name).render(**context)


def macro(name: str, *args: Any, **kwargs: Any) -> str:
    """One macro of ``macros.html.j2`` as a fragment (the pytest-html extras)."""
    module = environment(__package__).get_template("macros.html.j2").module
    return str(getattr(module, name)(*args, **kwargs))
