"""Download the registered source files safely: staged, checked, then swapped in all together.

``fetch_sources(dest, base_url)`` downloads every registered file from ``base_url + "/" + path``
(or, without ``base_url``, from each file's registered mirror URL) into a staging folder inside
``dest`` and checks each one before anything is replaced:

- transport: HTTP 200 only (a 304 revalidation keeps the local file); redirects only to the host
  the file is registered on (or given by ``base_url``); at most ``max_bytes`` per file, streamed to
  disk so memory stays flat; one overall deadline per file (a server dripping one byte at a time
  is cut off at the deadline, at most one read timeout later, not after each read); a body
  shorter than its Content-Length is cut; the HTTP itself is httpx's;
- content: an HTML page (by Content-Type or by its first bytes) is refused; a file pinned in
  ``warehouse.sources`` must have exactly its pinned sha256; every other file must be accepted
  whole by the real parser of its source and the rules ingest applies (a final line break where
  the publisher writes one; no rejected row), hold at least the rows the registry expects of its
  source, and, as a growing series, not fewer rows than the file it would replace;
- completeness without Content-Length: a body whose length was not announced cannot be checked
  against it, so it must end with a line break and, when it replaces a file, hold at least as many
  rows with the same latest period (a body cut at a line end looks like an older release).

Only when every file has passed are the changed ones swapped in (``files.replace_files``: all of
them or, if a rename fails, none) and ``MANIFEST.sha256`` / ``MANIFEST.json`` rewritten. When any file fails, no file
in ``dest`` changes (not even the manifests) and ``FetchError`` names each failed file, why, and
the rule it broke; ``FetchReport.failure_lines()`` gives one line per kind of failure.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from rich.table import Table
from rich.text import Text

from migsys.warehouse.files import LockHeld, atomic_write_text, held_lock, replace_files
from migsys.warehouse.ingest import (
    JSON_MANIFEST,
    SHA256_MANIFEST,
    parse_source_file,
    period_of_rows,
)
from migsys.warehouse.parsers.common import ParseResult
from migsys.warehouse.sources import SOURCES, Source

LOCK_FILE = ".fetch.lock"
STAGING_PREFIX = ".fetch-staging-"
USER_AGENT = "migsys-fetch/0.1 (+https://github.com/migsys)"
CHUNK_BYTES = 64 * 1024
MIB = 1024 * 1024
HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})
HTML_PREFIXES = (b"<!doctype html", b"<html", b"<head", b"<body")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class FetchLimits:
    """Per-file limits; the defaults are far above the largest published file (~0.6 MB)."""

    max_bytes: int = 64 * MIB
    deadline_seconds: float = 120.0  # whole file: connect, headers and body
    stall_seconds: float = 30.0  # longest wait for any single network read
    max_redirects: int = 5

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.deadline_seconds <= 0 or self.stall_seconds <= 0:
            raise ValueError(f"fetch limits must be positive (got {self})")


@dataclass(frozen=True)
class FailureKind:
    title: str  # what happened, for the one-line summary
    rule: str  # the rule the file broke


FAILURE_KINDS: dict[str, FailureKind] = {
    "offline": FailureKind(
        "cannot resolve the host name (no network or no DNS?)",
        "the mirror's host must be reachable",
    ),
    "unreachable": FailureKind(
        "cannot connect to the server", "the mirror's host must accept connections"
    ),
    "tls": FailureKind("TLS error", "https mirrors must present a valid certificate"),
    "timeout": FailureKind(
        "not complete before the deadline",
        "each file must arrive whole within the deadline (--deadline)",
    ),
    "http": FailureKind("HTTP error", "only an HTTP 200 answer is accepted"),
    "redirect": FailureKind(
        "redirect refused", "redirects must stay on the host the file is registered on"
    ),
    "html": FailureKind(
        "an HTML page instead of the data file",
        "a source file is the publisher's data, never a web page",
    ),
    "too_large": FailureKind("larger than the size cap", "at most --max-mib MiB per file"),
    "truncated": FailureKind(
        "connection cut before the end", "the body must be as long as its Content-Length"
    ),
    "checksum": FailureKind(
        "not the pinned published file",
        "a pinned file (warehouse/sources.py) must match its sha256 byte for byte",
    ),
    "parse": FailureKind(
        "refused by the parser", "the file must be readable by the parser of its source"
    ),
    "shrunk": FailureKind(
        "fewer rows than the file it would replace", "a growing series never loses rows"
    ),
    "too_few_rows": FailureKind(
        "fewer rows than the registered release",
        "a file holds at least the rows the registry expects of its source (warehouse/sources.py)",
    ),
    "unproven": FailureKind(
        "sent without Content-Length and not provably whole",
        "a body without Content-Length must end with a line break and keep the rows and the "
        "latest period of the file it replaces",
    ),
    "local": FailureKind(
        "the local file cannot be replaced", "a registered path must be a regular file"
    ),
}
# Failures that concern a whole host: later files on the same host are not tried again. A host
# that let one file time out (no answer within --stall, or not whole within the deadline) is
# not asked for the others: a hung server costs one timeout, not one per file.
HOST_FAILURES = frozenset({"offline", "unreachable", "tls", "timeout"})
NETWORK_FAILURES = HOST_FAILURES


@dataclass(frozen=True)
class FetchedFile:
    """What happened to one registered file.

    ``status``: downloaded (swapped in) | unchanged | failed | held (passed its checks but not
    swapped in because another file failed) | supplied (no public download: the file comes with
    the data folder; the copy there, if any, is kept). ``failure`` is a key of ``FAILURE_KINDS``.
    """

    file_name: str
    url: str
    status: str
    size: int | None = None
    sha256: str | None = None
    etag: str | None = None
    fetched_at: str | None = None  # ISO 8601, UTC
    error: str | None = None
    failure: str | None = None
    rows: int | None = None


@dataclass
class FetchReport:
    dest: Path
    files: list[FetchedFile] = field(default_factory=list)
    base_url: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[FetchedFile]:
        return [f for f in self.files if f.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def failure_lines(self) -> list[str]:
        """One line per kind of failure (14 DNS errors are one line), then a hint if useful."""
        by_kind: dict[str, list[FetchedFile]] = {}
        for failed in self.failures:
            by_kind.setdefault(failed.failure or "http", []).append(failed)
        lines = []
        for kind, files in by_kind.items():
            title = FAILURE_KINDS[kind].title
            if len(files) == 1:
                lines.append(f"{title}: {files[0].file_name} ({files[0].url}): {files[0].error}")
                continue
            hosts = ", ".join(sorted({urlsplit(f.url).hostname or f.url for f in files}))
            named = f" ({', '.join(f.file_name for f in files)})" if len(files) <= 4 else ""
            lines.append(f"{title}: {len(files)} files{named} from {hosts}: {files[0].error}")
        if any(f.failure in NETWORK_FAILURES for f in self.failures):
            where = "another mirror" if self.base_url else "a mirror you can reach"
            lines.append(
                f"hint: no network? `migsys fetch --base-url URL` downloads from {where}: any "
                "HTTP server of a folder laid out like MIGSYS_SOURCES (e.g. `python -m "
                "http.server` in a copy of the files)"
            )
        return lines

    def __str__(self) -> str:
        lines = [
            f"{self.dest}: {self.count('downloaded')} downloaded, {self.count('unchanged')} "
            f"unchanged, {self.count('failed')} failed"
            + (
                f", {self.count('supplied')} supplied with the data"
                if self.count("supplied")
                else ""
            )
        ]
        lines += [f"  {f.file_name}: {f.error}" for f in self.failures]
        return "\n".join(lines)

    def __rich__(self) -> Table:
        origin = self.base_url or "the registered mirrors (warehouse/sources.py)"
        table = Table(title=f"Sources in {self.dest}", caption=f"from {origin}")
        table.add_column("file", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("checked", justify="right", no_wrap=True)
        table.add_column("bytes", justify="right", no_wrap=True)
        for f in self.files:
            pinned = "pinned sha256" if f.sha256 else ""
            checked = pinned if f.rows is None else f"{f.rows:,} rows"
            table.add_row(
                *(
                    Text(value)  # plain text: brackets in file names or errors are not markup
                    for value in (
                        f.file_name,
                        f.status if f.error is None else f"{f.status}: {f.error}",
                        checked,
                        "" if f.size is None else f"{f.size:,}",
                    )
                )
            )
        return table


class FetchError(RuntimeError):
    """One or more files failed; nothing in ``report.dest`` was replaced."""

    def __init__(self, report: FetchReport) -> None:
        self.report = report
        details = "\n".join(
            f"  {f.file_name} ({f.url}): {f.error} — rule: {FAILURE_KINDS[f.failure].rule}"
            for f in report.failures
            if f.failure
        )
        super().__init__(
            f"{len(report.failures)} of {len(report.files)} file(s) failed; no file in "
            f"{report.dest} was replaced:\n{details}"
        )


class SourcesFolderError(OSError):
    """The sources folder cannot be used (not a folder, read-only, another fetch running)."""


class FetchFailure(Exception):
    """One file failed one check; ``kind`` is a key of ``FAILURE_KINDS``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def source_url(source: Source, file_name: str, base_url: str | None) -> str:
    """Where to download ``file_name``: the given mirror, else the registered one."""
    if base_url:
        return base_url.rstrip("/") + "/" + file_name
    return source.mirror_file_url(file_name)


