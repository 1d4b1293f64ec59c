"""Read-only SQL access to the published warehouse, by allow-list.

Every statement is parsed by DuckDB's own parser and accepted only if it reads: SELECT (which
covers WITH, VALUES, FROM-first queries, static PIVOT/UNPIVOT, DESCRIBE, SHOW and SUMMARIZE), a
dynamic PIVOT (which DuckDB rewrites into several statements, accepted only when the text is one
PIVOT query), a PRAGMA from a short list of ones that only report, and EXPLAIN [ANALYZE] of any of
these. Anything else is refused by name with the rule: ``EXPLAIN ANALYZE COPY … TO`` (which writes
a file even on a read-only connection), ``IMPORT DATABASE`` (which runs whatever its schema file
holds), ATTACH, INSTALL/LOAD, SET, CALL, COPY, EXPORT, every DDL and DML.

``open_read_only`` is the one way migsys opens a DuckDB file read-only: every entry point
(``migsys sql``, its prompt and TUI, ``migsys.connect()``) and every reader inside (the refresh's
checks of a build and of the published file, the report, studies' inputs, the bench): read-only,
with extension auto-install and auto-load off, so no query can download or load code. ``sandbox=True`` also turns off every file-system
and network access beyond the warehouse file and locks the configuration, for a served endpoint.
Because the refresh builds into a separate file and swaps it in with ``os.replace``, readers
never meet the writer's lock.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from migsys.warehouse.files import atomic_path
from migsys.warehouse.sql_output import csv_ready, json_text

OUTPUT_FORMATS = ("table", "csv", "json", "markdown", "line", "parquet")
FILE_FORMATS = ("csv", "json", "parquet")

# No query may download or load an extension: a SELECT on an unknown function or an https:// path
# must fail, not fetch code.
READ_ONLY_CONFIG: dict[str, bool | str] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
# ``migsys.connect()``: a Python caller gets the warehouse and nothing else: no file or URL
# (so no COPY … TO, no enable_logging to a file, no extension install), and no setting can be
# changed. Large queries may still spill to DuckDB's own temporary folder.
LOCKED_CONFIG: dict[str, bool | str] = {
    **READ_ONLY_CONFIG,
    "enable_external_access": False,  # no read_csv/glob/COPY/ATTACH/httpfs, local or remote
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "lock_configuration": True,  # SET/RESET/PRAGMA can no longer undo any of the above
}
# For any served endpoint: nothing outside the warehouse file, not even spill files.
SANDBOX_CONFIG: dict[str, bool | str] = {**LOCKED_CONFIG, "temp_directory": ""}

READ_RULE = (
    "`migsys sql` runs only statements that read: SELECT, WITH, VALUES, FROM, PIVOT, UNPIVOT, "
    "DESCRIBE, SHOW, SUMMARIZE, reporting PRAGMAs and EXPLAIN of those, calling only functions "
    "that read; the warehouse is rebuilt by `migsys refresh`, never edited in place"
)
# PRAGMAs that only report; any other PRAGMA (profiling, settings, checkpoints…) changes state.
READ_PRAGMAS = frozenset(
    {
        "collations",
        "database_list",
        "database_size",
        "functions",
        "metadata_info",
        "platform",
        "show",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "storage_info",
        "table_info",
        "user_agent",
        "version",
    }
)
# Functions that write, log, configure or run SQL text the allow-list cannot see, by name.
SIDE_EFFECT_FUNCTIONS = frozenset(
    {
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "write_log",
        "enable_profiling",
        "disable_profiling",
        "checkpoint",
        "force_checkpoint",
        "setval",
        "nextval",
        "query",
        "json_execute_serialized_sql",
        "add_grammar_extension",
        "remove_grammar_extension",
        "register_external_resource",
        "register_external_resource_type",
        "create_external_resource",
        "deregister_external_resource",
        "destroy_external_resource",
    }
)
# Table functions that only read (files, the catalog, generated rows). Any other table function
# is refused: a DuckDB release that adds one that writes or configures is refused until it is
# reviewed and listed here. Every ``duckdb_*`` catalog function reads.
READ_TABLE_FUNCTIONS = frozenset(
    {
        "generate_series",
        "glob",
        "histogram",
        "histogram_values",
        "icu_calendar_names",
        "json_each",
        "json_tree",
        "parquet_bloom_probe",
        "parquet_file_metadata",
        "parquet_full_metadata",
        "parquet_kv_metadata",
        "parquet_metadata",
        "parquet_page_index",
        "parquet_scan",
        "parquet_schema",
        "pg_timezone_names",
        "pragma_collations",
        "pragma_database_size",
        "pragma_metadata_info",
        "pragma_platform",
        "pragma_show",
        "pragma_storage_info",
        "pragma_table_info",
        "pragma_user_agent",
        "pragma_version",
        "query_table",
        "range",
        "read_blob",
        "read_csv",
        "read_csv_auto",
        "read_duckdb",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_parquet",
        "read_single_csv_file",
        "read_single_json_file",
        "read_single_parquet_file",
        "read_text",
        "repeat",
        "repeat_row",
        "sniff_csv",
        "summary",
        "test_all_types",
        "test_vector_types",
        "unnest",
        "which_secret",
    }
)
# Named arguments that send output to a file (enable_logging's storage_path, say).
FILE_WRITING_ARGUMENTS = frozenset({"storage", "storage_path", "output", "output_path"})
QUERY_STARTS = frozenset({"SELECT", "WITH", "FROM", "PIVOT", "PIVOT_WIDER", "VALUES", "("})
SKIPPED_TOKENS = {duckdb.token_type.comment}


class WarehouseMissing(FileNotFoundError):
    """No published warehouse yet."""


class WriteRefused(ValueError):
    """A statement that is not a read; the message names it and the rule."""


class OutputError(ValueError):
    """``--output`` cannot be written where asked."""


@dataclass(frozen=True)
class Word:
    """One token of a statement: its text upper-cased if it is a keyword."""

    position: int
    kind: duckdb.token_type
    text: str


def open_read_only(
    path: Path, *, sandbox: bool = False, locked: bool = False
) -> duckdb.DuckDBPyConnection:
    """A warehouse file (the published one, or a build), read-only, never installing or
    loading extensions.

    ``locked=True`` also shuts out every file and URL but the warehouse itself and locks the
    configuration (``LOCKED_CONFIG``, what ``migsys.connect()`` returns); ``sandbox=True`` on
    top of that leaves no temporary folder (``SANDBOX_CONFIG``).
    """
    path = Path(path)
    if not path.is_file():
        raise WarehouseMissing(
            f"no published warehouse at {path}: run `migsys refresh` first "
            "(or point MIGSYS_HOME at a folder that holds warehouse.duckdb)"
        )
    config = SANDBOX_CONFIG if sandbox else LOCKED_CONFIG if locked else READ_ONLY_CONFIG
    return duckdb.connect(str(path), read_only=True, config=dict(config))


def words(query: str) -> list[Word]:
    """DuckDB's tokens of ``query`` without comments, each with its text."""
    tokens = list(duckdb.tokenize(query))
    result = []
    for index, (position, kind) in enumerate(tokens):
        end = tokens[index + 1][0] if index + 1 < len(tokens) else len(query)
        if kind in SKIPPED_TOKENS:
            continue
        text = query[position:end].strip()
        if kind == duckdb.token_type.keyword:
            text = text.upper()
        result.append(Word(position, kind, text))
    return result


