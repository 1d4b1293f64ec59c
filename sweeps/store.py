"""The on-disk layout of one study, its bookkeeping, and the checks that keep it honest.

``<sweeps_root>/<study>/``
- ``study.json``: spec, fingerprint, code version, data fingerprint, timing, state;
- ``chunks.jsonl``: the manifest, one line per finished chunk (appended by the client only): its
  scenario range, row count, the sha256 of its part and the study fingerprint it was run for;
- ``parts/chunk=<first scenario id>/part.parquet``: one part per chunk, written atomically
  (hive layout: ``read_parquet('parts/*/*.parquet', hive_partitioning = true)``); each part
  names in its own metadata the study fingerprint and the chunk it was computed for, so a part
  whose manifest line was lost proves where it comes from before it is adopted;
- ``analysis/*.parquet``: sensitivity, series quantiles, PRIM boxes;
- ``.lock``: held (``warehouse.files.held_lock``) by the one ``sweep run`` writing the study;
- ``quarantine/``: parts and stray files a repair moved out of the way (never deleted).

A chunk is named by its first scenario id, so parts never collide even if a study is resumed
with another chunk size. :func:`verify_study` checks every part against the manifest;
:func:`scan_studies` sorts a sweeps folder into loadable studies, quarantined ones (with the
reason) and folders that are not studies at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from migsys.warehouse import files

STUDY_FILE = "study.json"
MANIFEST_FILE = "chunks.jsonl"
PARTS_DIR = "parts"
ANALYSIS_DIR = "analysis"
QUARANTINE_DIR = "quarantine"
LOCK_FILE = ".lock"
PART_NAME = "part.parquet"
CHUNK_DIR = re.compile(r"^chunk=(\d{12})$")
STUDY_FOLDER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # = spec.STUDY_NAME_PATTERN
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Parquet key-value metadata of a part: {"fingerprint", "start", "stop"} of the chunk it holds.
PROVENANCE_KEY = b"migsys.part"


@dataclass(frozen=True)
class StudyDir:
    """Paths of one study's files."""

    path: Path

    @property
    def study_file(self) -> Path:
        return self.path / STUDY_FILE

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST_FILE

    @property
    def parts(self) -> Path:
        return self.path / PARTS_DIR

    @property
    def analysis(self) -> Path:
        return self.path / ANALYSIS_DIR

    @property
    def quarantine(self) -> Path:
        return self.path / QUARANTINE_DIR

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK_FILE

    def part(self, start: int) -> Path:
        return self.parts / f"chunk={start:012d}" / PART_NAME

    def parts_glob(self) -> str:
        return str(self.parts / "*" / PART_NAME)


class NotAStudyName(ValueError):
    """A study was named by something that is not a study name (a path, say)."""


def study_dir(root: Path, name: str) -> StudyDir:
    """The folder of study ``name`` under ``root``; a name that is not a study name is refused.

    Names are names, not paths: ``../../x``, ``/abs/path`` or ``a/b`` would read (or write) a
    study outside the sweeps folder.
    """
    if not isinstance(name, str) or not STUDY_FOLDER.match(name):
        raise NotAStudyName(
            f"{name!r} is not a study name: study names are 1-63 lowercase letters, digits, "
            f"'-' or '_', starting with a letter or digit (studies live in {root}); give a "
            "spec file (.toml) to name a study by its file"
        )
    return StudyDir(Path(root) / name)


def atomic_write_json(path: Path, payload: dict) -> None:
    files.atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True))


