"""``fetch_sources`` against a loopback HTTP server serving (a copy of) the real data folder.

Every fault of issue 9 is reproduced by a route of that server: an HTML page answered with HTTP
200, a tampered file, an endless body, a server dripping bytes, a redirect to another host, a cut
connection, one missing file. After each failure every file already in the sources folder —
data and manifests — is byte-identical.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from migsys.cli.app import app
from migsys.warehouse import fetch as fetch_module
from migsys.warehouse.fetch import (
    JSON_MANIFEST,
    SHA256_MANIFEST,
    STAGING_PREFIX,
    FetchError,
    FetchLimits,
    SourcesFolderError,
    fetch_sources,
    redirect_allowed,
)
from migsys.warehouse.ingest import find_stray_files, ingest_sources
from migsys.warehouse.sources import SOURCES, registered_files, source_by_id

pytestmark = pytest.mark.real_data

FAST = FetchLimits(deadline_seconds=10, stall_seconds=10)
Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Mirror:
    base_url: str
    root: Path
    bodies_sent: list[str] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)  # by path; "*" for every path
    stop: threading.Event = field(default_factory=threading.Event)


class MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with an ETag (the sha256) and If-None-Match, unless a route takes the path."""

    mirror: Mirror

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature from the stdlib
        pass

    def do_GET(self) -> None:
        route = self.mirror.routes.get(self.path) or self.mirror.routes.get("*")
        if route is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                route(self)  # the client may give up, as it should
            return
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            super().do_GET()
            return
        data = path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.mirror.bodies_sent.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def mirror(real_sources: Path, tmp_path: Path) -> Iterator[Mirror]:
    """A loopback mirror of a writable copy of the real data folder."""
    root = tmp_path / "mirror"
    shutil.copytree(real_sources, root, copy_function=shutil.copyfile)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), None)  # handler set below
    state = Mirror(f"http://127.0.0.1:{server.server_address[1]}", root)
    handler = type("Handler", (MirrorHandler,), {"mirror": state})
    server.RequestHandlerClass = partial(handler, directory=str(root))
    # shutdown() waits for the loop's next poll: 0.5 s by default, per test
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture()
def fetched(mirror: Mirror, tmp_path: Path) -> Path:
    """A sources folder filled by one successful fetch from the mirror."""
    dest = tmp_path / "sources"
    report = fetch_sources(dest, mirror.base_url, limits=FAST)
    assert report.ok
    return dest


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (data, manifests, dot files) with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != fetch_module.LOCK_FILE
    }


def append_month(path: Path) -> None:
    """A legitimate new release of the growing USD/MXN series: one more month."""
    path.write_bytes(path.read_bytes() + b"2025-01-01,20.5475\r\n")


# --- routes ---------------------------------------------------------------------------------


def html_page(content_type: str) -> Route:
    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        body = (
            b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Portal</body></html>"
        )
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def endless(stop: threading.Event) -> Route:
    """HTTP 200 with no Content-Length and a body that never ends."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.end_headers()
        line = b"Mexico,MEX,2024,1.0\n" * 3000
        while not stop.is_set():
            handler.wfile.write(line)

    return route


def drip(stop: threading.Event, interval: float) -> Route:
    """Headers at once, then one byte every ``interval`` seconds, forever."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.flush()
        while not stop.is_set():
            handler.wfile.write(b"x")
            handler.wfile.flush()
            stop.wait(interval)

    return route


