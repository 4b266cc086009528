"""The mutation-testing tool's own mutator: each operator changes exactly what it says, and nothing else."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]

SOURCE = '''"""Doc."""


def f(a, b):
    """Doc."""
    if a == b and not a:
        log(a)
        return a + 1
    return None
'''


def _mutator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutate", ROOT / "benchmarks" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mutator() -> ModuleType:
    return _mutator()


def test_every_operator_finds_its_points_and_skips_docstrings(mutator: ModuleType) -> None:
    found = [(m.line, m.what) for m in mutator.mutants(SOURCE)]
    assert sorted(found) == [(6, "Eq -> NotEq"), (6, "and -> or"), (6, "drop `not`"), (7, "drop call `log(...)`"),
                             (8, "+ -> -"), (8, "1 -> 2"), (8, "return None")]


@pytest.mark.parametrize(("what", "old", "new"), [
    ("Eq -> NotEq", "    if a == b and (not a):", "    if a != b and (not a):"),
    ("and -> or", "    if a == b and (not a):", "    if a == b or not a:"),
    ("drop `not`", "    if a == b and (not a):", "    if a == b and a:"),
    ("drop call `log(...)`", "        log(a)", "        pass"),
    ("+ -> -", "        return a + 1", "        return a - 1"),
    ("1 -> 2", "        return a + 1", "        return a + 2"),
    ("return None", "        return a + 1", "        return None"),
])
def test_each_mutant_changes_one_line_as_described(mutator: ModuleType, what: str, old: str, new: str) -> None:
    index = next(m.index for m in mutator.mutants(SOURCE) if m.what == what)
    unchanged = ast.unparse(ast.parse(SOURCE)).splitlines()
    mutated = mutator.mutate(SOURCE, index).splitlines()
    assert [(a, b) for a, b in zip(unchanged, mutated, strict=True) if a != b] == [(old, new)]


def test_booleans_flip_and_decorators_are_left_alone(mutator: ModuleType) -> None:
    source = "import dataclasses\n\n@dataclasses.dataclass(frozen=True)\nclass C:\n    x: bool = True\n"
    assert [m.what for m in mutator.mutants(source)] == ["True -> False"]
    assert mutator.mutate(source, mutator.mutants(source)[0].index).endswith("x: bool = False")


def test_the_sample_is_fixed_by_its_seed_and_kept_in_file_order(mutator: ModuleType) -> None:
    found = [mutator.Mutant(i, i, "x") for i in range(100)]
    first, again = mutator.sample(found, 10, 3), mutator.sample(found, 10, 3)
    assert first == again and len(first) == 10
    assert [m.index for m in first] == sorted(m.index for m in first)
    assert mutator.sample(found, 10, 4) != first
    assert mutator.sample(found, None, 3) == found == mutator.sample(found, 200, 3)


def test_the_report_keeps_the_text_around_its_table(mutator: ModuleType, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    report, results = tmp_path / "MUTATION.md", tmp_path / "mutation.json"
    report.write_text(f"# Title\n\nbefore\n\n{mutator.BEGIN}\nold table\n{mutator.END}\n\nafter\n")
    monkeypatch.setattr(mutator, "REPORT", report)
    monkeypatch.setattr(mutator, "RESULTS", results)
    row = {"total": 90, "sampled": 40, "seed": 1, "killed": 35,
           "survivors": [{"line": 7, "what": "drop call `log(...)`", "code": "log(a)"}]}
    mutator.write_report({"compiler/targets/docker.py": row})
    text = report.read_text()
    assert text.startswith("# Title\n\nbefore\n\n<!-- mutate.py: begin -->\n")
    assert text.endswith("<!-- mutate.py: end -->\n\nafter\n")
    assert ("| `compiler/targets/docker.py` | `test_docker_render.py`, `test_docker_build_pins.py`, `test_compile.py`, "
            "`test_hostile.py` "
            "| 40 / 90 | 1 | 35 / 35 | 88% / 88% |") \
        in text
    assert "- `compiler/targets/docker.py:7` drop call `log(...)`: `log(a)`" in text
    assert "old table" not in text
