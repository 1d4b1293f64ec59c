"""``python -m migsys.cli``: the ``migsys`` program."""

from migsys.cli.launcher import main

main()