def atomic_write_parquet(path: Path, table: pa.Table, **options: object) -> None:
    """Write a Parquet file atomically (``options``: those of ``pyarrow.parquet.write_table``;
    default zstd without dictionaries)."""
    # No dictionary encoding: sweep outputs are continuous doubles that never repeat, so the
    # dictionary only costs time and bytes (measured: 16k-row part 58 -> 49 ms, 3.7 -> 2.9 MiB).
    with files.atomic_path(path) as staged:
        pq.write_table(table, staged, **{"compression": "zstd", "use_dictionary": False, **options})


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# How a chunk's part is encoded, chosen by measurement: a 16,384-scenario remittance chunk
# (scenario_id, 6 swept parameters, 28 outputs; Saltelli design), CPU time to write per scenario
# and bytes per scenario, best of 9 on the 2-core AMD EPYC VM (loaded; ratios are what count):
#   zstd (level 3) on every column, nullable columns, all statistics (before)   1.25 µs   183 B
#   lz4 / snappy on every column                                       0.89 / 0.78 µs   215 / 211 B
#   zstd level 1 on the design columns only                                     0.57 µs   238 B
#     ... with required columns (no definition levels), scenario_id statistics   0.41 µs   237 B
#   no compression, required columns, scenario_id statistics  <- chosen         0.28 µs   280 B
# Outputs are continuous doubles whose mantissas hardly compress (zstd keeps 73-83 % of them at
# 2.7x the cost of writing them plain); the design columns repeat within each Saltelli block and
# would shrink to a quarter, 15 % of the part for 0.13 µs a scenario, which the sweep's speed
# target did not afford. Min/max statistics are kept for scenario_id only: a chunk's random
# outputs span their whole range, so theirs never prune a row group. The sha256 the manifest
# records comes on top, in proportion to the bytes: 0.21 µs a scenario for these 280 B (0.49 µs
# to write and hash a part in all; measured the same way). Bench: sweep.part_*.
def write_part(
    path: Path, table: pa.Table, *, fingerprint: str = "", chunk: tuple[int, int] | None = None
) -> str:
    """Write one chunk's part atomically, encoded as measured above; its sha256 (hex).

    ``fingerprint`` and ``chunk`` (start, stop) go into the part's metadata: where it comes from.
    The digest is taken of the staged file before the rename, so it is that of exactly the
    bytes put in place (the manifest records it; ``verify_study`` checks it).
    """
    if chunk is not None:
        provenance = {"fingerprint": fingerprint, "start": chunk[0], "stop": chunk[1]}
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), PROVENANCE_KEY: json.dumps(provenance).encode()}
        )
    # Not flushed to disk (``durable=False``): a part lost to a power cut fails its sha256 in
    # the manifest (which is flushed) and its chunk runs again, while flushing every part would
    # cost ~10 ms each, a third of a 16k-scenario chunk's write.
    with files.atomic_path(path, durable=False) as staged:
        pq.write_table(
            table,
            staged,
            compression="none",
            use_dictionary=False,
            write_statistics=["scenario_id"],
        )
        digest = file_sha256(staged)
    return digest


def read_json(path: Path) -> dict:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path}: not a JSON object")
    return payload


def append_manifest(study: StudyDir, record: dict) -> None:
    """Append one finished chunk to the manifest (one short line, flushed to disk)."""
    files.append_line(study.manifest, json.dumps(record, sort_keys=True))


def write_manifest(study: StudyDir, records: list[ChunkRecord]) -> None:
    """Replace the manifest with ``records`` (atomically): a repair's clean slate."""
    text = "".join(json.dumps(r.as_dict(), sort_keys=True) + "\n" for r in records)
    files.atomic_write_text(study.manifest, text)


def read_manifest(study: StudyDir) -> list[dict]:
    """Manifest lines that parse as JSON objects; a torn last line (client killed mid-write) is
    ignored. :func:`verify_study` reports the rest of what is wrong with them."""
    return [record for _, record, _ in _manifest_lines(study)[0]]