def fetch_sources(
    dest: Path,
    base_url: str | None = None,
    *,
    sources: tuple[Source, ...] = SOURCES,
    limits: FetchLimits | None = None,
) -> FetchReport:
    """Bring ``dest`` up to date with the mirror, all files or none; see the module docstring."""
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url {base_url!r} must start with http:// or https://")
    limits = limits or FetchLimits()
    dest = Path(dest)
    report = FetchReport(dest, base_url=base_url)
    with _sources_folder(dest) as staging_folder:
        staging = Staging(dest, staging_folder, limits)
        previous = read_json_manifest(dest)
        failed_hosts: dict[str, tuple[str, FetchFailure]] = {}
        for source in sources:
            for file_name in source.files:
                if base_url is None and source.is_supplied(file_name):
                    report.files.append(supplied_file(source, dest, file_name))
                    continue
                url = source_url(source, file_name, base_url)
                wanted = Wanted(source, file_name, url, previous.get(file_name))
                report.files.append(_fetch_one(wanted, staging, failed_hosts))
        if not report.ok:
            report.files = [
                replace(f, status="held") if f.status == "staged" else f for f in report.files
            ]
            raise FetchError(report)
        staged = [f.file_name for f in report.files if f.status == "staged"]
        replace_files(staging_folder, dest, staged)
        report.files = [
            replace(f, status="downloaded") if f.status == "staged" else f for f in report.files
        ]
        write_manifests(dest, report.files, previous)
    return report


