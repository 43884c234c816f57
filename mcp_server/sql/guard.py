"""Only one SELECT: the statement is checked by DuckDB's own parser before anything runs.

Using the parser of the engine that will execute the text leaves no gap between what is
checked and what runs (a second parser could read a comment or a quote differently).
duckdb.extract_statements splits and classifies without binding or executing anything.
The sandbox is the second wall: even a SELECT can only read the data root.
"""

from __future__ import annotations

from shared.queries.paths import QueryError

MAX_SQL_CHARS = 8_000


def check_select(sql: str) -> str:
    """The statement, stripped of surrounding space and ';', or QueryError saying why not."""
    import duckdb  # here, not at import: registering the tool must not load DuckDB

    if not isinstance(sql, str) or not sql.strip():
        raise QueryError("sql is empty: give one SELECT statement")
    if len(sql) > MAX_SQL_CHARS:
        raise QueryError(f"sql is {len(sql)} characters, over the {MAX_SQL_CHARS}-character cap")
    if "\x00" in sql:
        raise QueryError("sql contains a NUL character")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"sql does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryError(f"one statement only, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(f"only SELECT is allowed, got {kind.name}")
    return sql.strip().rstrip(";").strip()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
