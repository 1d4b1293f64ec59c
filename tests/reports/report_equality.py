"""Is a report the same as another, timings aside? A tool for changes that must not change it.

    python tests/reports/report_equality.py render HOME OUT [DAY]
        the report of HOME's published warehouse, with its latest run record, into OUT/DAY/
        (run it with each version's interpreter: it uses only ``build_report``'s public call)
    python tests/reports/report_equality.py compare OUT_A/DAY OUT_B/DAY
        exit 0 when both pages hold the same elements, attributes and text (whitespace between
        tags and the "Built … UTC" stamp aside) and the same other files byte for byte

The pages are compared as a browser reads them: parsed, entities decoded (``&#x27;`` and
``&#39;`` are one apostrophe), runs of whitespace as one space except inside ``<pre>``.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
VOID = {"meta", "img", "br", "link", "input", "hr", "col", "source", "use"}


class _Tokens(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[str] = []
        self.in_pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = " ".join(f'{name}="{value}"' for name, value in sorted(attrs))
        self.tokens.append(f"<{tag} {shown}>".replace(" >", ">"))
        self.in_pre += tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID:
            self.tokens.append(f"</{tag}>")
        self.in_pre -= tag == "pre"

    def handle_data(self, data: str) -> None:
        text = data if self.in_pre else " ".join(data.split())
        if text.strip():
            self.tokens.append(STAMP.sub("<timestamp>", text))

    def handle_decl(self, decl: str) -> None:
        self.tokens.append(f"<!{decl.lower()}>")


def page_tokens(index_html: Path) -> list[str]:
    """The page as a browser reads it: elements, sorted attributes, text with spaces collapsed."""
    parser = _Tokens()
    parser.feed(index_html.read_text(encoding="utf-8"))
    parser.close()
    return parser.tokens


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two report folders (empty: the same report)."""
    lines = list(
        difflib.unified_diff(
            page_tokens(a / "index.html"),
            page_tokens(b / "index.html"),
            str(a / "index.html"),
            str(b / "index.html"),
            lineterm="",
            n=2,
        )
    )
    files_a = {p.name for p in a.iterdir() if p.name != "index.html"}
    files_b = {p.name for p in b.iterdir() if p.name != "index.html"}
    lines += [f"only in {a}: {name}" for name in sorted(files_a - files_b)]
    lines += [f"only in {b}: {name}" for name in sorted(files_b - files_a)]
    lines += [
        f"{name} differs"
        for name in sorted(files_a & files_b)
        if (a / name).read_bytes() != (b / name).read_bytes()
    ]
    return lines


def render(home: Path, out: Path, day: date) -> Path:
    """The report of ``home``'s published warehouse and latest run record, into ``out/day``."""
    from migsys.reports.build import build_report

    record = max((home / "state" / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    summary = json.loads(record.read_text(encoding="utf-8"))
    result = build_report(
        home / "warehouse.duckdb",
        out,
        docs_index=home / "docs" / "index.html",
        report_date=day,
        run_summary=summary,
        standing_studies=[study["name"] for study in summary.get("studies", [])],
    )
    return result.index_html.parent


def main(argv: list[str]) -> int:
    if argv[:1] == ["render"] and len(argv) in (3, 4):
        day = date.fromisoformat(argv[3]) if len(argv) == 4 else date.today()
        print(render(Path(argv[1]), Path(argv[2]), day))
        return 0
    if argv[:1] == ["compare"] and len(argv) == 3:
        found = differences(Path(argv[1]), Path(argv[2]))
        tokens = len(page_tokens(Path(argv[1]) / "index.html"))
        print("\n".join(found) or f"equal: {tokens} elements and texts, every other file")
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