@contextlib.contextmanager
def _sources_folder(dest: Path) -> Iterator[Path]:
    """Lock ``dest`` for one fetch and give a staging folder inside it (same file system).

    Leftover staging folders of a killed fetch are removed. If ``dest`` did not exist and nothing
    was swapped in, it is removed again: a failed fetch must not leave an empty sources folder.
    """
    if dest.exists() and not dest.is_dir():
        raise SourcesFolderError(f"sources folder {dest} exists but is not a folder")
    created = not dest.exists()
    with contextlib.ExitStack() as stack:
        try:
            dest.mkdir(parents=True, exist_ok=True)
            if created:  # runs once the lock is released
                stack.callback(_remove_if_unused, dest)
            stack.enter_context(held_lock(dest / LOCK_FILE))
        except LockHeld:
            raise SourcesFolderError(
                f"another `migsys fetch` is writing to {dest} (lock {dest / LOCK_FILE} is held)"
            ) from None
        except OSError as error:
            raise SourcesFolderError(
                f"cannot write to the sources folder {dest}: {error.strerror or error} "
                "(fetch needs a writable MIGSYS_SOURCES; is it mounted read-only?)"
            ) from error
        for leftover in dest.glob(STAGING_PREFIX + "*"):
            shutil.rmtree(leftover, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _remove_if_unused(dest: Path) -> None:
    """Remove a sources folder this fetch created if nothing but the lock file went into it."""
    if [p.name for p in dest.iterdir()] == [LOCK_FILE]:
        shutil.rmtree(dest, ignore_errors=True)


@dataclass(frozen=True)
class Wanted:
    """One registered file to bring into the sources folder."""

    source: Source
    file_name: str
    url: str
    previous: dict | None  # its entry in the earlier MANIFEST.json


@dataclass(frozen=True)
class Staging:
    """Where a fetch stages its downloads before the swap, and its limits."""

    dest: Path
    folder: Path
    limits: FetchLimits


def supplied_file(source: Source, dest: Path, file_name: str) -> FetchedFile:
    """A registered file with no public download: say so, keep the copy in ``dest`` if any."""
    local = dest / file_name
    where = f"kept the copy in {dest}" if local.is_file() else f"copy it into {dest} by hand"
    note = (
        f"no public download of its own (a conversion of {source.mirror_url} data, supplied "
        f"with the data folder): {where}, or use --base-url of a mirror of the whole folder"
    )
    sha = sha256_of(local) if local.is_file() else None
    size = local.stat().st_size if local.is_file() else None
    return FetchedFile(file_name, source.mirror_url, "supplied", size, sha, error=note)


def _fetch_one(
    wanted: Wanted, staging: Staging, failed_hosts: dict[str, tuple[str, FetchFailure]]
) -> FetchedFile:
    """Download and check one file into the staging folder; never raises for a failed check."""
    host = urlsplit(wanted.url).hostname or wanted.url
    if host in failed_hosts:
        first, failure = failed_hosts[host]
        detail = f"not tried: {host} already failed for {first} ({failure.detail})"
        return _failed(wanted.file_name, wanted.url, failure.kind, detail)
    try:
        return check_and_stage(wanted, staging)
    except FetchFailure as failure:
        if failure.kind in HOST_FAILURES:
            failed_hosts[host] = (wanted.file_name, failure)
        return _failed(wanted.file_name, wanted.url, failure.kind, failure.detail)


def check_and_stage(wanted: Wanted, staging: Staging) -> FetchedFile:
    """Download ``wanted`` into the staging folder and run every check; raises ``FetchFailure``."""
    source, file_name, url, previous = (
        wanted.source,
        wanted.file_name,
        wanted.url,
        wanted.previous,
    )
    target = staging.dest / file_name
    if (target.exists() or target.is_symlink()) and not target.is_file():
        kind = "a broken symlink" if target.is_symlink() else "not a regular file"
        raise FetchFailure("local", f"{target} is {kind}: remove it, then fetch again")
    local_sha = sha256_of(target) if target.is_file() else None
    # Revalidate with the ETag only if the local file is still the one the manifest describes.
    etag = previous.get("etag") if previous and local_sha == previous.get("sha256") else None
    staged = staging.folder / file_name
    staged.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    got = download(url, staged, staging.limits, if_none_match=etag)
    if got is None:  # 304 Not Modified
        known = {k: v for k, v in (previous or {}).items() if k in FetchedFile.__dataclass_fields__}
        return FetchedFile(**{**known, "file_name": file_name, "url": url, "status": "unchanged"})
    if got.sha256 == local_sha:
        fetched_at = (previous or {}).get("fetched_at") or now
        rows = (previous or {}).get("rows")
        return FetchedFile(
            file_name, url, "unchanged", got.size, got.sha256, got.etag, fetched_at, rows=rows
        )
    rows = check_content(source, file_name, staged, got, target if local_sha else None)
    return FetchedFile(file_name, url, "staged", got.size, got.sha256, got.etag, now, rows=rows)


def check_content(
    source: Source, file_name: str, staged: Path, got: Downloaded, replaces: Path | None
) -> int | None:
    """Pin, or parser, row and completeness checks of a downloaded file; returns its row count."""
    pinned = source.pinned(file_name)
    if pinned is not None:
        if got.sha256 != pinned:
            raise FetchFailure(
                "checksum",
                f"sha256 {got.sha256} differs from the pinned {pinned} of the published file "
                f"(source {source.id} in warehouse/sources.py): the mirror serves other bytes",
            )
        return None  # exactly the published bytes, which the parser tests read as they are
    data = staged.read_bytes()
    unannounced = not got.framed
    if unannounced and not data.endswith((b"\n", b"\r")):
        publisher = (
            "as its publisher's files do"
            if source.completeness.final_line_break
            else "and its publisher's file has none, so nothing shows whether it is whole"
        )
        raise FetchFailure(
            "unproven",
            f"sent without Content-Length and ends without a line break ({publisher}); "
            "fetch again, or from a mirror that announces the length (--base-url)",
        )
    if source.parser is None:  # known, not yet ingested: no parser to check the content with
        if not data:
            raise FetchFailure("parse", "the file is empty")
        if replaces is not None and len(data) < replaces.stat().st_size:
            raise FetchFailure("shrunk", f"{len(data):,} bytes, fewer than {replaces}'s")
        return None
    result = parse_source_file(source, data, file_name)
    if result.rejects:
        reject = next((r for r in result.rejects if r.is_file_level), result.rejects[0])
        where = f" line {reject.line_number}" if reject.line_number else ""
        more = f" (and {len(result.rejects) - 1} more)" if len(result.rejects) > 1 else ""
        raise FetchFailure("parse", f"{reject.rule}{where}: {reject.message}{more}")
    if not result.rows:
        raise FetchFailure("parse", "the file parses but holds no data rows")
    if replaces is not None and check_against_replaced(
        source, file_name, result, replaces, unannounced
    ):
        return len(result.rows)
    expected = source.completeness.min_rows  # a first fetch: nothing usable to compare with
    if len(result.rows) < expected:
        raise FetchFailure(
            "too_few_rows",
            f"{len(result.rows):,} rows, fewer than the {expected:,} of the release registered "
            f"for source {source.id} (half a series?)",
        )
    return len(result.rows)


def check_against_replaced(
    source: Source, file_name: str, result: ParseResult, replaces: Path, unannounced: bool
) -> bool:
    """A growing series never loses rows; without Content-Length it also keeps its latest
    period (a body cut at a line end cannot be told from a new release otherwise). False when
    the local copy is unusable, so there was nothing to compare with."""
    before = parse_source_file(source, replaces.read_bytes(), file_name)
    if before.failed:
        return False
    if len(result.rows) < len(before.rows):
        raise FetchFailure(
            "shrunk",
            f"{len(result.rows):,} rows, fewer than the {len(before.rows):,} of {replaces}",
        )
    if unannounced:
        _, latest = period_of_rows(source, file_name, result)
        _, latest_before = period_of_rows(source, file_name, before)
        if latest != latest_before:
            raise FetchFailure(
                "unproven",
                f"sent without Content-Length, its rows end at {latest}, the file it would "
                f"replace at {latest_before}: a new release and a body cut at a line end look "
                "the same; fetch again from a mirror that announces the length (--base-url)",
            )
    return True


def _failed(file_name: str, url: str, kind: str, error: str) -> FetchedFile:
    return FetchedFile(file_name, url, "failed", error=error, failure=kind)


# --- transport -------------------------------------------------------------------------------
# httpx does the HTTP: connections, TLS, framing (Content-Length, chunked), a timeout on every
# network wait, streaming. What it has no setting for is here: one deadline for the whole file,
# the byte cap, and redirects that stay on the host the file is registered on.


class Deadline:
    """One overall deadline for a download, however the time is spent.

    httpx bounds each network wait (connect, each read) by a timeout fixed per request, so a
    server sending one byte just before each timeout would never trip it. Each request gets
    ``min(stall, time left)`` as its timeout and the time left is checked after every chunk of
    the body: a body ends at the deadline, at the latest one read timeout after it. (Headers sent
    a byte at a time are bounded only by that timeout per read and h11's 100 KiB header limit.)
    """

    def __init__(self, limits: FetchLimits) -> None:
        self.seconds = limits.deadline_seconds
        self.stall_seconds = limits.stall_seconds
        self._ends_at = time.monotonic() + self.seconds
        self.bounds_waits = False  # the last request's timeout was the time left, not the stall

    def left(self) -> float:
        return self._ends_at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.left() <= 0

    def request_timeout(self) -> httpx.Timeout:
        left = self.left()
        self.bounds_waits = left <= self.stall_seconds
        return httpx.Timeout(max(min(self.stall_seconds, left), 0.001))  # 0 = non-blocking


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def redirect_allowed(registered_url: str, new_url: str) -> bool:
    """Same host as registered; same scheme and port, or an upgrade from http to https."""
    scheme, host, port = _origin(registered_url)
    new_scheme, new_host, new_port = _origin(new_url)
    if new_host != host:
        return False
    if (new_scheme, new_port) == (scheme, port):
        return True
    return scheme == "http" and new_scheme == "https"


@dataclass(frozen=True)
class Downloaded:
    """A body streamed to disk: its size, sha256, ETag and whether the transport framed it.

    ``framed``: a Content-Length or chunked encoding marked where the body ends, so a connection
    cut before it was detected. Without either, the server's closing the connection is the only
    end mark, and a cut body looks whole.
    """

    size: int
    sha256: str
    etag: str | None
    framed: bool


def http_client() -> httpx.Client:
    """The client of one download.

    httpx does not follow redirects itself: ``_open`` checks each hop against the registered host
    before requesting it, and never reads a redirect's body. Certificates are checked against the
    system's store, as for any other program on the machine. ``Accept-Encoding: identity``: the
    bytes checked, counted and stored are the publisher's, not a compressed form of them.
    """
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=1),
        verify=ssl.create_default_context(),
    )