def _manifest_lines(study: StudyDir) -> tuple[list[tuple[int, dict, str]], list[str]]:
    """(line number, record, raw line) of each parsable line, and problems with the others."""
    if not study.manifest.exists():
        return [], []
    raw = study.manifest.read_bytes()
    lines = raw.decode("utf-8", errors="replace").split("\n")
    torn_last = not raw.endswith(b"\n")
    parsed, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if not (torn_last and number == len(lines)):
                problems.append(f"{study.manifest.name} line {number}: not JSON")
            continue
        if not isinstance(record, dict):
            problems.append(f"{study.manifest.name} line {number}: not a JSON object")
            continue
        parsed.append((number, record, line))
    return parsed, problems


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk as the manifest records it."""

    start: int
    stop: int
    rows: int
    sha256: str
    fingerprint: str
    seconds: float | None = None
    cpu_seconds: float | None = None

    def as_dict(self) -> dict:
        record = {
            "start": self.start,
            "stop": self.stop,
            "rows": self.rows,
            "sha256": self.sha256,
            "fingerprint": self.fingerprint,
        }
        if self.seconds is not None:
            record["seconds"] = self.seconds
        if self.cpu_seconds is not None:
            record["cpu_seconds"] = self.cpu_seconds
        return record


@dataclass(frozen=True)
class PartProblem:
    """Something in a study folder that does not verify, and what a repair does about it.

    ``repair``: ``rerun`` (the manifest line is sound, its part missing or changed: run exactly
    ``start..stop`` again), ``manifest`` (the line itself is wrong: drop it and judge the part
    by its content), ``quarantine`` (a part or entry that cannot be used: move it aside).
    """

    path: Path
    problem: str
    start: int | None = None
    stop: int | None = None
    repair: str = "manifest"

    def describe(self, root: Path) -> str:
        where = f" (scenarios {self.start}..{self.stop - 1})" if self.stop is not None else ""
        return f"{_relative(self.path, root)}{where}: {self.problem}"


def _relative(path: Path, root: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(root))
    return str(path)


@dataclass(frozen=True)
class StudyCheck:
    """What :func:`verify_study` found in one study folder."""

    name: str
    directory: Path
    n_scenarios: int
    fingerprint: str | None
    state: str | None  # the state study.json records (running, finished …), None if unreadable
    verified: tuple[ChunkRecord, ...] = ()  # manifest chunks whose parts match their sha256
    unrecorded: tuple[ChunkRecord, ...] = ()  # intact parts the manifest lacks (a killed client)
    problems: tuple[PartProblem, ...] = ()  # corrupt, missing or stray parts; bad manifest lines
    notes: tuple[str, ...] = ()  # problems of the study as a whole
    record: dict = field(default_factory=dict, repr=False)

    @property
    def scenarios_verified(self) -> int:
        return sum(r.rows for r in self.verified)

    @property
    def complete(self) -> bool:
        """Every scenario is in a verified part."""
        return self.n_scenarios > 0 and self.scenarios_verified == self.n_scenarios

    @property
    def ok(self) -> bool:
        """Nothing is corrupt, missing or stray (an unfinished study can be ok)."""
        return not self.problems and not self.notes

    @property
    def loadable(self) -> bool:
        """Finished, complete and verified: fit for ``analyze`` and the warehouse."""
        return self.ok and self.complete and self.state == "finished" and not self.unrecorded

    def part_files(self) -> list[Path]:
        """The verified parts, in scenario order."""
        study = StudyDir(self.directory)
        return [study.part(r.start) for r in self.verified]

    def reason(self) -> str:
        """Why the study is not loadable (empty when it is)."""
        if self.loadable:
            return ""
        reasons = list(self.notes[:1])
        if self.problems:
            first = self.problems[0].describe(self.directory)
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            reasons.append(f"{first}{more}")
        if reasons:
            return "; ".join(reasons)
        done = self.scenarios_verified + sum(r.rows for r in self.unrecorded)
        return f"unfinished: {done:,} of {self.n_scenarios:,} scenarios (state {self.state})"

    def describe(self) -> str:
        """A few lines for an operator: state, counts and every problem."""
        lines = [
            f"{self.directory}: {self.scenarios_verified:,} of {self.n_scenarios:,} scenarios "
            f"verified in {len(self.verified)} parts (state {self.state})"
        ]
        lines += [f"  {note}" for note in self.notes]
        lines += [f"  {p.describe(self.directory)}" for p in self.problems]
        if self.unrecorded:
            rows = sum(r.rows for r in self.unrecorded)
            lines.append(
                f"  {len(self.unrecorded)} intact parts ({rows:,} scenarios) not in the manifest "
                "yet (a run was interrupted); `migsys sweep run` adopts them once each proves "
                "its study and a recomputed scenario matches"
            )
        return "\n".join(lines)


def _record_from(raw: dict, n_scenarios: int) -> tuple[ChunkRecord | None, str]:
    try:
        start, stop, rows = int(raw["start"]), int(raw["stop"]), int(raw["rows"])
        sha, fingerprint = str(raw["sha256"]), str(raw["fingerprint"])
    except (KeyError, TypeError, ValueError):
        return None, "lacks start/stop/rows/sha256/fingerprint (written by an older migsys?)"
    if not 0 <= start < stop <= n_scenarios:
        return None, f"range {start}..{stop} is outside the study's 0..{n_scenarios}"
    if rows != stop - start:
        return None, f"records {rows} rows for the {stop - start} scenarios {start}..{stop}"
    if not SHA256.match(sha):
        return None, "sha256 is not 64 hex digits"
    seconds, cpu = raw.get("seconds"), raw.get("cpu_seconds")
    return ChunkRecord(start, stop, rows, sha, fingerprint, seconds, cpu), ""


def _part_rows(path: Path) -> int:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException):
        return -1


def part_provenance(path: Path) -> dict | None:
    """The study fingerprint and chunk a part says it was computed for (None: it says nothing)."""
    metadata = pq.read_schema(path).metadata or {}
    try:
        provenance = json.loads(metadata[PROVENANCE_KEY])
        return {
            "fingerprint": str(provenance["fingerprint"]),
            "start": int(provenance["start"]),
            "stop": int(provenance["stop"]),
        }
    except (KeyError, TypeError, ValueError):
        return None


def inspect_part(path: Path, start: int) -> tuple[ChunkRecord | None, str]:
    """A part's own account of itself: readable, its scenario ids ``start, start + 1, …``, and
    the chunk its metadata names; the record carries the fingerprint it names ("" if none)."""
    try:
        table = pq.read_table(path, columns=["scenario_id"])
        provenance = part_provenance(path)
    except (OSError, pa.ArrowException) as error:
        return None, f"unreadable ({str(error).splitlines()[0][:120]})"
    ids = table.column("scenario_id").to_numpy()
    if ids.size == 0:
        return None, "holds no rows"
    expected = range(start, start + ids.size)
    if (
        ids[0] != start
        or ids[-1] != expected[-1]
        or (ids.size > 1 and (ids[1:] - ids[:-1] != 1).any())
    ):
        return None, f"holds scenarios {int(ids.min())}..{int(ids.max())}, not those of its chunk"
    stop = start + int(ids.size)
    if provenance is not None and (provenance["start"], provenance["stop"]) != (start, stop):
        return None, (
            f"says it holds chunk {provenance['start']}..{provenance['stop']} but sits in "
            f"chunk={start:012d} holding {start}..{stop} (moved or edited)"
        )
    fingerprint = provenance["fingerprint"] if provenance else ""
    return ChunkRecord(start, stop, int(ids.size), file_sha256(path), fingerprint), ""


def _spec_scenarios(record: dict) -> int | None:
    """How many scenarios the spec stored in ``study.json`` defines (None: no readable spec)."""
    from migsys.sweeps.spec import StudySpec

    try:
        return StudySpec.model_validate_json(record["spec_json"]).n_scenarios
    except (KeyError, TypeError, ValueError):
        return None


def verify_study(directory: Path, n_scenarios: int | None = None) -> StudyCheck:
    """Check a study folder against its manifest: every part present, with the sha256, row count
    and scenario range recorded for it and the study's fingerprint; no stray parts; a manifest
    that adds up. ``n_scenarios`` is the spec's count when the caller has the spec (a run):
    study.json's own count is then only checked against it. Never modifies anything."""
    directory = Path(directory)
    study = StudyDir(directory)
    name = directory.name
    notes: list[str] = []
    try:
        record = read_json(study.study_file)
        recorded = int(record["n_scenarios"])
        fingerprint = str(record["fingerprint"])
        if recorded < 1:
            raise ValueError("n_scenarios < 1")
    except FileNotFoundError:
        return StudyCheck(name, directory, 0, None, None, notes=("no study.json",))
    except (ValueError, KeyError, TypeError) as error:
        return StudyCheck(name, directory, 0, None, None, notes=(f"study.json: {error}",))
    truth = n_scenarios if n_scenarios is not None else _spec_scenarios(record)
    if truth is not None and truth != recorded:
        notes.append(
            f"study.json records {recorded:,} scenarios, its spec defines {truth:,} (edited?); "
            "`migsys sweep run` on the spec restores it"
        )
    n_scenarios = truth if truth is not None else recorded
    state = record.get("state")
    if record.get("name") != name:
        notes.append(
            f"study.json names study {record.get('name')!r}, not the folder's {name!r} "
            "(a copy of another study?)"
        )
    problems: list[PartProblem] = []
    lines, line_problems = _manifest_lines(study)
    problems += [PartProblem(study.manifest, p) for p in line_problems]

    latest: dict[int, tuple[int, ChunkRecord]] = {}
    for number, raw, _ in lines:
        chunk, why = _record_from(raw, n_scenarios)
        if chunk is None:
            problems.append(PartProblem(study.manifest, f"line {number}: {why}"))
            continue
        if chunk.fingerprint != fingerprint:
            problems.append(
                PartProblem(
                    study.part(chunk.start),
                    f"manifest line {number}: chunk {chunk.start}..{chunk.stop} was run for fingerprint "
                    f"{chunk.fingerprint[:12]}, not the study's {fingerprint[:12]} "
                    "(another spec, calibration, kernel code or data)",
                    chunk.start,
                    chunk.stop,
                    "quarantine",
                )
            )
            continue
        latest[chunk.start] = (number, chunk)  # a repaired chunk's later line supersedes
    claimed = sum(chunk.rows for _, chunk in latest.values())
    if claimed > n_scenarios:
        notes.append(
            f"{MANIFEST_FILE} claims {claimed:,} scenarios of {n_scenarios:,} (edited or mixed up)"
        )

    verified: list[ChunkRecord] = []
    # Starts whose parts are accounted for by the manifest (or were run for another
    # fingerprint): never adopted as unrecorded parts.
    not_adoptable: set[int] = set()
    taken: list[tuple[int, int]] = []  # ranges of verified chunks and of chunks to re-run
    for start in sorted(latest):
        number, chunk = latest[start]
        part = study.part(start)
        if taken and chunk.start < max(stop for _, stop in taken):
            problems.append(
                PartProblem(
                    study.manifest,
                    f"line {number}: chunk {chunk.start}..{chunk.stop} overlaps another chunk",
                )
            )
            continue
        taken.append((chunk.start, chunk.stop))
        if not part.is_file():
            problems.append(PartProblem(part, "missing", chunk.start, chunk.stop, "rerun"))
            continue
        if file_sha256(part) != chunk.sha256:
            problems.append(
                PartProblem(
                    part,
                    "sha256 differs from the manifest (changed after it was written)",
                    chunk.start,
                    chunk.stop,
                    "rerun",
                )
            )
            continue
        rows = _part_rows(part)
        if rows != chunk.rows:
            taken.pop()
            problems.append(
                PartProblem(
                    study.manifest,
                    f"line {number}: records {chunk.rows} rows, its part holds {rows}",
                )
            )
            continue
        verified.append(chunk)
    not_adoptable |= {p.start for p in problems if p.start is not None}

    unrecorded: list[ChunkRecord] = []
    accounted = {chunk.start for chunk in verified} | not_adoptable
    if study.parts.is_dir():
        for entry in sorted(study.parts.iterdir()):
            if entry.name.startswith("."):
                continue
            match = CHUNK_DIR.match(entry.name)
            if match is None or not entry.is_dir():
                problems.append(
                    PartProblem(
                        entry, "stray entry in parts/ (not a chunk folder)", repair="quarantine"
                    )
                )
                continue
            start = int(match.group(1))
            part = entry / PART_NAME
            if start in accounted or not part.exists():
                continue
            found, why = inspect_part(part, start)
            if found is None:
                problems.append(PartProblem(part, why, start, repair="quarantine"))
            elif found.fingerprint != fingerprint:
                why = (
                    f"was computed for study fingerprint {found.fingerprint[:12]}, not this "
                    f"study's {fingerprint[:12]} (a part of another study, seed or version)"
                    if found.fingerprint
                    else "names no study fingerprint (not written by this study's runs)"
                )
                problems.append(
                    PartProblem(
                        part, f"not in the manifest and {why}", start, found.stop, "quarantine"
                    )
                )
            elif found.stop > n_scenarios or any(
                found.start < stop and begin < found.stop
                for begin, stop in taken + [(c.start, c.stop) for c in unrecorded]
            ):
                problems.append(
                    PartProblem(
                        part, "overlaps other chunks", found.start, found.stop, "quarantine"
                    )
                )
            else:
                unrecorded.append(found)
    check = StudyCheck(
        name,
        directory,
        n_scenarios,
        fingerprint,
        state,
        tuple(verified),
        tuple(unrecorded),
        tuple(problems),
        tuple(notes),
        record,
    )
    if state == "finished" and not check.complete and not notes:
        done = check.scenarios_verified
        notes.append(
            f"study.json says finished, but only {done:,} of {n_scenarios:,} scenarios verify"
        )
        check = dataclasses.replace(check, notes=tuple(notes))
    return check


