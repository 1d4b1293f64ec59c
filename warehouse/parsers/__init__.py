"""One parser module per publisher; each exposes ``parse(path_or_bytes, file_name) -> ParseResult``."""

from migsys.warehouse.parsers.common import RULES, ParseResult, Reject

__all__ = ["RULES", "ParseResult", "Reject"]