def download(
    url: str, staged: Path, limits: FetchLimits, *, if_none_match: str | None = None
) -> Downloaded | None:
    """Stream ``url`` into ``staged``, or None for 304 Not Modified.

    Raises ``FetchFailure`` for every transport problem; ``staged`` may then hold a partial
    body, which the caller's staging folder discards.
    """
    deadline = Deadline(limits)
    headers = {"If-None-Match": if_none_match} if if_none_match else {}
    with http_client() as client:
        try:
            response = _open(client, url, headers, limits, deadline)
        except httpx.HTTPError as error:
            raise _transport_failure(error, deadline, limits) from None
        with contextlib.closing(response):
            if response.status_code == 304 and if_none_match:
                return None
            if response.status_code != 200:
                reason = f"HTTP {response.status_code} {response.reason_phrase}"
                raise FetchFailure("http", reason.rstrip())
            return _stream_body(response, staged, limits, deadline)


def _open(
    client: httpx.Client,
    registered_url: str,
    headers: dict[str, str],
    limits: FetchLimits,
    deadline: Deadline,
) -> httpx.Response:
    """The response at the end of the redirects the rules allow; its body not yet read."""
    url = registered_url
    for _ in range(limits.max_redirects + 1):
        if deadline.expired:
            raise _deadline_failure(0, limits)
        request = client.build_request(
            "GET", url, headers=headers, timeout=deadline.request_timeout()
        )
        response = client.send(request, stream=True)
        if response.next_request is None:  # not a redirect, or one without a Location
            return response
        response.close()
        target = str(response.next_request.url)  # as httpx resolves the Location
        if not redirect_allowed(registered_url, target):
            raise FetchFailure(
                "redirect",
                f"HTTP {response.status_code} redirect from {url} to {target}, outside "
                f"{urlsplit(registered_url).netloc}",
            )
        url = target
    raise FetchFailure("redirect", f"more than {limits.max_redirects} redirects")


