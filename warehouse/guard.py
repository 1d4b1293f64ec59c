"""The publish guard: a refresh never publishes less than the warehouse it replaces, unless told.

Two moments:

* before anything is built, ``check_sources_folder`` looks at ``MIGSYS_SOURCES`` itself: a folder
  that was set but does not exist or is empty, a registered file that is a directory, a broken
  symlink or unreadable, or a fall-back to the repository's embedded data when the published
  warehouse came from source files (``--use-embedded`` allows that one);
* right after ingest and again after the build has passed its tests, ``compare_builds`` sets it
  beside the published warehouse (opened read-only): no source that was loaded may be lost, no
  source file may load fewer rows or end at an earlier period than it did (a file cut at a line
  end, a half series), and every source-fed mart must keep at least ``min_row_share`` of its
  published rows (``--allow-shrink`` allows all three, and the run record says so).

Every message names the folder searched.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from migsys.warehouse.ingest import would_use_embedded
from migsys.warehouse.sources import registered_files
from migsys.warehouse.sql import open_read_only

Origin = Literal["sources", "embedded", "none"]


class PublishRefused(RuntimeError):
    """The build would lose data the published warehouse has; nothing was published."""

    def __init__(self, reasons: list[str], hint: str):
        self.reasons = reasons
        super().__init__("; ".join(reasons) + f" ({hint})")


@dataclass(frozen=True)
class GuardPolicy:
    """What the guard compares, and what the operator explicitly allowed."""

    source_fed_marts: tuple[str, ...]
    min_row_share: float = 0.95
    allow_shrink: bool = False
    use_embedded: bool = False


@dataclass(frozen=True)
class FileLoad:
    """How much of one source file a warehouse loaded: its rows and the last period they cover."""

    rows: int
    period_end: str | None

    def describe(self) -> str:
        return f"{self.rows:,} rows" + (f" to {self.period_end}" if self.period_end else "")


@dataclass(frozen=True)
class WarehouseProfile:
    """What a warehouse file was built from and how many rows its source-fed marts hold."""

    origin: Origin
    loaded_sources: frozenset[str]
    mart_rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, FileLoad] = field(default_factory=dict)  # loaded source files by name

    def to_json(self) -> dict:
        """JSON-ready, kept beside the published file (``warehouse.state``)."""
        return {
            "origin": self.origin,
            "loaded_sources": sorted(self.loaded_sources),
            "mart_rows": self.mart_rows,
            "files": {name: vars(load) for name, load in self.files.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> WarehouseProfile:
        return cls(
            data["origin"],
            frozenset(data["loaded_sources"]),
            {name: int(rows) for name, rows in data.get("mart_rows", {}).items()},
            {name: FileLoad(**load) for name, load in data.get("files", {}).items()},
        )


@dataclass(frozen=True)
class GuardCheck:
    """One comparison, for the run record and the report."""

    check: str
    published: str
    build: str
    outcome: Literal["ok", "refused", "allowed"]


# --------------------------------------------------------------------------- the sources folder


def _is_readable_file(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode  # follows symlinks: a broken one raises
    except OSError:
        return False
    return stat.S_ISREG(mode) and os.access(path, os.R_OK)


def present_source_files(sources_dir: Path) -> list[str]:
    """Registered files present in ``sources_dir`` (whatever their kind: checked separately)."""
    return [
        name
        for name in registered_files()
        if os.path.lexists(sources_dir / name)  # a broken symlink is present, and wrong
    ]


def source_folder_problems(sources_dir: Path, *, explicitly_set: bool) -> list[str]:
    """Why ``sources_dir`` cannot be ingested as it is (empty list: it can)."""
    if not sources_dir.exists():
        if explicitly_set:
            return [f"MIGSYS_SOURCES={sources_dir} does not exist (unmounted or mistyped?)"]
        return []
    if not sources_dir.is_dir():
        return [f"MIGSYS_SOURCES={sources_dir} is not a folder"]
    # Hidden entries (a fetch's lock or staging folder) do not make a folder non-empty.
    if explicitly_set and not any(not p.name.startswith(".") for p in sources_dir.iterdir()):
        return [f"MIGSYS_SOURCES={sources_dir} is empty (unmounted or not fetched yet?)"]
    problems = []
    for name in present_source_files(sources_dir):
        path = sources_dir / name
        if _is_readable_file(path):
            continue
        if path.is_symlink() and not path.exists():
            kind = f"a broken symlink to {os.readlink(path)}"
        elif path.is_dir():
            kind = "a directory"
        elif path.exists() and not stat.S_ISREG(path.stat().st_mode):
            kind = "not a regular file"
        else:
            kind = "not readable"
        problems.append(f"{path} is {kind}; a registered source must be a readable regular file")
    return problems


def check_sources_folder(
    sources_dir: Path,
    published: WarehouseProfile | None,
    policy: GuardPolicy,
    *,
    explicitly_set: bool,
) -> None:
    """Refuse to start a refresh that could only publish less; raises ``PublishRefused``."""
    problems = source_folder_problems(sources_dir, explicitly_set=explicitly_set)
    if problems:
        raise PublishRefused(problems, f"sources folder searched: {sources_dir}")
    if (
        published is not None
        and published.origin == "sources"
        and would_use_embedded(sources_dir)
        and not policy.use_embedded
    ):
        raise PublishRefused(
            [
                f"no source files in {sources_dir}, but the published warehouse was built from "
                f"source files ({', '.join(sorted(published.loaded_sources))}); this refresh "
                "would replace it with the repository's embedded data"
            ],
            "set MIGSYS_SOURCES to the folder with the files, or pass --use-embedded to "
            "publish the embedded data on purpose",
        )


# --------------------------------------------------------------------------- build vs published


def profile_warehouse(database: Path, marts: tuple[str, ...]) -> WarehouseProfile | None:
    """Origin, loaded sources and mart row counts of a warehouse file (None when it is absent).

    Opened read-only: this is also how the guard reads the *published* file, which a refresh
    never opens read-write (analysts may be holding it).
    """
    if not database.is_file():
        return None
    con = open_read_only(database)
    try:
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        columns = {
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'source_files'"
            ).fetchall()
        }
        loaded: set[str] = set()
        origin: Origin = "none"
        files: dict[str, FileLoad] = {}
        if {"rows_loaded", "period_end"} <= columns:
            files = {
                name: FileLoad(int(rows), period_end)
                for name, rows, period_end in con.execute(
                    "select file_name, rows_loaded, period_end from raw.source_files "
                    "where status = 'loaded'"
                ).fetchall()
            }
        if columns:
            loaded = {
                source
                for (source,) in con.execute(
                    "select distinct source_id from raw.source_files where status = 'loaded'"
                ).fetchall()
            }
            if "origin" in columns:
                origins = {
                    value
                    for (value,) in con.execute(
                        "select distinct origin from raw.source_files where status = 'loaded'"
                    ).fetchall()
                }
                origin = (
                    "embedded" if origins == {"embedded"} else ("sources" if loaded else "none")
                )
            else:
                origin = "sources" if loaded else "none"
        rows = {}
        for mart in marts:
            if mart in tables:
                (rows[mart],) = con.execute(f'select count(*) from main."{mart}"').fetchone()
    finally:
        con.close()
    return WarehouseProfile(origin, frozenset(loaded), rows, files)


def compare_builds(
    published: WarehouseProfile | None,
    build: WarehouseProfile,
    policy: GuardPolicy,
    *,
    marts: bool = True,
) -> list[GuardCheck]:
    """Every guard comparison of the build with the published warehouse (nothing published: ok).

    ``marts=False`` compares the loaded sources only (right after ingest, before dbt has built
    the marts: a lost source is refused without waiting for the build).
    """
    if published is None:
        return [GuardCheck("published warehouse", "none", build.origin, "ok")]
    refused: Literal["refused", "allowed"] = "allowed" if policy.allow_shrink else "refused"
    lost = sorted(published.loaded_sources - build.loaded_sources)
    checks = [
        GuardCheck(
            "sources loaded",
            ", ".join(sorted(published.loaded_sources)) or "none",
            ", ".join(sorted(build.loaded_sources)) or "none",
            refused if lost else "ok",
        )
    ]
    checks += _file_checks(published, build, refused)
    for mart in policy.source_fed_marts if marts else ():
        before = published.mart_rows.get(mart)
        if before is None:
            continue
        after = build.mart_rows.get(mart, 0)
        shrunk = after < policy.min_row_share * before
        checks.append(
            GuardCheck(f"rows of {mart}", f"{before:,}", f"{after:,}", refused if shrunk else "ok")
        )
    return checks


FILES_CHECK = "source files keep their rows and latest period"
FILE_CHECK_PREFIX = "source file "


def _file_checks(
    published: WarehouseProfile, build: WarehouseProfile, refused: Literal["refused", "allowed"]
) -> list[GuardCheck]:
    """One check per source file that loads fewer rows or ends earlier than it did, else one
    check for them all. Periods of one file share a format (2024-12, 2024-Q4, 2010), so the
    later one sorts after."""
    checks = []
    for name, before in sorted(published.files.items()):
        after = build.files.get(name, FileLoad(0, None))
        shorter = after.rows < before.rows
        earlier = before.period_end is not None and (
            after.period_end is None or after.period_end < before.period_end
        )
        if shorter or earlier:
            checks.append(
                GuardCheck(
                    f"{FILE_CHECK_PREFIX}{name}", before.describe(), after.describe(), refused
                )
            )
    if not checks and published.files:
        count = f"{len(published.files)} files"
        checks.append(GuardCheck(FILES_CHECK, count, f"{len(build.files)} files", "ok"))
    return checks


def refusals(checks: list[GuardCheck], policy: GuardPolicy) -> list[str]:
    """Sentences for the checks that refuse the build."""
    reasons = []
    for check in checks:
        if check.outcome != "refused":
            continue
        if check.check == "sources loaded":
            reasons.append(
                f"the build lost sources the published warehouse has (published: {check.published};"
                f" build: {check.build})"
            )
        elif check.check.startswith(FILE_CHECK_PREFIX):
            reasons.append(
                f"{check.check} would fall from {check.published} to {check.build} (a source "
                "file never loads fewer rows or ends earlier than the one it replaces: cut "
                "at a line end, or an older copy?)"
            )
        else:
            reasons.append(
                f"{check.check} would fall from {check.published} to {check.build} "
                f"(below {policy.min_row_share:.0%} of the published rows)"
            )
    return reasons


def guard_build(
    published: WarehouseProfile | None,
    build: WarehouseProfile,
    policy: GuardPolicy,
    sources_dir: Path,
    *,
    marts: bool = True,
) -> list[GuardCheck]:
    """Compare, and raise ``PublishRefused`` when the build would publish less than before."""
    checks = compare_builds(published, build, policy, marts=marts)
    reasons = refusals(checks, policy)
    if reasons:
        raise PublishRefused(
            reasons,
            f"sources folder searched: {sources_dir}; pass --allow-shrink to publish it anyway",
        )
    return checks
