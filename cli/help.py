"""Help text of the ``migsys`` commands, as click's plain formatter shows it best."""

from __future__ import annotations

import inspect


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
