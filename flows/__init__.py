"""Prefect flows and the ``migsys`` command line."""
