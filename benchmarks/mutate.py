"""Mutation testing with a small AST mutator: does the suite notice when a module's logic is broken?

Usage: python benchmarks/mutate.py [--max N] [--seed S] [--all] [MODULE ...]
Each MODULE (default: every entry of TARGETS) is mutated one change at a time: a comparison flipped (`==` and
`!=`, `<` and `>=`, `in` and `not in`, ...), `and` and `or` swapped, a `not` dropped, `True` and `False` swapped,
`+` and `-` swapped, an integer constant off by one, a returned value dropped to `None`, a call statement removed.
The module's tests run against each mutant (`pytest -x` with the fast tests); a mutant is killed when they fail or
time out. The file is restored after every mutant, even on Ctrl-C or SIGTERM. By default a random sample of `--max`
mutants per module (fixed `--seed`) is tried, so the kill rate is an estimate; `--all` tries every mutant. Each
module's result goes to benchmarks/mutation.json and the generated table of benchmarks/MUTATION.md is rewritten
from it, so runs of single modules add up; the text around that table is kept.
Slow (one test run per mutant): not part of `make test`.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "MUTATION.md"
RESULTS = ROOT / "benchmarks" / "mutation.json"
BEGIN, END = "<!-- mutate.py: begin -->", "<!-- mutate.py: end -->"
SAMPLE, SEED = 40, 1
_TARGETS = "tests/compiler/targets/"
TARGETS: dict[str, list[str]] = {  # module -> the fast tests that cover it
    "compiler/artifacts/wiring.py": [f"{_TARGETS}test_wiring.py"],
    "compiler/targets/__init__.py": [f"{_TARGETS}test_toy_target.py", f"{_TARGETS}test_compile.py"],
    "compiler/targets/airflow.py": [f"{_TARGETS}test_airflow_render.py", f"{_TARGETS}test_compile.py",
                                    f"{_TARGETS}test_hostile.py", f"{_TARGETS}test_render.py"],
    "compiler/targets/docker.py": [f"{_TARGETS}test_docker_render.py", f"{_TARGETS}test_docker_build_pins.py",
                                   f"{_TARGETS}test_compile.py", f"{_TARGETS}test_hostile.py"],
    "compiler/targets/github_actions.py": [f"{_TARGETS}test_github_actions.py",
                                           f"{_TARGETS}test_github_actions_run.py"],
    "compiler/targets/kubernetes.py": [f"{_TARGETS}test_kubernetes.py", f"{_TARGETS}test_canary.py",
                                       f"{_TARGETS}test_kubernetes_ui.py", f"{_TARGETS}test_wiring.py"],
    "compiler/commands/serve.py": ["tests/runtime/serving/test_serving_cli.py"],
    "runtime/serving/app.py": ["tests/runtime/serving/test_serving.py"],
    "compiler/plan/plans.py": ["tests/compiler/plan/test_plan_core.py"],
    "compiler/plan/planner.py": ["tests/compiler/plan/test_plan_core.py"],
    "compiler/plan/apply.py": ["tests/compiler/plan/test_plan_core.py"],
    "runtime/steps/validation.py": ["tests/runtime/steps/test_validation.py",
                                    "tests/runtime/steps/test_validation_rules.py"],
    "specs/check/columns.py": ["tests/specs/check/test_columns.py"],
    "specs/check/semantic.py": ["tests/specs/test_invalid_corpus.py"],
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
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield node, f"{node.value} -> {node.value + 1}"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            yield node, "+ -> -" if isinstance(node.op, ast.Add) else "- -> +"
        elif isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
            yield node, "return None"
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            yield node, f"drop call `{ast.unparse(node.value.func)}(...)`"


def _is_none(node: ast.expr) -> bool:
    """True for the literal `None`."""
    return isinstance(node, ast.Constant) and node.value is None


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


def _replace(tree: ast.AST, node: ast.AST, replacement: ast.AST) -> None:
    """Put `replacement` where `node` is in `tree`."""
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is node:
                setattr(parent, field, replacement)
            elif isinstance(value, list):
                value[:] = [replacement if item is node else item for item in value]


def mutate(source: str, index: int) -> str:
    """`source` with mutation point `index` applied."""
    tree = ast.parse(source)
    node = next(node for i, (node, _) in enumerate(_points(tree)) if i == index)
    if isinstance(node, ast.Compare):
        node.ops[0] = _FLIPS[type(node.ops[0])]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        _replace(tree, node, node.operand)
    elif isinstance(node, ast.Constant):
        node.value = not node.value if isinstance(node.value, bool) else node.value + 1
    elif isinstance(node, ast.BinOp):
        node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
    elif isinstance(node, ast.Return):
        node.value = ast.Constant(None)
    elif isinstance(node, ast.Expr):
        _replace(tree, node, ast.Pass())
    return ast.unparse(tree)


def killed(tests: list[str], timeout: float) -> bool:
    """True when the tests fail (or hang) against the module as it is on disk now."""
    argv = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not integration", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return True
    return done.returncode != 0


def sample(found: list[Mutant], limit: int | None, seed: int) -> list[Mutant]:
    """At most `limit` of `found`, drawn at random with `seed` (all of them when `limit` is None), in file order."""
    if limit is None or len(found) <= limit:
        return found
    return sorted(random.Random(seed).sample(found, limit), key=lambda m: m.index)


def run_module(module: str, tests: list[str], limit: int | None, seed: int) -> dict[str, object]:
    """Try a sample of the mutants of one module; the file is restored whatever happens."""
    path = ROOT / module
    original = path.read_text()
    every = mutants(original)
    found = sample(every, limit, seed)
    started = time.perf_counter()
    assert not killed(tests, 900), f"the tests of {module} fail before any mutation"
    timeout = max(60.0, 5 * (time.perf_counter() - started))
    source_lines = original.splitlines()
    survivors = []
    try:
        for mutant in found:
            path.write_text(mutate(original, mutant.index))
            alive = not killed(tests, timeout)
            if alive:
                survivors.append({"index": mutant.index, "line": mutant.line, "what": mutant.what,
                                  "code": source_lines[mutant.line - 1].strip()})
            print(f"{module}:{mutant.line}: {mutant.what}: {'survived' if alive else 'killed'}", flush=True)
    finally:
        path.write_text(original)
    return {"total": len(every), "sampled": len(found), "seed": seed if len(found) < len(every) else None,
            "killed": len(found) - len(survivors), "survivors": survivors, "source": _digest(original)}


def _digest(text: str) -> str:
    """Which version of a module the mutants were made from."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def recheck(module: str, tests: list[str], row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its survivors tried again against the tests as they are now (a killed mutant stays killed: tests
    were only added); the module must be the version they were made from."""
    path = ROOT / module
    original = path.read_text()
    if row.get("source", _digest(original)) != _digest(original):
        raise SystemExit(f"{module} changed since its mutants were sampled: run it again without --recheck")
    survivors = []
    try:
        for survivor in row["survivors"]:
            index = survivor.get("index", next(m.index for m in mutants(original)
                                               if (m.line, m.what) == (survivor["line"], survivor["what"])))
            path.write_text(mutate(original, index))
            alive = not killed(tests, 600)
            survivors += [survivor] if alive else []
            print(f"{module}:{survivor['line']}: {survivor['what']}: {'survived' if alive else 'killed'}", flush=True)
    finally:
        path.write_text(original)
    return {**row, "killed": row["sampled"] - len(survivors), "survivors": survivors,
            "before": row.get("before", row["killed"])}


def report(results: dict[str, dict[str, object]]) -> str:
    """The generated part of MUTATION.md: one row per module, then the survivors."""
    lines = [BEGIN, "", "| module | tests | mutants tried / total | seed | killed before / after new tests | "
             "kill rate before / after |", "|---|---|---|---|---|---|"]
    notes = []
    for module in sorted(results):
        row = results[module]
        tried, done, survivors = int(str(row["sampled"])), int(str(row["killed"])), row["survivors"]
        tests = ", ".join(f"`{Path(t).name}`" for t in TARGETS.get(module, []))
        seed = "all" if row["seed"] is None else str(row["seed"])
        before = int(str(row.get("before", done)))
        lines.append(f"| `{module}` | {tests} | {tried} / {row['total']} | {seed} | {before} / {done} | "
                     f"{before / tried:.0%} / {done / tried:.0%} |")
        assert isinstance(survivors, list)
        notes += [f"- `{module}:{s['line']}` {s['what']}: `{s['code']}`" for s in survivors]
    lines += ["", "Surviving mutants:", "", *(notes or ["- none"]), "", END]
    return "\n".join(lines)


def write_report(results: dict[str, dict[str, object]]) -> None:
    """Save the results and rewrite the generated table of MUTATION.md, keeping the text around it."""
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    text = REPORT.read_text() if REPORT.exists() else f"# Mutation testing\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    REPORT.write_text(head + report(results) + tail)


def main() -> None:
    """Mutate the modules asked for and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(TARGETS))
    parser.add_argument("--max", type=int, default=SAMPLE, help="At most this many mutants per module (sampled).")
    parser.add_argument("--seed", type=int, default=SEED, help="Seed of the sample.")
    parser.add_argument("--all", action="store_true", help="Try every mutant (slow).")
    parser.add_argument("--recheck", action="store_true",
                        help="Try only the recorded survivors again, after tests were added; keeps the kill rate "
                             "before as `before`.")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the mutated file is restored
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for module in args.modules:
        if args.recheck:
            results[module] = recheck(module, TARGETS[module], results[module])
        else:
            results[module] = run_module(module, TARGETS[module], None if args.all else args.max, args.seed)
        write_report(results)
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
