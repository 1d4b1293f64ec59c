"""``python -m migsys.cli``: the ``migsys`` command."""

from migsys.cli.app import app

app(prog_name="migsys")
