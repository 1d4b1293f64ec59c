"""Make dbt's static docs page open cleanly from a file: URL.

dbt-docs' sidebar templates set ``xlink:href="{{ getIcon(...) }}"`` on SVG ``<use>`` elements.
The browser reads that attribute before AngularJS interpolates it and tries to load the literal
``{{ getIcon(...) }}`` as a URL: from ``file:`` that is a security error in the console on every
tree node. AngularJS's ``ng-attr-`` prefix sets the attribute only once it is interpolated, which
is what the template meant.

Its ``<head>`` also links the favicon as an unexpanded webpack placeholder
(``href="${require('./assets/favicons/favicon.ico')}"``), a file that does not exist: the icon
becomes an empty data URL. Nothing else of the page changes.
"""

from __future__ import annotations

import re
from pathlib import Path

from migsys.warehouse.files import atomic_write_text

# The attribute as it appears inside dbt-docs' JavaScript template strings.
_EAGER_ICON = re.compile(r"(<use )xlink:href=(\"\{\{ getIcon\()")
_PLACEHOLDER_FAVICON = re.compile(r'(<link rel="shortcut icon" href=)"\$\{require\([^)]*\)\}"')


def repair_static_docs(index_html: Path) -> int:
    """Rewrite the eager icon attributes of ``index_html`` in place; returns how many."""
    text = index_html.read_text(encoding="utf-8")
    repaired, count = _EAGER_ICON.subn(r"\1ng-attr-xlink:href=\2", text)
    repaired, favicons = _PLACEHOLDER_FAVICON.subn(r'\1"data:,"', repaired)
    count += favicons
    if count:
        atomic_write_text(index_html, repaired)
    return count
