"""What every ``migsys`` command shares: its Typer app's settings and click's plain help format."""

from __future__ import annotations

import inspect
from typing import Any

import typer

# Help is click's plain format (no Rich boxes or markup), ``-h`` as well as ``--help``.
APP_SETTINGS: dict[str, Any] = {
    "add_completion": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}


def area_app(**options: Any) -> typer.Typer:
    """The Typer app of one area of the command line (``migsys.cli.app`` joins them).

    Each area's app works alone too (``CliRunner().invoke(migsys.cli.sql.app, [...])``); an app
    with one command then runs it without its name, as Typer does.
    """
    return typer.Typer(**{**APP_SETTINGS, **options})


def command_help(docstring: str | None) -> str:
    """A docstring as command help: prose paragraphs reflowed, example blocks kept line by line.

    click rewraps every paragraph unless it starts with ``\\b``; a paragraph with indented lines
    (commands to copy) gets that marker, so each example stays on its own line.
    """
    shown = []
    for paragraph in inspect.cleandoc(docstring or "").split("\n\n"):
        lines = paragraph.splitlines()
        if any(line.startswith("  ") for line in lines):
            shown.append("\b\n" + "\n".join(lines))
        else:
            shown.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(shown)
