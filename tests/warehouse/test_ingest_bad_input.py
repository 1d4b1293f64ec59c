"""Each kind of bad input, made by copying the real files and damaging one of them.

Every test checks three things: the problem is named (file, line, rule) in the report's text,
the damaged file loads nothing when the whole file is unusable (or only loses the bad row), and
the other sources' good rows are still loaded.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from migsys.warehouse.ingest import IngestReject, IngestReport, ingest_sources
from migsys.warehouse.sources import SOURCES, SOURCES_BY_ID, Source, registered_files

pytestmark = pytest.mark.real_data

CENSUS_2000 = "inegi/censo_2000.csv"
CONAPO_2000 = "conapo/iim_2000_municipal.csv"


# The slowest files to parse (World Bank population, the INEGI 1990-2010 series, the municipal
# remittances, the boundaries) are left out of most cases to keep this module fast; the
# stray-file case runs on the whole registry, the cases of the 2020 files on what they need.
HEAVY_SOURCES = frozenset(
    {
        "worldbank_population",
        "inegi_census_series",
        "banxico_remittances_municipal",
        "inegi_municipal_boundaries",
    }
)
TEST_SOURCES = tuple(s for s in SOURCES if s.id not in HEAVY_SOURCES)
MUNICIPAL_REMITTANCES = "banxico/remesas_municipio.csv"
CENSUS_2020 = "inegi/censo_2020.csv"
# The files of the 2020 cases: the census (its keys), the municipal remittances, CONAPO 2020.
SOURCES_2020 = tuple(
    SOURCES_BY_ID[i]
    for i in (
        "inegi_census",
        "conapo_iim_2000",
        "conapo_iim_2020",
        "banxico_remittances_municipal",
        "inegi_municipal_boundaries",
    )
)
BOUNDARIES = "inegi/municipios_2020.topojson"


def _copy_sources(real_sources: Path, folder: Path, sources: tuple[Source, ...]) -> Path:
    for file_name in registered_files(sources):
        (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real_sources / file_name, folder / file_name)
    return folder


@pytest.fixture()
def sources(real_sources: Path, tmp_path: Path) -> Path:
    """A writable copy of the real files of ``TEST_SOURCES`` (the originals are never touched)."""
    return _copy_sources(real_sources, tmp_path / "sources", TEST_SOURCES)


@pytest.fixture()
def all_sources(real_sources: Path, tmp_path: Path) -> Path:
    return _copy_sources(real_sources, tmp_path / "sources", SOURCES)


@pytest.fixture()
def sources_2020(real_sources: Path, tmp_path: Path) -> Path:
    return _copy_sources(real_sources, tmp_path / "sources", SOURCES_2020)


# ---- damaging helpers --------------------------------------------------------------------


def rewrite(folder: Path, file_name: str, transform: Callable[[bytes], bytes]) -> None:
    path = folder / file_name
    path.write_bytes(transform(path.read_bytes()))


def edit_cells(
    folder: Path,
    file_name: str,
    line_number: int,
    edit: Callable[[list[str]], list[str]],
    *,
    encoding: str,
    quote_all: bool,
) -> str:
    """Rewrite one physical line through ``edit`` of its cells; return the new line text."""
    path = folder / file_name
    data = path.read_bytes()
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    lines = data.split(newline)
    cells = next(csv.reader([lines[line_number - 1].decode(encoding)]))
    new_cells = edit(cells)
    quote = '"' if quote_all else ""  # INEGI quotes every cell
    text = ",".join(f"{quote}{cell}{quote}" for cell in new_cells)
    lines[line_number - 1] = text.encode(encoding)
    path.write_bytes(newline.join(lines))
    return text


def edit_inegi(folder: Path, file_name: str, line_number: int, edit) -> str:
    return edit_cells(folder, file_name, line_number, edit, encoding="cp1252", quote_all=True)


def edit_plain(folder: Path, file_name: str, line_number: int, edit, encoding="utf-8") -> str:
    return edit_cells(folder, file_name, line_number, edit, encoding=encoding, quote_all=False)


def set_cell(index: int, value: str) -> Callable[[list[str]], list[str]]:
    def edit(cells: list[str]) -> list[str]:
        return [value if i == index else cell for i, cell in enumerate(cells)]

    return edit


# ---- checking helpers --------------------------------------------------------------------


def ingest(
    folder: Path, sources: tuple[Source, ...] = TEST_SOURCES
) -> tuple[duckdb.DuckDBPyConnection, IngestReport]:
    con = duckdb.connect()
    return con, ingest_sources(con, folder, sources=sources)


def the_reject(report: IngestReport, file_name: str, rule: str, line: int | None) -> IngestReject:
    """The report names the file, line and rule, in its data and in its text."""
    assert not report.ok
    matches = [
        r for r in report.rejects if (r.file_name, r.rule, r.line_number) == (file_name, rule, line)
    ]
    assert matches, f"no {rule} at {file_name} line {line} in:\n{report.format_problems()}"
    where = file_name if line is None else f"{file_name} line {line}"
    assert f"{where}: {rule}: " in report.format_problems()
    return matches[0]


def assert_others_loaded(con, report: IngestReport, *damaged: str) -> None:
    for file_name, source in registered_files(
        tuple(SOURCES_BY_ID[f.source_id] for f in report.files)
    ).items():
        if file_name in damaged or not source.ingested:
            continue
        stats = report.stats_for(file_name)
        assert stats.status == "loaded" and stats.rows_rejected == 0, stats
        (count,) = con.execute(
            f"select count(*) from raw.{source.id} where file_name = ?", [file_name]
        ).fetchall()[0]
        assert count == stats.rows_loaded > 0


def assert_file_failed(con, report: IngestReport, file_name: str) -> None:
    stats = report.stats_for(file_name)
    assert (stats.status, stats.rows_loaded) == ("failed", 0)
    assert stats.rows_read == stats.rows_rejected
    source_id = registered_files()[file_name].id
    assert con.execute(
        f"select count(*) from raw.{source_id} where file_name = ?", [file_name]
    ).fetchall() == [(0,)]
    stored = con.execute(
        "select status, rows_loaded from raw.source_files where file_name = ?", [file_name]
    ).fetchall()
    assert stored == [("failed", 0)]


def assert_row_rejected(
    con, report: IngestReport, file_name: str, line: int, original: str
) -> None:
    """Only the bad line is missing; the reject keeps the original line text."""
    stats = report.stats_for(file_name)
    assert stats.status == "loaded" and stats.rows_rejected >= 1
    assert stats.rows_read == stats.rows_loaded + stats.rows_rejected
    source_id = registered_files()[file_name].id
    loaded_lines = {
        n
        for (n,) in con.execute(
            f"select line_number from raw.{source_id} where file_name = ?", [file_name]
        ).fetchall()
    }
    assert line not in loaded_lines and len(loaded_lines) > 1000
    stored = con.execute(
        "select original_line from raw.rejects where file_name = ? and line_number = ?",
        [file_name, line],
    ).fetchall()
    assert (original,) in stored


# ---- file-level problems -----------------------------------------------------------------


def test_empty_file(sources: Path) -> None:
    rewrite(sources, CENSUS_2000, lambda _: b"")
    con, report = ingest(sources)
    the_reject(report, CENSUS_2000, "file.empty", None)
    assert_file_failed(con, report, CENSUS_2000)
    assert_others_loaded(con, report, CENSUS_2000)


def test_inegi_file_re_encoded_as_utf16(sources: Path) -> None:
    name = "inegi/censo_2005.csv"
    rewrite(sources, name, lambda data: data.decode("cp1252").encode("utf-16"))
    con, report = ingest(sources)
    reject = the_reject(report, name, "file.encoding", 1)
    assert "UTF-16" in reject.message
    assert_file_failed(con, report, name)
    assert_others_loaded(con, report, name)


def test_inegi_file_re_saved_as_utf8(sources: Path) -> None:
    name = "inegi/censo_2010.csv"
    rewrite(sources, name, lambda data: data.decode("cp1252").encode("utf-8"))
    con, report = ingest(sources)
    reject = the_reject(report, name, "file.encoding", 1)
    assert "UTF-8" in reject.message and "cp1252" in reject.message
    assert_file_failed(con, report, name)
    assert_others_loaded(con, report, name)


def test_invalid_bytes_in_a_utf8_file(sources: Path) -> None:
    # Line 5 of the CONAPO 2000 file is Cosío's: replace its name by an undecodable byte.
    rewrite(sources, CONAPO_2000, lambda data: data.replace("Cosío".encode(), b"Cos\xffo"))
    con, report = ingest(sources)
    reject = the_reject(report, CONAPO_2000, "file.encoding", 5)
    assert "0xff" in reject.message
    assert_file_failed(con, report, CONAPO_2000)
    assert_others_loaded(con, report, CONAPO_2000)


def test_renamed_column(sources: Path) -> None:
    rewrite(sources, CONAPO_2000, lambda data: data.replace(b"TOT_HUO", b"HOUSEHOLDS", 1))
    con, report = ingest(sources)
    reject = the_reject(report, CONAPO_2000, "file.missing_column", 1)
    assert "TOT_HUO" in reject.message and "HOUSEHOLDS" in reject.message
    assert_file_failed(con, report, CONAPO_2000)
    assert_others_loaded(con, report, CONAPO_2000)


def test_missing_column_in_inegi_header(sources: Path) -> None:
    # Header of censo_2000.csv is line 5: "","","Total","Hombres","Mujeres","".
    edit_inegi(sources, CENSUS_2000, 5, lambda cells: cells[:4])
    con, report = ingest(sources)
    the_reject(report, CENSUS_2000, "file.missing_column", 5)
    assert_file_failed(con, report, CENSUS_2000)
    assert_others_loaded(con, report, CENSUS_2000)


def test_truncated_inegi_file(sources: Path) -> None:
    name = "inegi/censo_2010.csv"
    rewrite(sources, name, lambda data: data[: len(data) // 2])  # cut mid-line, no footnote
    con, report = ingest(sources)
    (reject,) = [r for r in report.rejects if r.file_name == name]
    assert reject.rule == "file.truncated" and reject.line_number > 1000
    the_reject(report, name, "file.truncated", reject.line_number)
    assert_file_failed(con, report, name)
    assert_others_loaded(con, report, name)


def test_inegi_file_cut_at_a_line_end(sources: Path) -> None:
    # Whole lines, so every row parses: only the missing "Fuente:" footnote gives it away.
    def keep_first_lines(data: bytes) -> bytes:
        return b"\r\n".join(data.split(b"\r\n")[:1500]) + b"\r\n"

    rewrite(sources, CENSUS_2000, keep_first_lines)
    con, report = ingest(sources)
    the_reject(report, CENSUS_2000, "file.truncated", 1500)
    assert_file_failed(con, report, CENSUS_2000)
    assert_others_loaded(con, report, CENSUS_2000)


def test_csv_file_cut_mid_line(sources: Path) -> None:
    name = "conapo/IIM2010_BASEMUN.csv"
    data = (sources / name).read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 20  # 20 bytes into a line
    rewrite(sources, name, lambda d: d[:cut])
    last_line = data[:cut].count(b"\n") + 1
    con, report = ingest(sources)
    the_reject(report, name, "file.truncated", last_line)
    assert_file_failed(con, report, name)
    assert_others_loaded(con, report, name)


@pytest.mark.parametrize(
    "source",
    [s for s in SOURCES if s.ingested and s.completeness.final_line_break],
    ids=lambda s: s.id,
)
def test_file_cut_inside_its_last_number_is_truncated(source: Source, real_sources: Path) -> None:
    """8 bytes off the end: the last line may still parse (``2024-12-01,2``), the missing final
    line break is what gives the cut away, for every source whose publisher writes one."""
    from migsys.warehouse.ingest import parse_source_file

    for file_name in source.files:
        data = (real_sources / file_name).read_bytes()
        assert data.endswith(b"\n"), f"{file_name}: the registry says it ends with a line break"
        result = parse_source_file(source, data[:-8], file_name)
        truncated = [r for r in result.rejects if r.rule == "file.truncated"]
        assert result.failed and truncated, (file_name, result.rejects[:3])
        last_line = data[:-8].count(b"\n") + 1
        assert truncated[0].line_number == last_line
        last = data[:-8].rsplit(b"\n", 1)[-1]
        shown = truncated[0].original_line
        # the line as the file's own encoding reads it (UTF-8, or cp1252 for INEGI's exports)
        assert shown in (last.decode("utf-8", "replace"), last.decode("cp1252", "replace")), (
            shown,
            last,
        )
        assert result.rows == [] and result.rows_rejected == result.rows_read


def test_a_cut_exchange_rate_is_refused_not_published_as_a_fraction(sources: Path) -> None:
    """The case of issue 17: `2024-12-01,20.2671` cut to `2024-12-01,2` parsed as a rate of 2."""
    name = "banxico/usdmxn_mensual.csv"
    rewrite(sources, name, lambda data: data[:-8])
    con, report = ingest(sources)
    reject = the_reject(report, name, "file.truncated", 409)
    assert reject.original_line == "2024-12-01,2" and "'2024-12-01,2'" in reject.message
    assert_file_failed(con, report, name)
    assert_others_loaded(con, report, name)


def test_files_without_a_final_line_break_still_load(real_sources: Path) -> None:
    """worldbank/gdp.csv is published without one: it loads as it is (its plausibility tests and
    the publish guard judge a cut there)."""
    from migsys.warehouse.ingest import parse_source_file

    source = SOURCES_BY_ID["worldbank_gdp"]
    data = (real_sources / "worldbank/gdp.csv").read_bytes()
    assert not data.endswith(b"\n")
    result = parse_source_file(source, data, "worldbank/gdp.csv")
    assert not result.rejects and len(result.rows) >= source.completeness.min_rows


def test_inegi_export_pasted_after_another_is_refused(sources: Path) -> None:
    """Every line after the footnote used to be skipped as footnote text, so a second export
    pasted below the first (another year, or the same file twice) was dropped without a word."""
    first = (sources / CENSUS_2000).read_bytes()
    second = (sources / "inegi/censo_2005.csv").read_bytes()
    header = next(i for i, line in enumerate(second.split(b"\r\n")) if b'"Total"' in line)
    rewrite(sources, CENSUS_2000, lambda data: data + second)
    con, report = ingest(sources)
    reject = the_reject(report, CENSUS_2000, "file.after_end", first.count(b"\n") + header + 1)
    assert "Total" in reject.original_line
    assert_file_failed(con, report, CENSUS_2000)
    assert_others_loaded(con, report, CENSUS_2000)


def test_stray_carriage_return_inside_a_line_is_named_with_its_line(sources: Path) -> None:
    """The CSV reader cannot split such a line; its error named no file or line (issue 17)."""
    name = "banxico/remesas_mensuales.csv"
    data = (sources / name).read_bytes()
    at = data.index(b"\n", len(data) // 2) + 5  # 4 characters into a line
    rewrite(sources, name, lambda d: d[:at] + b"\r" + d[at:])
    con, report = ingest(sources)
    line = data[:at].count(b"\n") + 1
    reject = the_reject(report, name, "file.malformed_line", line)
    assert "column 5" in reject.message
    assert_file_failed(con, report, name)
    assert_others_loaded(con, report, name)


# ---- row-level problems ------------------------------------------------------------------


def test_duplicated_municipality_key(sources: Path) -> None:
    # Line 9 is " 01 002 " (Asientos); give it the key of line 8 (" 01 001 ").
    original = edit_inegi(sources, CENSUS_2000, 9, set_cell(0, " 01 001 "))
    con, report = ingest(sources)
    reject = the_reject(report, CENSUS_2000, "key.duplicate", 9)
    assert "line 8" in reject.message
    assert_row_rejected(con, report, CENSUS_2000, 9, original)
    assert_others_loaded(con, report, CENSUS_2000)


def test_non_numeric_count(sources: Path) -> None:
    name = "inegi/censo_2010.csv"
    original = edit_inegi(sources, name, 9, set_cell(3, "7,6x1"))
    con, report = ingest(sources)
    reject = the_reject(report, name, "value.not_numeric", 9)
    assert reject.field == "male" and "7,6x1" in reject.message
    assert_row_rejected(con, report, name, 9, original)
    assert_others_loaded(con, report, name)


def test_negative_population(sources: Path) -> None:
    original = edit_inegi(sources, CENSUS_2000, 17, set_cell(2, "-5"))
    con, report = ingest(sources)
    reject = the_reject(report, CENSUS_2000, "value.negative", 17)
    assert reject.field == "total" and "-5" in reject.message
    assert f"{CENSUS_2000} line 17: value.negative: total is -5" in report.format_problems()
    assert_row_rejected(con, report, CENSUS_2000, 17, original)
    assert_others_loaded(con, report, CENSUS_2000)


def test_unknown_state_key_in_inegi(sources: Path) -> None:
    name = "inegi/censo_2005.csv"
    original = edit_inegi(sources, name, 8, set_cell(0, " 33 002 "))
    con, report = ingest(sources)
    reject = the_reject(report, name, "key.unknown_state", 8)
    assert "33" in reject.message
    assert_row_rejected(con, report, name, 8, original)
    assert_others_loaded(con, report, name)


def test_unknown_state_key_in_banxico(sources: Path) -> None:
    name = "banxico/remesas_entidad.csv"
    edit_plain(sources, name, 2, set_cell(1, "35"))
    con, report = ingest(sources)
    reject = the_reject(report, name, "key.unknown_state", 2)
    assert reject.field == "CVE_ENT"
    stats = report.stats_for(name)
    assert (stats.rows_loaded, stats.rows_rejected) == (stats.rows_read - 1, 1)
    assert_others_loaded(con, report, name)


def test_indicator_above_100_percent(sources: Path) -> None:
    original = edit_plain(sources, CONAPO_2000, 2, set_cell(4, "104.2"))
    con, report = ingest(sources)
    reject = the_reject(report, CONAPO_2000, "value.pct_range", 2)
    assert reject.field == "HOU_REM" and "[0, 100]" in reject.message
    assert_row_rejected(con, report, CONAPO_2000, 2, original)
    assert_others_loaded(con, report, CONAPO_2000)


def test_municipal_rows_not_adding_up_to_the_state(sources: Path) -> None:
    # Add 10 men to Aguascalientes municipality (line 8), keeping its own total = male + female.
    def add_ten_men(cells: list[str]) -> list[str]:
        total, male = (int(c.replace(",", "")) + 10 for c in cells[2:4])
        return [cells[0], cells[1], f"{total:,}", f"{male:,}", cells[4]]

    edit_inegi(sources, CENSUS_2000, 8, add_ten_men)
    con, report = ingest(sources)
    # The state row (line 7) is the one that no longer matches its municipalities.
    reject = the_reject(report, CENSUS_2000, "total.mismatch", 7)
    assert "-10" in reject.message
    assert_others_loaded(con, report, CENSUS_2000)


def test_total_not_male_plus_female(sources: Path) -> None:
    original = edit_inegi(sources, CENSUS_2000, 10, set_cell(2, "51,292"))
    con, report = ingest(sources)
    the_reject(report, CENSUS_2000, "value.sex_sum", 10)
    assert_row_rejected(con, report, CENSUS_2000, 10, original)
    assert_others_loaded(con, report, CENSUS_2000)


def test_row_with_an_extra_field(sources: Path) -> None:
    name = "worldbank/gdp.csv"
    original = edit_plain(sources, name, 3, lambda cells: [*cells, "1"])
    con, report = ingest(sources)
    reject = the_reject(report, name, "row.field_count", 3)
    assert "5 fields, expected 4" in reject.message
    assert_row_rejected(con, report, name, 3, original)
    assert_others_loaded(con, report, name)


# ---- the sources folder ------------------------------------------------------------------


def test_stray_file_names_are_reported(all_sources: Path) -> None:
    sources = all_sources
    shutil.copyfile(sources / CENSUS_2000, sources / "inegi" / "censo_2000 (1).csv")
    (sources / "notes.txt").write_text("not a source\n")
    (sources / ".DS_Store").write_bytes(b"\0")  # dotfiles, README and manifests are fine
    (sources / "README.md").write_text("# sources\n")
    (sources / "MANIFEST.sha256").write_text("")
    con, report = ingest(sources, SOURCES)
    assert len(report.files) == len(registered_files())
    stray = the_reject(report, "inegi/censo_2000 (1).csv", "source.stray_file", None)
    assert "inegi/censo_2000.csv" in stray.message  # names the expected files
    the_reject(report, "notes.txt", "source.stray_file", None)
    assert len(report.rejects) == 2
    assert_others_loaded(con, report)
    stored = con.execute("select file_name from raw.rejects order by 1").fetchall()
    assert stored == [("inegi/censo_2000 (1).csv",), ("notes.txt",)]


def test_renamed_file_is_absent_and_stray(sources: Path) -> None:
    name = "inegi/censo_2005.csv"
    (sources / name).rename(sources / "inegi" / "Censo_2005.csv")
    con, report = ingest(sources)
    assert report.stats_for(name).status == "absent"
    assert report.absent_sources == ["inegi_census"]
    the_reject(report, "inegi/Censo_2005.csv", "source.stray_file", None)
    assert_others_loaded(con, report, name)


# ---- the 2020 files ----------------------------------------------------------------------


def test_remittance_quarter_column_that_does_not_parse(sources_2020: Path) -> None:
    """A renamed quarter column makes the whole file unusable: every value sits under it."""
    rewrite(
        sources_2020,
        MUNICIPAL_REMITTANCES,
        lambda data: data.replace(b"Abr-Jun 2014", b"Abr-Jun 14", 1),
    )
    con, report = ingest(sources_2020, SOURCES_2020)
    reject = the_reject(report, MUNICIPAL_REMITTANCES, "file.format", 1)
    assert reject.field == "Abr-Jun 14" and "column 7" in reject.message
    assert_file_failed(con, report, MUNICIPAL_REMITTANCES)
    assert_others_loaded(con, report, MUNICIPAL_REMITTANCES)


def test_remittance_quarters_out_of_order(sources_2020: Path) -> None:
    rewrite(
        sources_2020,
        MUNICIPAL_REMITTANCES,
        lambda data: data.replace(b"Jul-Sep 2013", b"Jul-Sep 2012", 1),
    )
    con, report = ingest(sources_2020, SOURCES_2020)
    reject = the_reject(report, MUNICIPAL_REMITTANCES, "file.format", 1)
    assert "without gaps or repeats" in reject.message
    assert_file_failed(con, report, MUNICIPAL_REMITTANCES)


def test_municipal_remittances_not_adding_up_to_the_state(sources_2020: Path) -> None:
    # Line 3 is the municipality of Aguascalientes, under the state row on line 2.
    edit_plain(sources_2020, MUNICIPAL_REMITTANCES, 3, set_cell(1, "41.690177"))
    con, report = ingest(sources_2020, SOURCES_2020)
    reject = the_reject(report, MUNICIPAL_REMITTANCES, "total.mismatch", 2)
    assert reject.field == "Ene-Mar 2013" and "difference -0.999999" in reject.message
    assert "'Aguascalientes'" in reject.message
    assert_others_loaded(con, report, MUNICIPAL_REMITTANCES)


def test_remittance_row_without_its_bullet(sources_2020: Path) -> None:
    original = edit_plain(
        sources_2020, MUNICIPAL_REMITTANCES, 4, lambda cells: ["Asientos", *cells[1:]]
    )
    con, report = ingest(sources_2020, SOURCES_2020)
    reject = the_reject(report, MUNICIPAL_REMITTANCES, "key.format", 4)
    assert reject.field == "Municipio" and "'Asientos'" in reject.message
    assert_row_rejected(con, report, MUNICIPAL_REMITTANCES, 4, original)


def test_municipality_named_twice_in_a_state(sources_2020: Path) -> None:
    # Line 4 (Asientos) renamed as line 3 (Aguascalientes), values unchanged: sums still hold.
    edit_plain(
        sources_2020,
        MUNICIPAL_REMITTANCES,
        4,
        lambda cells: ["\u2003\u2003\u26ac\u2002Aguascalientes", *cells[1:]],
    )
    con, report = ingest(sources_2020, SOURCES_2020)
    reject = the_reject(report, MUNICIPAL_REMITTANCES, "key.duplicate", 4)
    assert "already on line 3" in reject.message


def test_remittance_file_cut_mid_line(sources_2020: Path) -> None:
    rewrite(sources_2020, MUNICIPAL_REMITTANCES, lambda data: data[: len(data) - 40])
    con, report = ingest(sources_2020, SOURCES_2020)
    the_reject(report, MUNICIPAL_REMITTANCES, "file.truncated", 2521)
    assert_file_failed(con, report, MUNICIPAL_REMITTANCES)


def _state_line(folder: Path, file_name: str, key_cell: str) -> int:
    text = (folder / file_name).read_bytes().decode("cp1252")
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(key_cell))


def test_census_2020_state_total_disagreeing_with_its_rows(sources_2020: Path) -> None:
    """censo_2020.csv orders municipalities by name: the sums are still checked per state."""
    state_line = _state_line(sources_2020, CENSUS_2020, '"=CONCATENAR(0,01)')

    def ten_more_men(cells: list[str]) -> list[str]:
        total, male = (int(c.replace(",", "")) + 10 for c in cells[2:4])
        return [cells[0], cells[1], f"{total:,}", f"{male:,}", cells[4]]

    edit_inegi(sources_2020, CENSUS_2020, state_line, ten_more_men)
    con, report = ingest(sources_2020, SOURCES_2020)
    reject = the_reject(report, CENSUS_2020, "total.mismatch", state_line)
    assert "difference +10" in reject.message
    assert_others_loaded(con, report, CENSUS_2020)


def test_census_2020_municipality_missing_from_its_state(sources_2020: Path) -> None:
    path = sources_2020 / CENSUS_2020
    lines = path.read_bytes().split(b"\r\n")
    state_line = _state_line(sources_2020, CENSUS_2020, '"=CONCATENAR(0,01)')
    path.write_bytes(b"\r\n".join(line for line in lines if not line.startswith(b'" 01 002 "')))
    con, report = ingest(sources_2020, SOURCES_2020)
    reject = the_reject(report, CENSUS_2020, "total.mismatch", state_line)
    assert "difference +51,536" in reject.message  # Asientos, no longer among the state's rows
    # ... and a boundary with Asientos' key no longer matches a municipality of the census.
    the_reject(report, BOUNDARIES, "key.unknown_municipality", 1)
    assert_others_loaded(con, report, CENSUS_2020, BOUNDARIES)


def test_boundary_key_not_in_the_census(sources_2020: Path) -> None:
    """A geometry keyed to a municipality the 2020 census does not have: the whole file is
    refused (keyed to another vintage), the key named with its position; the rest loads."""
    rewrite(sources_2020, BOUNDARIES, lambda data: data.replace(b'"id":"01003"', b'"id":"01099"'))
    con, report = ingest(sources_2020, SOURCES_2020)
    reject = the_reject(report, BOUNDARIES, "key.unknown_municipality", 1)
    assert reject.field == "properties.id"
    assert "'01099' is not a municipality of the 2020 census (inegi/censo_2020.csv)" in (
        reject.message
    )
    assert reject.message.startswith("geometry ") and " of objects.municipios: " in reject.message
    assert_file_failed(con, report, BOUNDARIES)
    assert_others_loaded(con, report, BOUNDARIES)


def test_boundaries_cut_during_download(sources_2020: Path) -> None:
    rewrite(sources_2020, BOUNDARIES, lambda data: data[: len(data) // 2])
    con, report = ingest(sources_2020, SOURCES_2020)
    the_reject(report, BOUNDARIES, "file.truncated", 1)
    assert_file_failed(con, report, BOUNDARIES)
    assert_others_loaded(con, report, BOUNDARIES)