def _content_type(response: httpx.Response) -> str:
    """The media type, lower case, without parameters; text/plain when absent or malformed."""
    media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return media_type if media_type.count("/") == 1 else "text/plain"


def _stream_body(
    response: httpx.Response, staged: Path, limits: FetchLimits, deadline: Deadline
) -> Downloaded:
    content_type = _content_type(response)
    if content_type in HTML_CONTENT_TYPES:
        raise FetchFailure(
            "html", f"HTTP 200 with an HTML page (Content-Type {content_type}), not the data file"
        )
    declared = response.headers.get("Content-Length")
    length = int(declared) if declared and declared.isdigit() else None
    if length is not None and length > limits.max_bytes:
        raise FetchFailure(
            "too_large", f"Content-Length {length:,} bytes is over the cap of {limits.max_bytes:,}"
        )
    digest = hashlib.sha256()
    total = 0
    head = b""
    # Mode 0666 before the umask, like any file the user creates (not mkstemp's 0600).
    with os.fdopen(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as out:
        # iter_raw: the bytes as they arrive (at most 64 KiB a read), framing removed, not decoded
        chunks = response.iter_raw()
        while True:
            try:
                chunk = next(chunks, b"")
            except httpx.RemoteProtocolError as error:
                if length is not None:  # h11 saw the connection close before Content-Length
                    raise FetchFailure("truncated", f"got {total:,} of {length:,} bytes") from None
                raise _transport_failure(error, deadline, limits, total) from None
            except httpx.HTTPError as error:
                raise _transport_failure(error, deadline, limits, total) from None
            if deadline.expired:
                raise _deadline_failure(total, limits)
            if not chunk:
                break
            if len(head) < 512:
                head += chunk[: 512 - len(head)]
                if _looks_like_html(head):
                    raise FetchFailure(
                        "html",
                        f"HTTP 200 whose body is an HTML page (Content-Type {content_type}), "
                        "not the data file",
                    )
            total += len(chunk)
            if total > limits.max_bytes:
                raise FetchFailure(
                    "too_large", f"over the cap of {limits.max_bytes:,} bytes; download stopped"
                )
            digest.update(chunk)
            out.write(chunk)
    if length is not None and total != length:
        raise FetchFailure("truncated", f"got {total:,} of {length:,} bytes")
    chunked = "chunked" in response.headers.get("Transfer-Encoding", "").lower()
    framed = length is not None or chunked
    return Downloaded(total, digest.hexdigest(), response.headers.get("ETag"), framed)


def _looks_like_html(head: bytes) -> bool:
    """An HTML document by its first bytes, whatever the Content-Type said."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return text.startswith(HTML_PREFIXES) or (text.startswith(b"<?xml") and b"<html" in text)


def _deadline_failure(received: int, limits: FetchLimits) -> FetchFailure:
    return FetchFailure(
        "timeout",
        f"not complete after the {limits.deadline_seconds:g} s deadline "
        f"({received:,} bytes received)",
    )


def _root_cause(error: BaseException) -> BaseException:
    """The error at the bottom of httpx's chain (httpx error <- httpcore error <- OSError).

    httpcore re-raises its error ``from None`` on the way out of its pool, so the chain is
    followed by ``__context__`` where ``__cause__`` was cleared.
    """
    seen = {id(error)}
    while (below := error.__cause__ or error.__context__) is not None and id(below) not in seen:
        seen.add(id(below))
        error = below
    return error


def _transport_failure(
    error: httpx.HTTPError, deadline: Deadline, limits: FetchLimits, received: int = 0
) -> FetchFailure:
    """Classify a network error: DNS, refused, TLS, stall, deadline, cut connection."""
    if isinstance(error, httpx.TimeoutException):
        if deadline.bounds_waits or deadline.expired:  # the wait was cut by the deadline
            return _deadline_failure(received, limits)
        return FetchFailure("timeout", f"no answer for {limits.stall_seconds:g} s: {error}")
    if deadline.expired:
        return _deadline_failure(received, limits)
    reason = _root_cause(error)
    if isinstance(reason, socket.gaierror):
        return FetchFailure("offline", f"no address for the host: {reason.strerror or reason}")
    if isinstance(reason, ssl.SSLError | ssl.CertificateError):
        return FetchFailure("tls", f"TLS error: {reason}")
    if isinstance(reason, ConnectionRefusedError) or getattr(reason, "errno", None) in (
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
    ):
        return FetchFailure("unreachable", f"cannot connect: {reason}")
    if isinstance(error, httpx.ConnectError):
        return FetchFailure("unreachable", f"cannot connect: {reason}")
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return FetchFailure("truncated", f"connection broken: {reason!r}")
    return FetchFailure("unreachable", f"cannot download: {reason}")


# --- swap and manifests ----------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json_manifest(dest: Path) -> dict[str, dict]:
    """Entries of an earlier ``MANIFEST.json`` by file name (empty when absent or unreadable)."""
    path = dest / JSON_MANIFEST
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["files"]
        return {entry["file_name"]: entry for entry in entries}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_manifests(dest: Path, files: list[FetchedFile], previous: dict[str, dict]) -> None:
    """``MANIFEST.sha256`` and ``MANIFEST.json`` of the files now in ``dest``; never empty."""
    entries = {**previous, **{f.file_name: asdict(f) for f in files if f.sha256}}
    if not entries:
        return
    ordered = [entries[name] for name in sorted(entries)]
    sums = "".join(f"{e['sha256']}  {e['file_name']}\n" for e in ordered)
    atomic_write_text(dest / SHA256_MANIFEST, sums)
    document = {"written_at": datetime.now(UTC).isoformat(timespec="seconds"), "files": ordered}
    atomic_write_text(dest / JSON_MANIFEST, json.dumps(document, indent=2) + "\n")