def redirect(location: str) -> Route:
    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def cut_short(data: bytes) -> Route:
    """Announces the whole file, sends the first tenth, closes."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[: len(data) // 10])
        handler.close_connection = True

    return route


# --- the normal path ------------------------------------------------------------------------


def test_fetch_downloads_every_file_with_manifests(mirror: Mirror, tmp_path: Path) -> None:
    dest = tmp_path / "sources"
    report = fetch_sources(dest, mirror.base_url, limits=FAST)
    assert report.ok and report.count("downloaded") == len(registered_files())
    for file_name in registered_files():
        assert (dest / file_name).read_bytes() == (mirror.root / file_name).read_bytes()
    # MANIFEST.sha256 is in sha256sum format and matches the files.
    lines = (dest / SHA256_MANIFEST).read_text().splitlines()
    assert len(lines) == len(registered_files())
    for line in lines:
        digest, file_name = line.split("  ", 1)
        assert hashlib.sha256((dest / file_name).read_bytes()).hexdigest() == digest
    entries = json.loads((dest / JSON_MANIFEST).read_text())["files"]
    gdp = next(e for e in entries if e["file_name"] == "worldbank/gdp.csv")
    assert gdp["url"] == f"{mirror.base_url}/worldbank/gdp.csv"
    assert gdp["size"] == (mirror.root / "worldbank/gdp.csv").stat().st_size
    assert gdp["fetched_at"] and gdp["etag"] and gdp["rows"] == 13979
    # No staging folder or partial file is left; files get the user's umask, not 0600.
    assert not [p for p in dest.rglob("*") if p.name.startswith((STAGING_PREFIX, ".part"))]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((dest / "worldbank/gdp.csv").stat().st_mode) == 0o666 & ~umask
    # What fetch writes is what ingest reads: manifests and the lock are not stray files.
    report = ingest_sources(duckdb.connect(), dest)
    assert report.ok, report.format_problems()


def test_every_pin_matches_the_published_file(real_sources: Path) -> None:
    """The pins are the exact published bytes kept in ../shared/data."""
    pinned = {(name, pin) for source in SOURCES for name, pin in source.pinned_sha256}
    # CONAPO 2000, 2010 and 2020, seven INEGI tabulations, the boundaries, UN migrant stock
    assert len(pinned) == 12
    for file_name, pin in pinned:
        assert hashlib.sha256((real_sources / file_name).read_bytes()).hexdigest() == pin
    growing = {name for name, source in registered_files().items() if source.pinned(name) is None}
    assert growing == {
        "banxico/remesas_mensuales.csv",
        "banxico/remesas_entidad.csv",
        "banxico/remesas_municipio.csv",
        "banxico/usdmxn_mensual.csv",
        "worldbank/gdp.csv",
        "worldbank/population.csv",
    }


def test_second_fetch_takes_new_releases_and_skips_unchanged_files(
    mirror: Mirror, fetched: Path
) -> None:
    dest = fetched
    sent_first = len(mirror.bodies_sent)
    mtimes = {f: (dest / f).stat().st_mtime_ns for f in registered_files()}
    # The mirror publishes one more month of a growing series; the local copy of another is damaged.
    append_month(mirror.root / "banxico/usdmxn_mensual.csv")
    (dest / "un/usa_migration.csv").write_bytes(b"damaged")
    report = fetch_sources(dest, mirror.base_url, limits=FAST)
    downloaded = sorted(f.file_name for f in report.files if f.status == "downloaded")
    assert downloaded == ["banxico/usdmxn_mensual.csv", "un/usa_migration.csv"]
    assert len(mirror.bodies_sent) - sent_first == 2  # the others were revalidated by ETag (304)
    for file_name, mtime in mtimes.items():
        if file_name not in downloaded:
            assert (dest / file_name).stat().st_mtime_ns == mtime
    assert (dest / "un/usa_migration.csv").read_bytes() == (
        mirror.root / "un/usa_migration.csv"
    ).read_bytes()
    manifest = (dest / SHA256_MANIFEST).read_text()
    new_sha = hashlib.sha256((mirror.root / "banxico/usdmxn_mensual.csv").read_bytes()).hexdigest()
    assert f"{new_sha}  banxico/usdmxn_mensual.csv" in manifest


def test_a_redirect_within_the_registered_host_is_followed(mirror: Mirror, fetched: Path) -> None:
    shutil.copyfile(mirror.root / "worldbank/gdp.csv", mirror.root / "gdp-moved.csv")
    (mirror.root / "worldbank/gdp.csv").unlink()
    append_month(mirror.root / "banxico/usdmxn_mensual.csv")  # something to swap in
    mirror.routes["/worldbank/gdp.csv"] = redirect(f"{mirror.base_url}/gdp-moved.csv")
    report = fetch_sources(fetched, mirror.base_url, limits=FAST)
    assert report.ok and report.count("downloaded") == 1


def test_default_urls_come_from_the_registry(mirror: Mirror, tmp_path: Path) -> None:
    # A registry entry whose mirror is the loopback server stands in for GitHub.
    source = source_by_id("banxico_remittances_monthly")
    local = replace(
        source,
        mirror_files=(
            ("banxico/remesas_mensuales.csv", f"{mirror.base_url}/banxico/remesas_mensuales.csv"),
        ),
    )
    report = fetch_sources(tmp_path / "sources", sources=(local,), limits=FAST)
    (fetched,) = report.files
    assert (fetched.status, fetched.url) == (
        "downloaded",
        f"{mirror.base_url}/banxico/remesas_mensuales.csv",
    )
    registered = [url for s in SOURCES for _, url in s.mirror_files]
    assert all(url.startswith("https://") for url in registered)


# --- faults: nothing in the sources folder may change ---------------------------------------


def assert_refused(
    dest: Path, base_url: str, kind: str, files: set[str], limits: FetchLimits = FAST
) -> FetchError:
    """Fetch fails with ``kind`` for exactly ``files``; every file in ``dest`` is byte-identical."""
    before = snapshot(dest)
    with pytest.raises(FetchError) as caught:
        fetch_sources(dest, base_url, limits=limits)
    report = caught.value.report
    assert {f.file_name for f in report.failures} == files
    assert {f.failure for f in report.failures} == {kind}
    for file_name in files:
        assert file_name in str(caught.value)
    assert snapshot(dest) == before
    assert not list(dest.glob(STAGING_PREFIX + "*"))
    return caught.value


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/plain"])
def test_html_page_with_http_200_is_refused(
    mirror: Mirror, fetched: Path, content_type: str
) -> None:
    """A captive portal or a broken mirror answers every path with a web page."""
    mirror.routes["*"] = html_page(content_type)
    error = assert_refused(fetched, mirror.base_url, "html", set(registered_files()))
    assert "HTML page" in str(error)
    assert "no file in" in str(error) and "was replaced" in str(error)


def test_tampered_pinned_file_is_refused(mirror: Mirror, fetched: Path) -> None:
    census = mirror.root / "inegi/censo_2000.csv"
    census.write_bytes(census.read_bytes().replace(b"97,483,412", b"97,483,413", 1))
    append_month(mirror.root / "banxico/usdmxn_mensual.csv")  # a good change is held back too
    error = assert_refused(fetched, mirror.base_url, "checksum", {"inegi/censo_2000.csv"})
    assert "8722b454fdd2eceaa9f8d6e58f986f5df80b8547879367e63f3e98a3bb252d62" in str(error)
    assert "warehouse/sources.py" in str(error)
    held = {f.file_name for f in error.report.files if f.status == "held"}
    assert held == {"banxico/usdmxn_mensual.csv"}


def test_growing_series_with_fewer_rows_is_refused(mirror: Mirror, fetched: Path) -> None:
    gdp = mirror.root / "worldbank/gdp.csv"
    lines = gdp.read_bytes().splitlines(keepends=True)
    gdp.write_bytes(b"".join(lines[:-100]))  # parses, but lost 100 country-years
    error = assert_refused(fetched, mirror.base_url, "shrunk", {"worldbank/gdp.csv"})
    assert "13,879 rows, fewer than the 13,979" in str(error)
    assert "a growing series never loses rows" in str(error)


def test_growing_series_the_parser_refuses_is_refused(mirror: Mirror, fetched: Path) -> None:
    remittances = mirror.root / "banxico/remesas_mensuales.csv"
    header, rest = remittances.read_bytes().split(b"\n", 1)
    remittances.write_bytes(header.replace(b"VALOR_USD", b"VALOR_MXN") + b"\n" + rest)
    error = assert_refused(fetched, mirror.base_url, "parse", {"banxico/remesas_mensuales.csv"})
    assert "file.missing_column line 1" in str(error)


def test_endless_response_stops_at_the_cap(mirror: Mirror, fetched: Path) -> None:
    mirror.routes["/worldbank/population.csv"] = endless(mirror.stop)
    limits = replace(FAST, max_bytes=4 * 1024 * 1024)
    error = assert_refused(
        fetched, mirror.base_url, "too_large", {"worldbank/population.csv"}, limits
    )
    assert "over the cap of 4,194,304 bytes; download stopped" in str(error)


def test_endless_response_is_streamed_to_disk_not_memory(mirror: Mirror, tmp_path: Path) -> None:
    mirror.routes["/endless.csv"] = endless(mirror.stop)
    limits = replace(FAST, max_bytes=32 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(fetch_module.FetchFailure, match="over the cap"):
            fetch_module.download(f"{mirror.base_url}/endless.csv", tmp_path / "part", limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "part").stat().st_size > 31 * 1024 * 1024  # it really read to the cap
    assert peak < 2 * 1024 * 1024  # in 64 KiB chunks: the body never sits in memory


def test_announced_size_over_the_cap_is_refused_before_reading(
    mirror: Mirror, tmp_path: Path
) -> None:
    error = assert_refused(
        tmp_path / "first-fetch",
        mirror.base_url,
        "too_large",
        # 1,058,158 bytes, the largest file
        {"inegi/municipios_2020.topojson"},
        replace(FAST, max_bytes=1_000_000),
    )
    assert "Content-Length 1,058,158 bytes is over the cap of 1,000,000" in str(error)


@pytest.mark.parametrize("interval", [0.05, 20.0])
def test_dripping_server_is_cut_at_the_overall_deadline(
    mirror: Mirror, fetched: Path, interval: float
) -> None:
    """Every read returns in time (or would, after 20 s); the deadline per file still ends it."""
    mirror.routes["/un/usa_migration.csv"] = drip(mirror.stop, interval)
    limits = FetchLimits(deadline_seconds=1.0, stall_seconds=30.0)
    # A host that timed out is not asked for the files registered after it (one timeout, not one
    # per file): they fail as not tried.
    names = list(registered_files())
    later = set(names[names.index("un/usa_migration.csv") :])
    error = assert_refused(fetched, mirror.base_url, "timeout", later, limits)
    assert "not complete after the 1 s deadline" in str(error)
    assert "not tried: 127.0.0.1 already failed for un/usa_migration.csv" in str(error)


def test_redirect_to_another_host_is_refused(mirror: Mirror, fetched: Path) -> None:
    port = mirror.base_url.rsplit(":", 1)[1]
    # localhost reaches the same server, but it is not the host the file is registered on.
    mirror.routes["/worldbank/gdp.csv"] = redirect(f"http://localhost:{port}/worldbank/gdp.csv")
    error = assert_refused(fetched, mirror.base_url, "redirect", {"worldbank/gdp.csv"})
    assert f"to http://localhost:{port}/worldbank/gdp.csv, outside 127.0.0.1:{port}" in str(error)


def test_redirect_rules() -> None:
    assert redirect_allowed("http://a.org/x", "https://a.org/y")  # upgrade on the same host
    assert redirect_allowed("https://a.org/x", "https://A.org:443/y")
    assert not redirect_allowed("https://a.org/x", "http://a.org/y")  # downgrade
    assert not redirect_allowed("https://a.org/x", "https://a.org.evil.net/x")
    assert not redirect_allowed("https://a.org/x", "https://a.org:8443/x")


def test_connection_cut_before_content_length_is_refused(mirror: Mirror, fetched: Path) -> None:
    data = (mirror.root / "conapo/IIM2010_BASEMUN.csv").read_bytes()
    mirror.routes["/conapo/IIM2010_BASEMUN.csv"] = cut_short(data)
    error = assert_refused(fetched, mirror.base_url, "truncated", {"conapo/IIM2010_BASEMUN.csv"})
    assert f"got {len(data) // 10:,} of {len(data):,} bytes" in str(error)


def test_partial_failure_replaces_nothing_and_names_the_file(mirror: Mirror, fetched: Path) -> None:
    (mirror.root / "inegi/censo_1995.csv").unlink()
    append_month(mirror.root / "banxico/usdmxn_mensual.csv")
    error = assert_refused(fetched, mirror.base_url, "http", {"inegi/censo_1995.csv"})
    assert f"inegi/censo_1995.csv ({mirror.base_url}/inegi/censo_1995.csv): HTTP 404" in str(error)
    assert "1 of 18 file(s) failed" in str(error)


def test_first_fetch_that_fails_leaves_no_folder_and_no_manifest(
    mirror: Mirror, tmp_path: Path
) -> None:
    (mirror.root / "inegi/censo_1995.csv").unlink()
    dest = tmp_path / "new-sources"
    with pytest.raises(FetchError):
        fetch_sources(dest, mirror.base_url, limits=FAST)
    assert not dest.exists()


def test_a_rename_failing_mid_swap_puts_every_file_back(
    mirror: Mirror, fetched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    append_month(mirror.root / "banxico/usdmxn_mensual.csv")
    gdp = mirror.root / "worldbank/gdp.csv"
    gdp.write_bytes(gdp.read_bytes() + b"\nMexico,MEX,2025,1.9e12\n")  # no final newline before
    before = snapshot(fetched)
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(fetch_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        fetch_sources(fetched, mirror.base_url, limits=FAST)
    monkeypatch.setattr(fetch_module.os, "replace", real_replace)
    assert snapshot(fetched) == before


def test_registered_path_that_is_a_folder_is_refused(mirror: Mirror, fetched: Path) -> None:
    (fetched / "un/usa_migration.csv").unlink()
    (fetched / "un/usa_migration.csv").mkdir()
    error = assert_refused(fetched, mirror.base_url, "local", {"un/usa_migration.csv"})
    assert "is not a regular file: remove it" in str(error)


def test_two_fetches_at_once_are_refused(mirror: Mirror, fetched: Path) -> None:
    import fcntl

    with (fetched / fetch_module.LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(SourcesFolderError, match="another `migsys fetch` is writing"):
            fetch_sources(fetched, mirror.base_url, limits=FAST)


def test_leftover_staging_of_a_killed_fetch_is_removed(mirror: Mirror, fetched: Path) -> None:
    leftover = fetched / f"{STAGING_PREFIX}killed" / "worldbank"
    leftover.mkdir(parents=True)
    (leftover / "gdp.csv").write_bytes(b"half")
    assert find_stray_files(fetched) == []  # ingest never sees it meanwhile
    fetch_sources(fetched, mirror.base_url, limits=FAST)
    assert not (fetched / f"{STAGING_PREFIX}killed").exists()


# --- no network -----------------------------------------------------------------------------


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name resolution fails as it does on a machine without network (no traffic leaves)."""

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


