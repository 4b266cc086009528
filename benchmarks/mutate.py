"""Mutation testing with a small AST mutator: does the suite notice when a module's logic is broken?

Usage: python benchmarks/mutate.py [--max N] [--seed S] [MODULE ...]
Each MODULE (default: every entry of TARGETS) is mutated one change at a time: a comparison flipped (`==` and
`!=`, `<` and `>=`, `in` and `not in`, ...), `and` and `or` swapped, a `not` dropped, `True` and `False` swapped,
a string constant emptied in a `return` or comparison. The module's tests run against each mutant (`pytest -x`
with the fast tests); a mutant is killed when they fail or time out. The file is restored after every mutant,
even on Ctrl-C. Writes benchmarks/MUTATION.md with the kill rate per module and the surviving mutants.
Slow (one test run per mutant): not part of `make test`.
"""

from __future__ import annotations

import argparse
import ast
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "MUTATION.md"
TARGETS: dict[str, list[str]] = {  # module -> the tests that cover it
    "compiler/artifacts/wiring.py": ["tests/compiler/targets/test_wiring.py"],
    "compiler/targets/kubernetes.py": ["tests/compiler/targets/test_kubernetes.py",
                                       "tests/compiler/targets/test_wiring.py"],
    "compiler/targets/github_actions.py": ["tests/compiler/targets/test_github_actions.py",
                                           "tests/compiler/targets/test_github_actions_run.py"],
}
_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    """One change: its index among the module's mutation points, the line, and what it does."""

    index: int
    line: int
    what: str


def _points(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Every node a mutation applies to, with a description, in a stable order."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIPS:
            yield node, f"{type(node.ops[0]).__name__} -> {_FLIPS[type(node.ops[0])].__name__}"
        elif isinstance(node, ast.BoolOp):
            yield node, "and -> or" if isinstance(node.op, ast.And) else "or -> and"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "drop `not`"
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield node, f"{node.value} -> {not node.value}"


def _skipped(tree: ast.AST) -> set[int]:
    """Docstrings, and everything inside decorators (`frozen=True` changes no behaviour a test can see)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            found.update(id(inner) for decorator in node.decorator_list for inner in ast.walk(decorator))
    return found


def mutants(source: str) -> list[Mutant]:
    """The mutants of `source`."""
    tree = ast.parse(source)
    skip = _skipped(tree)
    return [Mutant(i, getattr(node, "lineno", 0), what) for i, (node, what) in enumerate(_points(tree))
            if id(node) not in skip]


def mutate(source: str, index: int) -> str:
    """`source` with mutation point `index` applied."""
    tree = ast.parse(source)
    node = next(node for i, (node, _) in enumerate(_points(tree)) if i == index)
    if isinstance(node, ast.Compare):
        node.ops[0] = _FLIPS[type(node.ops[0])]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        replacement = node.operand
        for parent in ast.walk(tree):
            for field, value in ast.iter_fields(parent):
                if value is node:
                    setattr(parent, field, replacement)
                elif isinstance(value, list):
                    value[:] = [replacement if item is node else item for item in value]
    elif isinstance(node, ast.Constant):
        node.value = not node.value
    return ast.unparse(tree)


def killed(tests: list[str], timeout: float) -> bool:
    """True when the tests fail (or hang) against the module as it is on disk now."""
    argv = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not integration", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return True
    return done.returncode != 0


def run_module(module: str, tests: list[str], limit: int | None, seed: int) -> tuple[int, list[Mutant]]:
    """(mutants tried, survivors) for one module; the file is restored whatever happens."""
    path = ROOT / module
    original = path.read_text()
    found = mutants(original)
    if limit is not None and len(found) > limit:
        found = sorted(random.Random(seed).sample(found, limit), key=lambda m: m.index)
    started = time.perf_counter()
    assert not killed(tests, 600), f"the tests of {module} fail before any mutation"
    timeout = max(60.0, 5 * (time.perf_counter() - started))
    survivors = []
    try:
        for mutant in found:
            path.write_text(mutate(original, mutant.index))
            if not killed(tests, timeout):
                survivors.append(mutant)
            print(f"{module}:{mutant.line}: {mutant.what}: {'survived' if survivors[-1:] == [mutant] else 'killed'}",
                  flush=True)
    finally:
        path.write_text(original)
    return len(found), survivors


def main() -> None:
    """Mutate the modules asked for and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(TARGETS))
    parser.add_argument("--max", type=int, default=None, help="At most this many mutants per module (sampled).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    command = " ".join(["python benchmarks/mutate.py", *(["--max", str(args.max)] if args.max else []),
                        *(args.modules if args.modules != list(TARGETS) else [])])
    lines = ["# Mutation testing", "", f"`{command}` (fast tests of each module; a killed mutant made them fail).", "",
             "| module | mutants | killed | kill rate |", "|---|---|---|---|"]
    notes = []
    for module in args.modules:
        tried, survivors = run_module(module, TARGETS[module], args.max, args.seed)
        rate = (tried - len(survivors)) / tried if tried else 1.0
        lines.append(f"| `{module}` | {tried} | {tried - len(survivors)} | {rate:.0%} |")
        notes += [f"- `{module}:{m.line}`: {m.what}" for m in survivors]
    lines += ["", "Surviving mutants:", "", *(notes or ["- none"]), ""]
    REPORT.write_text("\n".join(lines))
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
