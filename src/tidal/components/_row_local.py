"""Whether a SQL query is row-local: each output row depends on one input row only, so it can run per partition.

DuckDB parses the query (``json_serialize_sql``); the check then walks the tree and accepts only a
plain ``SELECT ... FROM t1 [WHERE ...]`` whose expressions are column references, constants,
operators, casts, CASE and scalar functions that are not random. Anything else (aggregates,
window functions, subqueries, joins, ORDER BY, LIMIT, DISTINCT, WITH, a function it does not know)
gives the reason it is not, and the step runs as one query. The check errs on the side of
"not row-local": a false "yes" would change results, a false "no" only costs speed.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

#: expression classes that compute a value from the same row
_ROW_CLASSES = {
    "COLUMN_REF",
    "CONSTANT",
    "FUNCTION",
    "OPERATOR",
    "COMPARISON",
    "CONJUNCTION",
    "CASE",
    "CAST",
    "BETWEEN",
    "STAR",
    "LAMBDA",
    "LAMBDA_REF",
    "COLLATE",
    "TYPE",
}
#: scalar functions whose value is not a function of the row
_VOLATILE = {
    "random",
    "gen_random_uuid",
    "uuid",
    "uuidv4",
    "uuidv7",
    "nextval",
    "currval",
    "setseed",
}
#: the parts of a SELECT node this check understands; any other part that is set means "not row-local"
_KNOWN = {
    "type",
    "modifiers",
    "cte_map",
    "select_list",
    "from_table",
    "where_clause",
    "group_expressions",
    "group_sets",
    "aggregate_handling",
    "having",
    "sample",
    "qualify",
}


def is_row_local(con: duckdb.DuckDBPyConnection, query: str, table: str) -> str | None:
    """None when ``query`` only maps and filters rows of ``table``; else why it is not (for the node's log)."""
    try:
        row = con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
        tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    except (duckdb.Error, ValueError):
        return "its SQL could not be analysed"
    statements: list[dict[str, Any]] = tree.get("statements") or []
    if tree.get("error") or len(statements) != 1:
        return "its SQL could not be analysed"
    node = statements[0].get("node") or {}
    if node.get("type") != "SELECT_NODE":
        return "it combines several queries (UNION, EXCEPT, ...)"
    if node.get("modifiers"):
        return "it orders, limits or deduplicates rows (ORDER BY, LIMIT, DISTINCT)"
    if (node.get("cte_map") or {}).get("map"):
        return "it has a WITH clause"
    if (
        node.get("group_expressions")
        or node.get("group_sets")
        or node.get("having")
        or node.get("qualify")
        or node.get("aggregate_handling") != "STANDARD_HANDLING"
    ):
        return "it groups rows (GROUP BY, HAVING, QUALIFY)"
    if node.get("sample"):
        return "it samples rows"
    unknown = [
        key
        for key, value in node.items()
        if key not in _KNOWN and value not in (None, [], {}, "", False)
    ]
    if unknown:
        return f"it uses SQL this check does not know ({', '.join(sorted(unknown))})"
    source = node.get("from_table") or {}
    if (
        source.get("type") != "BASE_TABLE"
        or str(source.get("table_name", "")).lower() != table
        or source.get("schema_name")
        or source.get("catalog_name")
        or source.get("sample")
        or source.get("at_clause")
    ):
        return (
            f"it reads something other than {table} alone (a join, a subquery or a table function)"
        )
    scalar = {
        name
        for (name,) in con.execute(
            "SELECT function_name FROM duckdb_functions() GROUP BY function_name HAVING bool_and(function_type = 'scalar')"
        ).fetchall()
    }
    for part in (node.get("select_list"), node.get("where_clause")):
        reason = _expression_reason(part, scalar)
        if reason is not None:
            return reason
    return None


def _expression_reason(value: Any, scalar: set[str]) -> str | None:
    if isinstance(value, list):
        for item in value:
            reason = _expression_reason(item, scalar)
            if reason is not None:
                return reason
        return None
    if not isinstance(value, dict):
        return None
    kind = value.get("class")
    if kind is not None and kind not in _ROW_CLASSES:
        return f"it uses {'a window function' if kind == 'WINDOW' else 'a subquery' if kind == 'SUBQUERY' else kind.lower()}"
    if kind == "FUNCTION":
        name = str(value.get("function_name", "")).lower()
        if name not in scalar:
            return f"{name}() is not a scalar function (an aggregate, a macro or unknown)"
        if name in _VOLATILE:
            return f"{name}() gives a different value on every call"
        if (
            value.get("distinct")
            or value.get("filter")
            or (value.get("order_bys") or {}).get("orders")
        ):
            return f"{name}() has DISTINCT, FILTER or ORDER BY"
    for item in value.values():
        if isinstance(item, (dict, list)):
            reason = _expression_reason(item, scalar)
            if reason is not None:
                return reason
    return None
