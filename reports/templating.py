"""The report's HTML comes from Jinja templates (``reports/templates/``) with autoescape on.

Every value a template prints is escaped unless it is ``Markup``: HTML that a template made (a
macro's result), or a section body a section module hands over (``reports.build.Section``). The
Python side computes what to show; the templates say how it looks.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

__all__ = ["Markup", "parts", "render"]


@functools.cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("migsys.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt name fails the report, never prints nothing
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """A whole template (the page) rendered with ``context``."""
    return environment().get_template(template).render(**context)


@functools.cache
def parts() -> Any:
    """The macros of ``parts.html.j2``; each call returns ``Markup``."""
    return environment().get_template("parts.html.j2").module
