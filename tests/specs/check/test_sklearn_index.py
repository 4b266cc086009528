"""The cached scikit-learn index answers as the live classes do, and its cache survives versions, damage and races."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlform.specs import validate_file
from mlform.specs.check import estimators, sklearn_index
from mlform.specs.check.constraints import satisfied
from mlform.specs.check.estimators import EstimatorInfo, IndexedRule, indexed_info, live_info

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / "tests" / "specs" / "invalid"
SPECS = sorted([*CORPUS.glob("*.yaml"), *(REPO / "examples").glob("*/mlform.yaml")])
# values a spec can hold, including the awkward ones: booleans are integers, NaN and infinities are floats
PROBES: list[Any] = [None, True, False, 0, 1, -1, 3, 2**33, 0.0, 0.5, 1.0, -0.5, 2.5, math.nan, math.inf, -math.inf,
                     "", "auto", "yes", "l2", "ignore", "sqrt", [], [1, 2], {}, {"a": 1}]


def _named_estimators() -> list[str]:
    """Every import path a spec of the examples or the invalid corpus names as estimator or transformer."""
    found = set()
    for path in SPECS:
        text = path.read_text(errors="replace")
        found.update(re.findall(r"(?:estimator|transformer):\s*([A-Za-z_][\w.]*\.[A-Za-z_]\w*)", text))
    return sorted(found)


@pytest.fixture(scope="module")
def index() -> dict[str, Any]:
    data = sklearn_index.index()
    assert data is not None
    return data


def _clear() -> None:
    for cached in (estimators.estimator_info, estimators.live_info, estimators._sklearn_paths):
        cached.cache_clear()


def _compare(path: str) -> None:
    """The index and the live class give the same info, and each encoded constraint the same answer to every probe."""
    indexed, live = indexed_info(path), live_info(path)
    if not isinstance(indexed, EstimatorInfo):
        assert indexed is None or indexed == live, path  # the index leaves it to the import, or words it alike
        return
    assert isinstance(live, EstimatorInfo), path
    assert (indexed.name, indexed.has_transform, indexed.has_predict, indexed.task, indexed.param_names) == (
        live.name, live.has_transform, live.has_predict, live.task, live.param_names)
    assert set(indexed.rules) == set(live.rules)
    for name, rule in indexed.rules.items():
        if not isinstance(rule, IndexedRule):
            continue  # a param the index could not word ahead: the live class answers for it
        reference = live.rules[name]
        assert (rule.phrases, sorted(rule.options)) == (reference.phrases, sorted(reference.options)), (path, name)
        for encoded, constraint in zip(rule.constraints, reference.constraints, strict=True):  # type: ignore[attr-defined]
            for value in PROBES + rule.options:
                answer = satisfied(encoded, value)
                assert answer in (None, constraint.is_satisfied_by(value)), (path, name, constraint, value)
        for value in PROBES + rule.options:
            assert rule.accepts(value) == reference.accepts(value), (path, name, value)


@pytest.mark.parametrize("path", _named_estimators())
def test_index_answers_as_the_live_class_for_every_named_estimator(path: str, index: dict[str, Any]) -> None:
    assert path in index["classes"] or not path.startswith("sklearn.") or indexed_info(path) is not None
    _compare(path)


def test_index_answers_as_the_live_classes_for_every_estimator(index: dict[str, Any]) -> None:
    for path in index["classes"]:
        _compare(path)


def test_encoded_constraints_judge_nearly_every_value_alone(index: dict[str, Any]) -> None:
    """The index is worth having only if it rarely needs scikit-learn: a constraint kind it cannot encode is rare."""
    rules = [rule for entry in index["classes"].values() for rule in (entry["params"] or {}).values()]
    unknown = [rule for rule in rules if rule is None or None in rule["constraints"]]
    assert len(unknown) <= len(rules) // 20, len(unknown)


def _diagnostics() -> Iterator[list[str]]:
    for path in SPECS:
        yield [str(d) for d in validate_file(path)[1]]


def test_validation_reports_the_same_with_and_without_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear()
    indexed = list(_diagnostics())
    monkeypatch.setattr(estimators, "_index", lambda: None)
    _clear()
    live = list(_diagnostics())
    _clear()
    assert indexed == live
    assert any("`LogisticRegression` must be" in line for lines in live for line in lines)


def test_validating_an_example_imports_neither_sklearn_nor_numpy_nor_pandas() -> None:
    sklearn_index.index()  # the cache is warm, as after the first validation with this scikit-learn
    code = ("import sys; from mlform.specs import validate_file; validate_file(sys.argv[1]); "
            "print(sorted(m for m in ('sklearn', 'scipy', 'numpy', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(REPO / "examples" / "iris" / "mlform.yaml")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _copy_cache(tmp_path: Path, index: dict[str, Any]) -> Path:
    version = sklearn_index.installed_version() or ""
    target = tmp_path / "mlform" / sklearn_index.cache_file(version).name
    target.parent.mkdir(parents=True)
    target.write_bytes(sklearn_index.cache_file(version).read_bytes())
    return target


def test_a_cached_index_is_read_back_only_for_its_own_version(tmp_path: Path, index: dict[str, Any]) -> None:
    cached = _copy_cache(tmp_path, index)
    version = sklearn_index.installed_version()
    assert version is not None
    assert sklearn_index._read(cached, version) == index
    assert sklearn_index._read(cached, version + ".post1") is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "empty", "not-json", "folder"])
def test_a_damaged_cache_reads_as_missing(damage: str, tmp_path: Path, index: dict[str, Any]) -> None:
    cached = _copy_cache(tmp_path, index)
    text = cached.read_bytes()
    version = sklearn_index.installed_version() or ""
    if damage == "truncate":
        cached.write_bytes(text[: len(text) // 2])
    elif damage == "flip":
        flipped = text.replace(b'"predict":true', b'"predict":false', 1)
        assert flipped != text
        cached.write_bytes(flipped)
    elif damage == "header":
        cached.write_bytes(b'{"format": 1}\n' + text.partition(b"\n")[2])
    elif damage == "empty":
        cached.write_bytes(b"")
    elif damage == "not-json":
        cached.write_bytes(b"\x00\xff garbage\n{")
    else:
        cached.unlink()
        cached.mkdir()
    assert sklearn_index._read(cached, version) is None


def test_another_version_or_a_damaged_file_is_rebuilt(tmp_path: Path, index: dict[str, Any]) -> None:
    cached = _copy_cache(tmp_path, index)
    cached.write_bytes(cached.read_bytes()[:100])
    data = sklearn_index.load(cached, "0.0-other")
    assert data == index
    header = json.loads(cached.read_bytes().partition(b"\n")[0])
    assert header["sklearn"] == "0.0-other"
    assert sklearn_index._read(cached, "0.0-other") == index


def test_concurrent_first_validations_each_leave_a_whole_cache(tmp_path: Path, index: dict[str, Any]) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    code = "from mlform.specs.check.sklearn_index import index; print(len(index()['classes']))"
    workers = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    counts = [worker.communicate()[0].strip() for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    assert counts == [str(len(index["classes"]))] * 2
    version = sklearn_index.installed_version() or ""
    cached = sklearn_index.cache_file(version)
    assert sklearn_index._read(tmp_path / "mlform" / cached.name, version) == index
    left = [p.name for p in (tmp_path / "mlform").iterdir() if not p.name.startswith("entry-points-")]
    assert left == [cached.name]  # no temp file left


def test_each_scikit_learn_version_has_its_own_cache_file() -> None:
    """Two environments with other versions keep their own index instead of rebuilding each other's."""
    assert sklearn_index.cache_file("1.9.1") != sklearn_index.cache_file("1.10.0")
    assert sklearn_index.cache_file("1.9.1").parent == sklearn_index.cache_file("1.10.0").parent


def test_the_installed_version_is_the_one_its_metadata_declares() -> None:
    """Read from the `Version:` header alone, it is what the full metadata parser gives."""
    from importlib.metadata import version

    assert sklearn_index.installed_version() == version("scikit-learn")