@dataclass(frozen=True)
class Quarantined:
    """A study folder the refresh leaves out, and why."""

    directory: Path
    reason: str

    @property
    def name(self) -> str:
        return self.directory.name


@dataclass(frozen=True)
class StudyScan:
    """A sweeps folder sorted: studies to load, studies left out with the reason, and entries
    that are not studies at all (stray folders, ``.bak`` copies, ``.NAME.old-PID`` leftovers)."""

    loadable: list[StudyCheck]
    quarantined: list[Quarantined]
    ignored: list[Path]


def scan_studies(sweeps_root: Path) -> StudyScan:
    """Verify every study under ``sweeps_root``; never raises on what it finds there."""
    root = Path(sweeps_root)
    loadable: list[StudyCheck] = []
    quarantined: list[Quarantined] = []
    ignored: list[Path] = []
    if not root.is_dir():
        return StudyScan(loadable, quarantined, ignored)
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or not STUDY_FOLDER.match(entry.name):
            ignored.append(entry)
            continue
        if not (entry / STUDY_FILE).exists():
            ignored.append(entry)
            continue
        try:
            check = verify_study(entry)
        except OSError as error:
            quarantined.append(Quarantined(entry, f"cannot be read: {error}"))
            continue
        if check.loadable:
            loadable.append(check)
        else:
            quarantined.append(Quarantined(entry, check.reason()))
    return StudyScan(loadable, quarantined, ignored)


