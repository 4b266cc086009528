"""The registry on a backend: today's files on the local kind, numbers and alias moves by compare-and-swap,
model files downloaded once and checked on every load."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

from mlform.runtime.registry.models import MODEL_FILE, Registry, RegistryError
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.runtime.storage.backends.url import open_backend
from tests.tools.elsewhere import Elsewhere

SIGNATURE = [{"name": "x", "dtype": "float64"}]


def fitted(constant: str) -> DummyClassifier:
    return DummyClassifier(strategy="constant", constant=constant).fit([[0.0], [1.0]], [constant, "other"])


def test_the_local_kind_keeps_todays_files(tmp_path: Path) -> None:
    registry = Registry(LocalBackend(tmp_path), prefix="registry")
    registry.register("m", fitted("a"), SIGNATURE, {"accuracy": 0.5}, {"run_id": "r1"})
    registry.register("m", fitted("b"), SIGNATURE, {"accuracy": 0.7}, {"run_id": "r2"})
    registry.set_alias("m", "staging", 2, env="dev")
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()
                   and not p.name.startswith("."))
    assert files == ["registry/m/aliases.json", "registry/m/versions/1/meta.json", "registry/m/versions/1/model.pkl",
                     "registry/m/versions/2/meta.json", "registry/m/versions/2/model.pkl"]
    meta = json.loads((tmp_path / "registry/m/versions/2/meta.json").read_text())
    assert (meta["name"], meta["version"]) == ("m", 2)
    assert meta["sha256"] == hashlib.sha256((tmp_path / "registry/m/versions/2/model.pkl").read_bytes()).hexdigest()
    assert json.loads((tmp_path / "registry/m/aliases.json").read_text()) == {
        "format": 2, "environments": {"dev": {"staging": 2}}}
    assert registry.root == tmp_path / "registry"
    assert registry.versions("m")[1].path == tmp_path / "registry/m/versions/2" / MODEL_FILE


def _register_three(url: str, worker: int) -> list[int]:
    registry = Registry(open_backend(url), prefix="registry")
    return [registry.register("m", fitted(f"w{worker}-{i}"), SIGNATURE, {}, {"run_id": f"{worker}-{i}"})
            .version.version for i in range(3)]


def _move(url: str, env: str) -> int | None:
    return Registry(open_backend(url), prefix="registry").set_alias("m", "staging", 1, env=env)


def test_registrants_on_one_backend_never_get_the_same_number(backend_url: str) -> None:
    with ProcessPoolExecutor(4) as pool:
        numbers = [n for got in pool.map(_register_three, [backend_url] * 4, range(4)) for n in got]
    assert sorted(numbers) == list(range(1, 13))
    registry = Registry(open_backend(backend_url), prefix="registry")
    versions = registry.versions("m")
    assert sorted(v.lineage["run_id"] for v in versions) == sorted(f"{w}-{i}" for w in range(4) for i in range(3))
    assert all(registry.load("m", v.version).model.constant == "w" + v.lineage["run_id"] for v in versions)
    with ProcessPoolExecutor(4) as pool:  # eight alias moves at once, each in its own environment: none is lost
        assert list(pool.map(_move, [backend_url] * 8, [f"e{i}" for i in range(8)])) == [None] * 8
    assert {env: table["staging"] for env, table in registry.environment_aliases("m").items()} == {
        f"e{i}": 1 for i in range(8)}


def test_a_copy_without_the_files_downloads_each_version_once(tmp_path: Path) -> None:
    shared = LocalBackend(tmp_path / "shared")
    here = Registry(Elsewhere(shared), prefix="registry", cache=tmp_path / "a")
    here.register("m", fitted("a"), SIGNATURE, {"accuracy": 0.5}, {"run_id": "r1"})
    there_backend = Elsewhere(shared)
    there = Registry(there_backend, prefix="registry", cache=tmp_path / "b")
    assert there.root is None
    version = there.load("m", 1).version
    assert version.path == tmp_path / "b" / "models" / version.sha256 / MODEL_FILE
    assert there.load("m", "1").model.constant == "a"
    assert there_backend.downloads == 1
    version.path.write_bytes(version.path.read_bytes()[:-7])  # the cached copy is checked on every load
    with pytest.raises(RegistryError, match=r"^model `m` version 1: model.pkl has sha256 [0-9a-f]{12}\.\.\., "
                                            r"registered [0-9a-f]{12}\.\.\.; refusing a tampered or corrupt model$"):
        there.load("m", 1)


def test_a_tampered_shared_model_file_is_refused_before_it_reaches_the_cache(tmp_path: Path) -> None:
    shared = LocalBackend(tmp_path / "shared")
    Registry(shared, prefix="registry").register("m", fitted("a"), SIGNATURE, {}, {})
    stored = tmp_path / "shared/registry/m/versions/1" / MODEL_FILE
    stored.write_bytes(stored.read_bytes()[:100])
    there = Registry(Elsewhere(shared), prefix="registry", cache=tmp_path / "b")
    with pytest.raises(RegistryError, match=r"^model `m` version 1: cannot fetch model.pkl: .* it was changed or "
                                            r"damaged; refusing a tampered or corrupt model$"):
        there.load("m", 1)
    assert not any((tmp_path / "b").rglob(MODEL_FILE))


def test_a_registration_interrupted_before_its_file_converges_when_repeated(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    lineage = {"env": "dev", "fingerprints": {"train": "t"}}
    first = registry.register("m", fitted("a"), SIGNATURE, {}, lineage)
    first.version.path.unlink()  # as if the process died after claiming the number
    again = registry.register("m", fitted("a"), SIGNATURE, {}, lineage)
    assert (again.created, again.version.version) == (False, 1)
    assert registry.load("m", 1).model.constant == "a"
