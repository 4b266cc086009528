"""ARCHITECTURE.md's "How to add ..." recipes each name the test that follows them with a toy one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _recipes() -> dict[str, str]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text.split("## How to add ...", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^### (.+)$", section, flags=re.MULTILINE)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def test_every_recipe_is_exercised_by_a_toy_test_that_exists() -> None:
    recipes = _recipes()
    assert list(recipes) == ["a data validation rule", "a metric", "a drift method", "a target", "a command"]
    for name, body in recipes.items():
        tests = re.findall(r"`(tests/[\w/]+\.py)`", body)
        assert tests, f"recipe `{name}` names no test"
        for test in tests:
            assert "toy" in (ROOT / test).read_text(), f"{test} adds no toy one"
