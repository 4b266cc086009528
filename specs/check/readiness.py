"""Production readiness: which of the ML Test Score's 28 tests a resolved spec turns on, and what enforces them.

Each test (`mlform.specs.check.ml_test_score`) reads the resolved spec through its key paths and names the
functions that enforce it (`module:function`). A test is `enforced` only when the spec turns it on *and* every
one of those functions exists; they are found by reading the module's source (`ast`), never by importing it, so
`mlform readiness` stays as fast as `validate`. A test whose code is gone reads `partial`, naming what is missing.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["READINESS_FORMAT", "Finding", "Readiness", "ScoreTest", "Spec", "Status", "Verdict", "assess",
           "code_missing"]

READINESS_FORMAT = 1
Status = Literal["enforced", "partial", "off"]
_MISSING: Any = object()


@dataclass(frozen=True)
class Verdict:
    """What the spec says of one test: its status and a sentence on why (or on what would turn it on)."""

    status: Status
    detail: str


class Spec:
    """A resolved spec as its tests read it: values by dotted key path, `None` when absent or null."""

    def __init__(self, spec: ResolvedSpec) -> None:
        self.resolved = spec
        self.config = spec.config

    def get(self, key: str) -> Any:
        """The value at a dotted key path (`evaluation.baseline`), or None."""
        node: Any = self.config
        for part in key.split("."):
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
            if node is _MISSING:
                return None
        return node

    def on(self, key: str) -> bool:
        """Whether the key is set to something other than null, `false`, `off` or an empty collection."""
        value = self.get(key)
        if value is None or value is False:  # by identity: 0 is a threshold, though `0 == False`
            return False
        return value not in ("off", "none", {}, [])

    @property
    def features(self) -> list[str]:
        """The model's input columns."""
        return list(self.get("data.features") or [])


@dataclass(frozen=True)
class ScoreTest:
    """One ML Test Score test as spec lines: the keys that turn it on, the code enforcing it, and its judge."""

    id: str
    title: str
    keys: tuple[str, ...]
    enforced_by: tuple[str, ...]
    judge: Callable[[Spec], Verdict]


@dataclass(frozen=True)
class Finding:
    """One test's result for one spec and environment."""

    id: str
    title: str
    status: Status
    keys: tuple[str, ...]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {"id": self.id, "title": self.title, "status": self.status, "keys": list(self.keys),
                "detail": self.detail}


@dataclass(frozen=True)
class Readiness:
    """All 28 findings of one spec and environment, in the paper's order, and the score."""

    spec: str
    env: str
    findings: tuple[Finding, ...]

    @property
    def score(self) -> int:
        """How many tests are enforced."""
        return sum(f.status == "enforced" for f in self.findings)

    @property
    def enforced(self) -> frozenset[str]:
        """The ids of the enforced tests."""
        return frozenset(f.id for f in self.findings if f.status == "enforced")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data with `format_version`."""
        return {"format_version": READINESS_FORMAT, "spec": self.spec, "env": self.env, "score": self.score,
                "total": len(self.findings), "tests": [f.to_dict() for f in self.findings]}


@cache
def _defined(module: str) -> frozenset[str] | None:
    """The top-level function and class names of `module`'s source, or None when it cannot be found."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or found.origin is None or not found.origin.endswith(".py"):
        return None
    tree = ast.parse(Path(found.origin).read_bytes())
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return frozenset(node.name for node in tree.body if isinstance(node, kinds))


def code_missing(paths: Sequence[str]) -> list[str]:
    """The `module:function` paths among `paths` whose function is not defined in its module's source."""
    missing = []
    for path in paths:
        module, _, name = path.partition(":")
        names = _defined(module)
        if names is None or name not in names:
            missing.append(path)
    return missing


def _finding(test: ScoreTest, spec: Spec) -> Finding:
    verdict = test.judge(spec)
    missing = code_missing(test.enforced_by) if verdict.status == "enforced" else []
    if missing:
        gone = ", ".join(f"`{path}`" for path in missing)
        verdict = Verdict("partial", f"{verdict.detail}; but the code that enforces it is missing: {gone}")
    return Finding(test.id, test.title, verdict.status, test.keys, verdict.detail)


def assess(spec: ResolvedSpec) -> Readiness:
    """The readiness of one resolved spec: every test judged against it."""
    from .ml_test_score import TESTS

    view = Spec(spec)
    return Readiness(spec.display, spec.env, tuple(_finding(test, view) for test in TESTS))
