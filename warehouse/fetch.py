"""Download the registered source files into a sources folder, with sha256 manifests.

``fetch_sources(dest, base_url)`` downloads every registered file from ``base_url + "/" + path``
(or, without ``base_url``, from each file's registered mirror URL), writes each file atomically
(temporary file + rename, so a cut download never replaces a good file), skips files whose
content is unchanged (ETag revalidation when the server gives one, else sha256 comparison), and
writes ``MANIFEST.sha256`` (``sha256sum -c`` format) and ``MANIFEST.json`` (url, size, sha256,
etag, fetched_at per file). HTTP and network errors name the URL; every file is attempted, then
``FetchError`` lists the failures (its ``report`` has the rest).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from migsys.warehouse.sources import SOURCES, Source

SHA256_MANIFEST = "MANIFEST.sha256"
JSON_MANIFEST = "MANIFEST.json"
USER_AGENT = "migsys-fetch/0.1 (+https://github.com/migsys)"


@dataclass(frozen=True)
class FetchedFile:
    """What happened to one registered file."""

    file_name: str
    url: str
    status: str  # downloaded | unchanged | failed
    size: int | None = None
    sha256: str | None = None
    etag: str | None = None
    fetched_at: str | None = None  # ISO 8601, UTC
    error: str | None = None


@dataclass
class FetchReport:
    dest: Path
    files: list[FetchedFile] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[FetchedFile]:
        return [f for f in self.files if f.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def __str__(self) -> str:
        lines = [
            f"{self.dest}: {self.count('downloaded')} downloaded, {self.count('unchanged')} "
            f"unchanged, {self.count('failed')} failed"
        ]
        lines += [f"  {f.file_name}: {f.error}" for f in self.failures]
        return "\n".join(lines)

    def __rich__(self) -> Table:
        table = Table(title=f"Sources in {self.dest}")
        for column in ("file", "status", "bytes", "sha256", "url"):
            table.add_column(column)
        for f in self.files:
            status = f.status if f.error is None else f"{f.status}: {f.error}"
            size = "" if f.size is None else f"{f.size:,}"
            table.add_row(f.file_name, status, size, (f.sha256 or "")[:12], f.url)
        return table


class FetchError(RuntimeError):
    """One or more downloads failed; ``report`` holds every file's outcome."""

    def __init__(self, report: FetchReport) -> None:
        self.report = report
        details = "\n".join(f"  {f.url}: {f.error}" for f in report.failures)
        super().__init__(f"{len(report.failures)} download(s) failed:\n{details}")


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
    timeout: float = 60.0,
) -> FetchReport:
    """Bring ``dest`` up to date with the mirror; see the module docstring."""
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url {base_url!r} must start with http:// or https://")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    previous = read_json_manifest(dest)
    report = FetchReport(dest)
    for source in sources:
        for file_name in source.files:
            url = source_url(source, file_name, base_url)
            report.files.append(fetch_file(dest, file_name, url, previous.get(file_name), timeout))
    write_manifests(dest, [f for f in report.files if f.status != "failed"], previous)
    if not report.ok:
        raise FetchError(report)
    return report


def fetch_file(
    dest: Path, file_name: str, url: str, previous: dict | None, timeout: float
) -> FetchedFile:
    """Download one file unless unchanged; never raises for HTTP/network errors."""
    target = dest / file_name
    local_sha = sha256_of(target) if target.is_file() else None
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    # Revalidate with the ETag only if the local file is still the one the manifest describes.
    if previous and previous.get("etag") and local_sha == previous.get("sha256"):
        request.add_header("If-None-Match", previous["etag"])
    now = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            etag = response.headers.get("ETag")
            declared = response.headers.get("Content-Length")
    except urllib.error.HTTPError as error:
        if error.code == 304 and previous is not None:
            known = {k: v for k, v in previous.items() if k in FetchedFile.__dataclass_fields__}
            return FetchedFile(
                **{**known, "file_name": file_name, "url": url, "status": "unchanged"}
            )
        return _failed(file_name, url, f"HTTP {error.code} {error.reason}")
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        return _failed(file_name, url, f"cannot download: {reason}")
    except ValueError as error:  # a malformed registered URL
        return _failed(file_name, url, f"invalid URL: {error}")
    if declared is not None and declared.isdigit() and int(declared) != len(body):
        return _failed(file_name, url, f"got {len(body)} of {declared} bytes (connection cut)")
    sha = hashlib.sha256(body).hexdigest()
    if sha == local_sha:
        fetched_at = (previous or {}).get("fetched_at") or now
        return FetchedFile(file_name, url, "unchanged", len(body), sha, etag, fetched_at)
    write_atomically(target, body)
    return FetchedFile(file_name, url, "downloaded", len(body), sha, etag, now)


def _failed(file_name: str, url: str, error: str) -> FetchedFile:
    return FetchedFile(file_name, url, "failed", error=error)


def write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file next to ``target``, then rename over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
    """``MANIFEST.sha256`` and ``MANIFEST.json``; files that failed keep their earlier entry."""
    entries = {**previous, **{f.file_name: asdict(f) for f in files}}
    ordered = [entries[name] for name in sorted(entries)]
    sums = "".join(f"{e['sha256']}  {e['file_name']}\n" for e in ordered)
    write_atomically(dest / SHA256_MANIFEST, sums.encode())
    document = {"written_at": datetime.now(UTC).isoformat(timespec="seconds"), "files": ordered}
    write_atomically(dest / JSON_MANIFEST, (json.dumps(document, indent=2) + "\n").encode())