def quarantine(study: StudyDir, path: Path) -> Path:
    """Move a bad part or stray entry to ``quarantine/`` (nothing a user put there is deleted)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    relative = _relative(path, study.path).replace(os.sep, "__")
    target = study.quarantine / f"{stamp}-{uuid.uuid4().hex[:6]}-{relative}"
    target.parent.mkdir(parents=True, exist_ok=True)
    files.move_into_place(path, target)
    return target


def missing_ranges(
    done: list[tuple[int, int]], n_scenarios: int, chunk_size: int
) -> list[tuple[int, int]]:
    """The scenario ranges still to run, cut into chunks of at most ``chunk_size``."""
    chunks = []
    cursor = 0
    for start, stop in [*sorted(done), (n_scenarios, n_scenarios)]:
        for begin in range(cursor, start, chunk_size):
            chunks.append((begin, min(begin + chunk_size, start)))
        cursor = max(cursor, stop)
    return chunks


def remove_temporaries(study: StudyDir) -> None:
    """Delete half-written parts left by killed workers (staged, never renamed into place)."""
    if study.parts.exists():
        for staged in filter(files.is_staged, study.parts.glob("*/*")):
            staged.unlink(missing_ok=True)


class StudyLocked(RuntimeError):
    """Another ``sweep run`` is writing this study."""


@contextlib.contextmanager
def study_lock(study: StudyDir) -> Iterator[None]:
    """Hold the study's write lock (``flock``; released when the process ends, even killed)."""
    study.path.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(files.held_lock(study.lock_file))
        except files.LockHeld as held:
            raise StudyLocked(
                f"{study.path}: another `migsys sweep run` is writing this study "
                f"({held.holder or 'another process'}); wait for it to finish, or stop it first"
            ) from None
        yield


def lock_holder(study: StudyDir) -> str | None:
    """Who holds the study's write lock, or None when no run is writing it."""
    holder = files.lock_holder(study.lock_file)
    return None if holder is None else holder or "another process"
