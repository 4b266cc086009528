"""The DAGs a generated Airflow file declares, read with `ast` (never imported): tasks, edges and settings.

Each `with DAG(...)` block becomes one object, `dag <dag_id>`, holding the DAG's keyword arguments, its
`tasks` (by task ID: the operator or factory called and its arguments) and its `edges`
(`upstream >> downstream`). Module-level constants are inlined where a DAG or another constant uses them;
the others, with the helper functions, imports and other statements, form the `module` object.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

__all__ = ["dag_objects"]


class _Module:
    """Module-level names a DAG refers to, and which of them were used."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.used: set[str] = set()

    def value(self, node: ast.expr) -> Any:
        """A literal, a constant's value, or else the expression's source."""
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError):
            pass
        if isinstance(node, ast.Name) and node.id in self.constants:
            self.used.add(node.id)
            return self.constants[node.id]
        keys = [k for k in node.keys if k is not None] if isinstance(node, ast.Dict) else []
        if isinstance(node, ast.Dict) and len(keys) == len(node.keys):  # no `**mapping` inside
            return {self.value(k): self.value(v) for k, v in zip(keys, node.values, strict=True)}
        if isinstance(node, ast.List | ast.Tuple):
            return [self.value(item) for item in node.elts]
        return ast.unparse(node)

    def task(self, node: ast.AST) -> tuple[str, dict[str, Any]] | None:
        """(task ID, operator and arguments) when `node` creates a task, else None."""
        if not isinstance(node, ast.Call):
            return None
        name = ast.unparse(node.func)
        kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg}
        helper = self.functions.get(name)
        params = [a.arg for a in helper.args.args] if helper else []
        kwargs.update((params[i] if i < len(params) else f"arg{i}", self.value(a)) for i, a in enumerate(node.args))
        task_id = kwargs.pop("task_id", None)
        return (task_id, {"operator": name, **kwargs}) if isinstance(task_id, str) else None


def _operands(node: ast.expr) -> Iterator[tuple[ast.expr, ast.operator | None]]:
    """The operands of `a >> b << c`, left to right, each with the operator after it."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift | ast.LShift):
        *left, (last, _) = _operands(node.left)
        yield from left
        yield last, node.op
        yield from _operands(node.right)
    else:
        yield node, None


def _dag(module: _Module, call: ast.Call, body: list[ast.stmt]) -> tuple[str, dict[str, Any]]:
    """(`dag <dag_id>`, its settings, tasks and edges) of one `with DAG(...)` block."""
    settings = {k.arg: module.value(k.value) for k in call.keywords if k.arg}
    dag_id = settings.pop("dag_id", module.value(call.args[0]) if call.args else "")
    tasks: dict[str, dict[str, Any]] = {}
    names: dict[str, Any] = {}  # variable -> task IDs, or key -> task IDs for a dict of tasks

    def ids(node: ast.expr) -> list[str]:
        found = module.task(node)
        if found is not None:
            tasks[found[0]] = found[1]
            return [found[0]]
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return [task for item in node.elts for task in ids(item)]
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            bound = names.get(node.value.id)
            return bound.get(module.value(node.slice), []) if isinstance(bound, dict) else []
        return names.get(node.id, []) if isinstance(node, ast.Name) else []

    edges: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = stmt.value
            names[stmt.targets[0].id] = ({module.value(k): ids(v) for k, v in zip(value.keys, value.values,
                                                                                   strict=True) if k is not None}
                                         if isinstance(value, ast.Dict) else ids(value))
        elif isinstance(stmt, ast.Expr):
            operands = [(ids(node), op) for node, op in _operands(stmt.value)]
            for (left, op), (right, _) in zip(operands, operands[1:], strict=False):
                ups, downs = (left, right) if isinstance(op, ast.RShift) else (right, left)
                edges.update(f"{up} >> {down}" for up in ups for down in downs)
    return f"dag {dag_id}", {**settings, "tasks": tasks, "edges": frozenset(edges)}


def dag_objects(text: str) -> dict[str, Any]:
    """`module` and one `dag <dag_id>` object per DAG of a generated Airflow file; SyntaxError if not Python."""
    tree = ast.parse(text)
    module = _Module()
    dags: dict[str, Any] = {}
    rest: dict[str, Any] = {"imports": [], "functions": {}, "statements": []}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            module.constants[stmt.targets[0].id] = module.value(stmt.value)
        elif isinstance(stmt, ast.FunctionDef):
            module.functions[stmt.name] = stmt
            rest["functions"][stmt.name] = ast.unparse(stmt)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            rest["imports"].append(ast.unparse(stmt))
        elif isinstance(stmt, ast.With) and isinstance(call := stmt.items[0].context_expr, ast.Call) \
                and ast.unparse(call.func).rsplit(".", 1)[-1] == "DAG":
            name, dag = _dag(module, call, stmt.body)
            dags[name] = dag
        else:
            rest["statements"].append(ast.unparse(stmt))
    constants = {name: value for name, value in module.constants.items() if name not in module.used}
    return {"module": {**rest, "constants": constants}, **dags}
