"""Slice filters: a small condition language over columns, parsed with Python's `ast` and checked node by node.

Only comparisons, `in`/`not in` lists, `and`/`or`/`not`, column names and literals are accepted; nothing is ever
evaluated here (the runtime applies the checked tree to a frame), so a filter cannot run code.
"""

from __future__ import annotations

import ast
from typing import Any

from mlform.specs.errors import MlformError, SpecError

__all__ = ["FilterSyntaxError", "columns_of", "parse_filter"]

_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.In: "in", ast.NotIn: "not in"}
_LITERALS = (str, int, float, bool, type(None))


class FilterSyntaxError(SpecError):
    """A filter that is not in the language; `offset` is the 0-based character where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        # a finding, not a whole SpecError: the review check turns it into a located diagnostic
        MlformError.__init__(self, message)
        self.diagnostics = []
        self.message, self.offset = message, offset

    def __str__(self) -> str:
        return self.message


def _refused(node: ast.expr) -> FilterSyntaxError:
    what = {ast.Call: "a function call", ast.Attribute: "an attribute", ast.Subscript: "indexing",
            ast.BinOp: "arithmetic", ast.Lambda: "a lambda"}.get(type(node), f"`{type(node).__name__}`")
    return FilterSyntaxError(f"{what} is not allowed in a filter (comparisons, `in`, `and`, `or`, `not` only)",
                             node.col_offset)


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, _LITERALS):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, int | float) and not isinstance(node.operand.value, bool):
        return -node.operand.value
    if isinstance(node, ast.Constant | ast.Name | ast.UnaryOp):
        raise FilterSyntaxError("expected a number, a string, `True`, `False` or `None`", node.col_offset)
    raise _refused(node)


def _operand(node: ast.expr) -> tuple[str, Any]:
    """("column", name), ("value", literal) or ("list", [literals])."""
    if isinstance(node, ast.Name):
        return "column", node.id
    if isinstance(node, ast.List | ast.Tuple):
        return "list", [_literal(item) for item in node.elts]
    return "value", _literal(node)


def _compare(node: ast.Compare) -> tuple[Any, ...]:
    parts = []
    left = node.left
    for op, right in zip(node.ops, node.comparators, strict=True):
        symbol = _COMPARE.get(type(op))
        if symbol is None:
            raise FilterSyntaxError(f"`{type(op).__name__}` is not a comparison filters allow", right.col_offset)
        a, b = _operand(left), _operand(right)
        if symbol in ("in", "not in") and b[0] != "list":
            raise FilterSyntaxError(f"`{symbol}` needs a list, e.g. `['US', 'CA']`", right.col_offset)
        if symbol not in ("in", "not in") and "list" in (a[0], b[0]):
            raise FilterSyntaxError(f"`{symbol}` compares single values; use `in` for a list", right.col_offset)
        if a[0] != "column" and b[0] != "column":
            raise FilterSyntaxError("a comparison needs a column on one side", left.col_offset)
        parts.append(("compare", symbol, a, b))
        left = right
    return parts[0] if len(parts) == 1 else ("and", *parts)


def _tree(node: ast.expr) -> tuple[Any, ...]:
    if isinstance(node, ast.BoolOp):
        return ("and" if isinstance(node.op, ast.And) else "or", *(_tree(v) for v in node.values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ("not", _tree(node.operand))
    if isinstance(node, ast.Compare):
        return _compare(node)
    if isinstance(node, ast.Name):  # a boolean column on its own
        return ("compare", "==", ("column", node.id), ("value", True))
    raise _refused(node)


def parse_filter(text: str) -> tuple[Any, ...]:
    """The checked tree of a filter: nested tuples `("and"|"or", ...)`, `("not", t)`, `("compare", op, a, b)`."""
    body = text.strip()
    lead = len(text) - len(text.lstrip())
    if "\n" in body:
        raise FilterSyntaxError("a filter is one line", lead + body.index("\n"))
    try:
        return _tree(ast.parse(body, mode="eval").body)
    except SyntaxError as exc:
        raise FilterSyntaxError(f"invalid filter: {exc.msg}", lead + max((exc.offset or 1) - 1, 0)) from None
    except FilterSyntaxError as exc:
        raise FilterSyntaxError(exc.message, lead + exc.offset) from None


def columns_of(tree: tuple[Any, ...]) -> list[str]:
    """The column names a parsed filter reads, in order of appearance, each once."""
    found: list[str] = []
    if tree[0] == "compare":
        found = [operand[1] for operand in tree[2:] if operand[0] == "column"]
    elif tree[0] in ("and", "or", "not"):
        found = [name for part in tree[1:] for name in columns_of(part)]
    return list(dict.fromkeys(found))