def statement_refusal(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> str | None:
    """None if ``statement`` only reads, else the name of what it is (e.g. "IMPORT DATABASE")."""
    kind = statement.type
    text = statement.query
    if kind == duckdb.StatementType.SELECT:
        return function_refusal(text)
    if kind == duckdb.StatementType.MULTI:
        prefix, inner = explained_statement(text)  # EXPLAIN of a dynamic PIVOT is MULTI too
        if is_pivot_rewrite(inner if inner is not None else text):
            return function_refusal(text)
        return statement_name(text) if inner is None else f"{prefix} {statement_name(inner)}"
    if kind == duckdb.StatementType.PRAGMA:
        return None if is_read_pragma(text) else statement_name(text)
    if kind == duckdb.StatementType.EXPLAIN:
        prefix, inner = explained_statement(text)
        if inner is None:
            return statement_name(text)
        inner_statements = con.extract_statements(inner)
        if len(inner_statements) != 1:
            return f"{prefix} of several statements"
        refusal = statement_refusal(con, inner_statements[0])
        return None if refusal is None else f"{prefix} {refusal}"
    return statement_name(text)


@functools.cache
def table_function_names() -> frozenset[str]:
    """Every table function and table macro this DuckDB build knows (built in: extensions are
    never auto-loaded on a read-only connection)."""
    con = duckdb.connect(config={"autoload_known_extensions": False})
    try:
        rows = con.execute(
            "select distinct lower(function_name) from duckdb_functions() "
            "where function_type in ('table', 'table_macro')"
        ).fetchall()
    finally:
        con.close()
    return frozenset(name for (name,) in rows)


def called_functions(text: str) -> list[tuple[str, list[str]]]:
    """Each function call of ``text`` (a name right before ``(``) with the names of its named
    arguments (``name := …`` or ``name = …`` directly inside its parentheses)."""
    tokens = words(text)
    calls: list[tuple[str, list[str]]] = []
    open_calls: list[int | None] = []  # per open parenthesis: its call's index, or None
    for position, word in enumerate(tokens):
        following = tokens[position + 1].text if position + 1 < len(tokens) else ""
        if word.text == "(":
            previous = tokens[position - 1] if position else None
            named = previous is not None and previous.kind in (
                duckdb.token_type.identifier,
                duckdb.token_type.keyword,
            )
            if named:
                calls.append((previous.text.strip('"').lower(), []))
            open_calls.append(len(calls) - 1 if named else None)
        elif word.text == ")":
            if open_calls:
                open_calls.pop()
        elif (
            open_calls
            and open_calls[-1] is not None
            and following in ("=", ":=")
            and word.kind in (duckdb.token_type.identifier, duckdb.token_type.keyword)
        ):
            calls[open_calls[-1]][1].append(word.text.strip('"').lower())
    return calls


def function_refusal(text: str) -> str | None:
    """None if every function ``text`` calls only reads, else what it calls.

    Refused: a function that writes, logs, configures or runs SQL text (``SIDE_EFFECT_FUNCTIONS``),
    a table function not known to read (``READ_TABLE_FUNCTIONS``), and any table function given
    an argument that sends output to a file (``FILE_WRITING_ARGUMENTS``).
    """
    table_functions = table_function_names()
    for name, arguments in called_functions(text):
        if name in SIDE_EFFECT_FUNCTIONS:
            return f"a call of {name}(), which writes, logs, configures or runs SQL text"
        if name not in table_functions:
            continue
        if not (name in READ_TABLE_FUNCTIONS or name.startswith("duckdb_")):
            return f"a call of the table function {name}(), which is not one that only reads"
        writing = sorted(set(arguments) & FILE_WRITING_ARGUMENTS)
        if writing:
            return f"a call of {name}() with {writing[0]} =, an argument that writes a file"
    return None


def statement_name(text: str) -> str:
    """What a statement is, from its leading keywords: "COPY", "IMPORT DATABASE", "SET"…"""
    leading = words(text)
    if not leading:
        return "an empty statement"
    name = [leading[0].text.upper()]
    if leading[0].text.upper() == "PRAGMA" and len(leading) > 1:
        return f"PRAGMA {leading[1].text}"
    if leading[0].text.upper() == "WITH":  # name the statement after its WITH list
        return f"WITH … {main_verb(leading) or 'an unknown statement'}"
    for word in leading[1:3]:
        if word.kind != duckdb.token_type.keyword or word.text in ("AS", "("):
            break
        name.append(word.text)
    return " ".join(name)


def explained_statement(text: str) -> tuple[str, str | None]:
    """("EXPLAIN ANALYZE", the statement it explains); (…, None) if ``text`` is no EXPLAIN."""
    tokens = words(text)
    if not tokens or tokens[0].text != "EXPLAIN":
        return "EXPLAIN", None
    prefix = ["EXPLAIN"]
    index = 1
    while index < len(tokens):
        word = tokens[index]
        if word.text == "ANALYZE":
            prefix.append("ANALYZE")
            index += 1
        elif word.text == "(":  # options: EXPLAIN (FORMAT json) …
            depth = 0
            while index < len(tokens):
                depth += {"(": 1, ")": -1}.get(tokens[index].text, 0)
                index += 1
                if depth == 0:
                    break
        else:
            return " ".join(prefix), text[word.position :]
    return " ".join(prefix), None


def is_pivot_rewrite(text: str) -> bool:
    """One query text holding a PIVOT: what DuckDB turns into several statements by itself.

    A dynamic PIVOT (no IN list) is parsed as several statements that first collect the pivot
    values. The user's text must still be a single query: its main verb (after any WITH list)
    is SELECT, FROM, VALUES or PIVOT, so ``WITH p AS (PIVOT …) INSERT …`` or ``CREATE TABLE …
    AS PIVOT …``, which DuckDB also parses as several statements, are refused.
    """
    tokens = words(text)
    if any(t.text == ";" for t in tokens[:-1]):
        return False
    verb = main_verb(tokens)
    if verb is None or verb not in QUERY_STARTS - {"WITH"}:
        return False
    return any(t.text.upper() in ("PIVOT", "PIVOT_WIDER") for t in tokens)


def main_verb(tokens: list[Word]) -> str | None:
    """The statement's verb: its first word, or after a WITH list the first word outside it."""
    if not tokens:
        return None
    first = tokens[0].text.upper()
    while first == "(" and len(tokens) > 1:  # a parenthesised query: (PIVOT …), ((SELECT …))
        tokens = tokens[1:]
        first = tokens[0].text.upper()
    if first != "WITH":
        return first
    depth = 0
    for word in tokens[1:]:
        if word.text == "(":
            depth += 1
        elif word.text == ")":
            depth -= 1
        elif (
            depth == 0
            and word.kind == duckdb.token_type.keyword
            and word.text not in ("RECURSIVE", "AS", "NOT", "MATERIALIZED", "USING", "KEY")
        ):
            return word.text
    return None


def is_read_pragma(text: str) -> bool:
    tokens = words(text)
    if len(tokens) < 2 or tokens[0].text != "PRAGMA":
        return False
    setting = any(t.text == "=" for t in tokens[2:])
    return tokens[1].text.lower() in READ_PRAGMAS and not setting


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> list[duckdb.Statement]:
    """Parse ``sql``; refuse, by name and with the rule, any statement that is not a read."""
    statements = con.extract_statements(sql)
    if not statements:
        raise ValueError("empty query: nothing to run")
    for number, statement in enumerate(statements, start=1):
        try:
            refusal = statement_refusal(con, statement)
        except ValueError:  # a statement type the Python binding cannot name (UPDATE EXTENSIONS)
            refusal = statement_name(statement.query)
        if refusal is not None:
            raise WriteRefused(
                f"statement {number} ({shorten(statement.query)}) is {refusal}: refused. "
                f"Rule: {READ_RULE}"
            )
    return statements


def shorten(query: str, width: int = 200) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def run_query(warehouse: Path, sql: str, *, sandbox: bool = False) -> pa.Table:
    """Run read-only ``sql`` on the published warehouse; the last statement's rows as Arrow."""
    con = open_read_only(warehouse, sandbox=sandbox)
    try:
        return query_connection(con, sql)
    finally:
        con.close()


def query_connection(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Check then run ``sql``; DuckDB errors come back reworded by ``friendly_error``."""
    statements = check_read_only(con, sql)
    try:
        for statement in statements[:-1]:
            con.execute(statement.query).fetchall()
        relation = con.sql(statements[-1].query)
        if relation is None:  # a statement that returns nothing
            return pa.table({})
        return relation.to_arrow_table()
    except duckdb.Error as error:
        message = friendly_error(con, error)
        try:
            reworded = type(error)(message)
        except TypeError:  # an exception class with a constructor of its own
            reworded = duckdb.Error(message)
        raise reworded from None


# --- errors analysts can act on ---------------------------------------------------------------

UNKNOWN_TABLE = re.compile(r"Table with name (?P<name>\S+) does not exist!")
DID_YOU_MEAN = re.compile(r"\n?Did you mean \"[^\"]*\"\??")


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables and views of the warehouse (schema.name), not DuckDB's system catalog."""
    rows = con.execute(
        """
        select schema_name, table_name from duckdb_tables()
        where not internal and not temporary and database_name = current_database()
        union
        select schema_name, view_name from duckdb_views()
        where not internal and not temporary and database_name = current_database()
        order by 1, 2
        """
    ).fetchall()
    return [f"{schema}.{name}" for schema, name in rows]


def suggest_tables(con: duckdb.DuckDBPyConnection, name: str, limit: int = 3) -> list[str]:
    """The warehouse's tables closest to ``name`` (bare or schema-qualified)."""
    tables = warehouse_tables(con)
    wanted = name.strip('"').lower()
    by_bare = {t.split(".", 1)[1].lower(): t for t in tables}
    bare = wanted.split(".")[-1]
    close = difflib.get_close_matches(bare, list(by_bare), n=limit, cutoff=0.5)
    return [by_bare[c] for c in close]


def friendly_error(con: duckdb.DuckDBPyConnection, error: duckdb.Error) -> str:
    """DuckDB's message, with table suggestions from the warehouse and extension advice fixed.

    DuckDB suggests the nearest name in its whole catalog (``pg_enum`` for a typo of a mart) and
    advises ``SET autoinstall_known_extensions=1``, which this read-only access refuses.
    """
    message = str(error)
    unknown = UNKNOWN_TABLE.search(message)
    if unknown:
        message = DID_YOU_MEAN.sub("", message)
        name = unknown.group("name")
        suggestions = suggest_tables(con, name)
        hint = (
            f"did you mean {', '.join(suggestions)}? "
            if suggestions
            else "no warehouse table has a similar name; "
        )
        message = message.replace(
            unknown.group(0),
            f"Table with name {name} does not exist in the warehouse: {hint}"
            "`.tables` in the prompt (or `SHOW ALL TABLES`) lists them.",
        )
    if "INSTALL " in message and "LOAD " in message:
        message = message.split("\n\n")[0] + (
            "\nmigsys sql does not install or load extensions (read-only access to the "
            "warehouse); query the warehouse's own tables."
        )
    return message


# --- writing results ---------------------------------------------------------------------------


def format_for_output(output: Path, fmt: str | None) -> str:
    """The file format: as given, else from the suffix of ``output``."""
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".")
        if suffix not in FILE_FORMATS:
            raise OutputError(
                f"--output {output}: cannot tell the format from the suffix {output.suffix!r}; "
                f"give --format ({', '.join(FILE_FORMATS)})"
            )
        return suffix
    if fmt not in FILE_FORMATS:
        raise OutputError(
            f"--format {fmt} cannot be written to a file; use one of {', '.join(FILE_FORMATS)}"
        )
    return fmt


def check_output_path(
    output: Path, *, refused_folders: tuple[Path, ...] = (), what: str = "--output"
) -> None:
    """The folder must exist (no silent mkdir at any depth), the path must not be a folder, and
    it must lie outside ``refused_folders`` (MIGSYS_HOME and the sources folder: a file written
    on request never replaces a source file, the warehouse or its state)."""
    output = Path(output)
    folder = output.parent
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(
            f"{what} {output}: folder {folder} {state}; create it first "
            "(migsys sql never creates folders)"
        )
    if output.is_dir():
        raise OutputError(f"{what} {output} is a folder; give a file name")
    target = output.resolve()
    for refused in refused_folders:
        refused = Path(refused).resolve()
        if target == refused or target.is_relative_to(refused):
            raise OutputError(
                f"{what} {output} is inside {refused}, where migsys keeps the warehouse, its "
                "state or the source files: files asked for by `migsys sql` are never written "
                "there; choose a folder outside it"
            )


def write_table(
    table: pa.Table, output: Path, fmt: str, *, refused_folders: tuple[Path, ...] = ()
) -> Path:
    """Write ``table`` to ``output`` atomically (temporary file + rename) in ``fmt``.

    Lists, structs and maps become JSON text in CSV and stay native in Parquet and JSON. The file
    gets the permissions of any file the user creates (0666 less the umask), never the 0600 of a
    temporary file.
    """
    if fmt not in FILE_FORMATS:
        raise OutputError(f"--format must be one of {', '.join(FILE_FORMATS)} (got {fmt!r})")
    output = Path(output)
    check_output_path(output, refused_folders=refused_folders)
    with atomic_path(output) as temporary:
        if fmt == "csv":
            pa_csv.write_csv(csv_ready(table), temporary)
        elif fmt == "parquet":
            pq.write_table(table, temporary)
        else:
            temporary.write_text(json_text(table, indent=1), encoding="utf-8")
    return output