@pytest.mark.usefixtures("offline")
def test_offline_fetch_is_one_line_per_kind_and_writes_no_manifest(tmp_path: Path) -> None:
    dest = tmp_path / "sources"
    with pytest.raises(FetchError) as caught:
        fetch_sources(dest)
    report = caught.value.report
    # Every file with a download fails; the boundaries, supplied with the data, are said so.
    assert len(report.failures) == 17 and {f.failure for f in report.failures} == {"offline"}
    (supplied,) = [f for f in report.files if f.status == "supplied"]
    assert supplied.file_name == "inegi/municipios_2020.topojson"
    assert "no public download of its own" in supplied.error
    lines = report.failure_lines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("cannot resolve the host name (no network or no DNS?): 17 files")
    assert "raw.githubusercontent.com, vincentarelbundock.github.io" in lines[0]
    assert "--base-url" in lines[1]
    assert not dest.exists()


@pytest.mark.usefixtures("offline")
def test_cli_fetch_offline_prints_one_line_per_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "keep.txt").write_text("already here")
    monkeypatch.setenv("MIGSYS_SOURCES", str(sources))
    result = CliRunner().invoke(app, ["fetch"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == f"fetch failed: 17 of 18 files; nothing in {sources} was replaced"
    assert len(lines) == 3 and "Traceback" not in result.output
    assert "--base-url" in lines[2]
    assert sorted(p.name for p in sources.iterdir()) == [".fetch.lock", "keep.txt"]


def test_cli_fetch_names_the_failed_file(mirror: Mirror, fetched: Path, monkeypatch) -> None:
    mirror.routes["/worldbank/gdp.csv"] = html_page("text/html")
    monkeypatch.setenv("MIGSYS_SOURCES", str(fetched))
    result = CliRunner().invoke(app, ["fetch", "--base-url", mirror.base_url, "-v"])
    assert result.exit_code == 1
    assert (
        f"an HTML page instead of the data file: worldbank/gdp.csv ({mirror.base_url}/"
        "worldbank/gdp.csv): HTTP 200 with an HTML page (Content-Type text/html)"
    ) in result.output
    assert "rule: a source file is the publisher's data, never a web page" in result.output


def test_unreachable_mirror_names_the_url(tmp_path: Path) -> None:
    # Port 9 on loopback (discard) is closed here: the connection is refused at once.
    source = source_by_id("banxico_usdmxn_monthly")
    with pytest.raises(
        FetchError, match=r"http://127\.0\.0\.1:9/banxico/usdmxn_mensual\.csv\): cannot connect"
    ):
        fetch_sources(tmp_path, "http://127.0.0.1:9", sources=(source,), limits=FAST)


def test_base_url_without_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"base_url '127\.0\.0\.1:9' must start with http"):
        fetch_sources(tmp_path / "sources", "127.0.0.1:9", limits=FAST)
    assert not (tmp_path / "sources").exists()


# --- completeness, through `migsys fetch` in its own process (issue 17) ----------------------

MIGSYS = Path(sys.executable).parent / "migsys"
USDMXN = "banxico/usdmxn_mensual.csv"


def unframed(data: bytes) -> Route:
    """HTTP/1.0 200 with no Content-Length: the closed connection is the only end mark."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.end_headers()
        handler.wfile.write(data)
        handler.close_connection = True

    return route


def hung(stop: threading.Event) -> Route:
    """Accepts the request and never answers."""

    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        stop.wait(60)

    return route


@pytest.fixture()
def local_copy(real_sources: Path, tmp_path: Path) -> Path:
    """A sources folder holding the real files (as a finished fetch leaves them)."""
    dest = tmp_path / "sources"
    shutil.copytree(real_sources, dest, copy_function=shutil.copyfile)
    return dest


def migsys_fetch(dest: Path, base_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MIGSYS_SOURCES": str(dest), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [str(MIGSYS), "fetch", "--base-url", base_url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_cli_refused(dest: Path, base_url: str, *args: str) -> str:
    """`migsys fetch` exits 1, names what it refused, and every file in ``dest`` is unchanged."""
    before = snapshot(dest) if dest.exists() else None
    done = migsys_fetch(dest, base_url, *args)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert (snapshot(dest) if dest.exists() else None) == before
    return output


def test_cli_refuses_a_value_cut_inside_the_last_number(mirror: Mirror, local_copy: Path) -> None:
    """Issue 17: 8 bytes off usdmxn_mensual.csv, sent without Content-Length, was swapped in
    ("1 downloaded") and published 2 as December 2024's rate; with a Content-Length that matches
    the cut copy, the parser accepted it too."""
    cut = (mirror.root / USDMXN).read_bytes()[:-8]
    mirror.routes[f"/{USDMXN}"] = unframed(cut)
    output = assert_cli_refused(local_copy, mirror.base_url, "-v")
    assert f"{USDMXN} ({mirror.base_url}/{USDMXN}): sent without Content-Length" in output
    del mirror.routes[f"/{USDMXN}"]
    (mirror.root / USDMXN).write_bytes(cut)  # a mirror holding the cut copy, length announced
    output = assert_cli_refused(local_copy, mirror.base_url, "-v")
    assert "file.truncated line 409: the file ends inside line 409 ('2024-12-01,2')" in output


def test_cli_without_content_length_keeps_rows_and_latest_period(
    mirror: Mirror, local_copy: Path
) -> None:
    """Without a length, a body must end with a line break and keep the rows and the latest
    period of the file it replaces: a body cut at a line end, or a new month that could be one,
    is refused; the same file with its bytes unchanged is fine."""
    whole = (mirror.root / USDMXN).read_bytes()
    at_line_end = whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 1]  # the last month gone
    mirror.routes[f"/{USDMXN}"] = unframed(at_line_end)
    output = assert_cli_refused(local_copy, mirror.base_url, "-v")
    assert "407 rows, fewer than the 408" in output
    mirror.routes[f"/{USDMXN}"] = unframed(whole + b"2025-01-01,20.5475\r\n")
    output = assert_cli_refused(local_copy, mirror.base_url, "-v")
    assert "its rows end at 2025-01, the file it would replace at 2024-12" in output
    # A new year of GDP, published as ever without a final line break, sent without a length.
    gdp = (mirror.root / "worldbank/gdp.csv").read_bytes() + b"\nMexico,MEX,2024,1.85e12"
    mirror.routes[f"/{USDMXN}"] = unframed(whole)  # the very bytes it has: unchanged, fine
    mirror.routes["/worldbank/gdp.csv"] = unframed(gdp)
    output = assert_cli_refused(local_copy, mirror.base_url, "-v")
    assert "fetch failed: 1 of 18 files" in output
    assert "worldbank/gdp.csv" in output and "nothing shows whether it is whole" in output


def test_cli_refuses_a_first_fetch_of_half_a_series(mirror: Mirror, tmp_path: Path) -> None:
    """Into an empty folder there is nothing to compare with: the registry's minimum is."""
    monthly = mirror.root / "banxico/remesas_mensuales.csv"
    lines = monthly.read_bytes().splitlines(keepends=True)
    monthly.write_bytes(b"".join(lines[: len(lines) // 2]))  # whole lines: parses cleanly
    dest = tmp_path / "empty"
    output = assert_cli_refused(dest, mirror.base_url, "-v")
    assert not dest.exists()
    assert "fewer rows than the registered release: banxico/remesas_mensuales.csv" in output
    assert "251 rows, fewer than the 504 of the release registered" in output  # header + 251


def test_cli_a_hung_server_costs_one_deadline_not_one_per_file(
    mirror: Mirror, local_copy: Path
) -> None:
    """Issue 17: with a server that never answers, every file waited out its own timeout."""
    mirror.routes["*"] = hung(mirror.stop)
    began = time.monotonic()
    output = assert_cli_refused(local_copy, mirror.base_url, "--deadline", "3", "-v")
    assert time.monotonic() - began < 3 * 4, "later files must not each wait for the deadline"
    assert "not complete before the deadline: 18 files" in output
    assert "not tried: 127.0.0.1 already failed for" in output
