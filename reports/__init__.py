"""The nightly report: read-only queries on the published warehouse, matplotlib figures, static HTML.

``reports.build.build_report`` is the entry point; it never needs a network to render or to view.
"""
