"""``fetch_sources`` against a loopback HTTP server serving (a copy of) the real data folder."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.fetch import JSON_MANIFEST, SHA256_MANIFEST, FetchError, fetch_sources
from migsys.warehouse.ingest import ingest_sources
from migsys.warehouse.sources import SOURCES, registered_files, source_by_id

pytestmark = pytest.mark.real_data


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with an ETag (the sha256) and If-None-Match support, counting bodies sent."""

    bodies_sent: list[str]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature from the stdlib
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_file():
            etag = '"' + hashlib.sha256(path.read_bytes()).hexdigest() + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.bodies_sent.append(self.path)
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()


@pytest.fixture()
def served(real_sources: Path, tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, served folder, paths whose bodies were sent); the folder is a writable copy."""
    root = tmp_path / "mirror"
    shutil.copytree(real_sources, root, copy_function=shutil.copyfile)
    bodies: list[str] = []
    handler = type("Handler", (QuietHandler,), {"bodies_sent": bodies})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_fetch_downloads_every_file_with_manifests(served, tmp_path: Path) -> None:
    base_url, root, _ = served
    dest = tmp_path / "sources"
    report = fetch_sources(dest, base_url, timeout=10)
    assert report.ok and report.count("downloaded") == len(registered_files())
    for file_name in registered_files():
        assert (dest / file_name).read_bytes() == (root / file_name).read_bytes()
    # MANIFEST.sha256 is in sha256sum format and matches the files.
    lines = (dest / SHA256_MANIFEST).read_text().splitlines()
    assert len(lines) == len(registered_files())
    for line in lines:
        digest, file_name = line.split("  ", 1)
        assert hashlib.sha256((dest / file_name).read_bytes()).hexdigest() == digest
    entries = json.loads((dest / JSON_MANIFEST).read_text())["files"]
    gdp = next(e for e in entries if e["file_name"] == "worldbank/gdp.csv")
    assert gdp["url"] == f"{base_url}/worldbank/gdp.csv"
    assert gdp["size"] == (root / "worldbank/gdp.csv").stat().st_size
    assert gdp["fetched_at"] and gdp["etag"]
    assert not list(dest.rglob("*.part"))
    # What fetch writes is what ingest reads: manifests are not stray files.
    report = ingest_sources(duckdb.connect(), dest)
    assert report.ok, report.format_problems()


def test_second_fetch_skips_unchanged_files(served, tmp_path: Path) -> None:
    base_url, root, bodies = served
    dest = tmp_path / "sources"
    fetch_sources(dest, base_url, timeout=10)
    sent_first = len(bodies)
    mtimes = {f: (dest / f).stat().st_mtime_ns for f in registered_files()}
    # The mirror publishes a new version of one file; the local copy of another is damaged.
    (root / "banxico/usdmxn_mensual.csv").write_bytes(b"PERIODO,TIPO_CAMBIO\r\n2016-01-01,17.9\r\n")
    (dest / "un/usa_migration.csv").write_bytes(b"damaged")
    report = fetch_sources(dest, base_url, timeout=10)
    downloaded = sorted(f.file_name for f in report.files if f.status == "downloaded")
    assert downloaded == ["banxico/usdmxn_mensual.csv", "un/usa_migration.csv"]
    assert len(bodies) - sent_first == 2  # the others were revalidated by ETag (304)
    for file_name, mtime in mtimes.items():
        if file_name not in downloaded:
            assert (dest / file_name).stat().st_mtime_ns == mtime
    assert (dest / "un/usa_migration.csv").read_bytes() == (
        root / "un/usa_migration.csv"
    ).read_bytes()
    manifest = (dest / SHA256_MANIFEST).read_text()
    new_sha = hashlib.sha256((root / "banxico/usdmxn_mensual.csv").read_bytes()).hexdigest()
    assert f"{new_sha}  banxico/usdmxn_mensual.csv" in manifest


def test_http_error_names_the_url_and_keeps_the_other_files(served, tmp_path: Path) -> None:
    base_url, root, _ = served
    (root / "inegi/censo_1995.csv").unlink()
    dest = tmp_path / "sources"
    with pytest.raises(FetchError) as caught:
        fetch_sources(dest, base_url, timeout=10)
    assert f"{base_url}/inegi/censo_1995.csv: HTTP 404" in str(caught.value)
    report = caught.value.report
    assert [f.file_name for f in report.failures] == ["inegi/censo_1995.csv"]
    assert not (dest / "inegi/censo_1995.csv").exists()
    assert (dest / "inegi/censo_2000.csv").is_file()
    assert "inegi/censo_1995.csv" not in (dest / SHA256_MANIFEST).read_text()


def test_unreachable_mirror_names_the_url(tmp_path: Path) -> None:
    # Port 9 on loopback (discard) is closed here: the connection is refused at once.
    source = source_by_id("banxico_usdmxn_monthly")
    with pytest.raises(
        FetchError, match=r"http://127\.0\.0\.1:9/banxico/usdmxn_mensual\.csv: cannot download"
    ):
        fetch_sources(tmp_path, "http://127.0.0.1:9", sources=(source,), timeout=5)


def test_default_urls_come_from_the_registry(served, tmp_path: Path) -> None:
    base_url, _, _ = served
    # A registry entry whose mirror is the loopback server stands in for GitHub.
    source = source_by_id("banxico_remittances_monthly")
    local = replace(
        source,
        mirror_files=(
            ("banxico/remesas_mensuales.csv", f"{base_url}/banxico/remesas_mensuales.csv"),
        ),
    )
    report = fetch_sources(tmp_path, sources=(local,), timeout=10)
    (fetched,) = report.files
    assert (fetched.status, fetched.url) == (
        "downloaded",
        f"{base_url}/banxico/remesas_mensuales.csv",
    )
    registered = [url for s in SOURCES for _, url in s.mirror_files]
    assert all(url.startswith("https://") for url in registered)


def test_base_url_without_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"base_url '127\.0\.0\.1:9' must start with http"):
        fetch_sources(tmp_path / "sources", "127.0.0.1:9", timeout=5)
    assert not (tmp_path / "sources").exists()
