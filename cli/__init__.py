"""The ``migsys`` command line: one module per area, each with its own Typer app.

``migsys.cli.app`` joins them into the one ``migsys`` command (the installed script).
"""
