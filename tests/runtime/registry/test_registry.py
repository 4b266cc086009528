"""The local model registry: versions, aliases, integrity checks."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

from mlform.runtime.registry.models import MODEL_FILE, Registry, RegistryError
from mlform.specs.errors import StateError

SIGNATURE = [{"name": "x", "dtype": "float64"}]


def fitted(constant: str) -> DummyClassifier:
    return DummyClassifier(strategy="constant", constant=constant).fit([[0.0], [1.0]], [constant, "other"])


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "registry")
    reg.register("m", fitted("a"), SIGNATURE, {"accuracy": 0.5}, {"run_id": "r1"})
    reg.register("m", fitted("b"), SIGNATURE, {"accuracy": 0.7}, {"run_id": "r2"})
    return reg


def test_versions_count_up_and_keep_their_metadata(registry: Registry) -> None:
    versions = registry.versions("m")
    assert [(v.version, v.metrics, v.lineage["run_id"]) for v in versions] == [
        (1, {"accuracy": 0.5}, "r1"), (2, {"accuracy": 0.7}, "r2")]
    assert versions[0].path == registry.root / "m" / "versions" / "1" / MODEL_FILE
    assert versions[0].sha256 == hashlib.sha256(versions[0].path.read_bytes()).hexdigest()
    assert versions[0].signature == SIGNATURE
    assert versions[0].created.endswith("+00:00")
    assert registry.models() == ["m"]


def test_aliases_move_and_resolve(registry: Registry) -> None:
    registry.set_alias("m", "staging", 1, env="default")
    assert registry.resolve("m", "staging").version == 1
    registry.set_alias("m", "staging", 2, env="default")
    registry.set_alias("m", "production", 2, env="default")
    assert registry.resolve("m", "staging").aliases == ["production", "staging"]
    assert registry.resolve("m", 1).aliases == []
    assert registry.resolve("m", "2").version == 2
    assert registry.load("m", "production").model.predict([[0.0]]).tolist() == ["b"]


@pytest.mark.parametrize(("name", "ref", "message"), [
    ("nope", 1, "model `nope` is not registered (registered: `m`)"),
    ("m", 7, "model `m` has no version 7 (versions: 1..2)"),
    ("m", "prod", "model `m` has no alias `prod` in environment `default` (aliases: none)"),
])
def test_resolve_errors_name_what_exists(registry: Registry, name: str, ref: int | str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        registry.resolve(name, ref)
    assert str(caught.value) == message


def test_alias_to_a_missing_version_is_refused(registry: Registry) -> None:
    with pytest.raises(RegistryError, match=r"^model `m` has no version 9$"):
        registry.set_alias("m", "staging", 9, env="default")


def test_tampered_model_file_is_refused(registry: Registry) -> None:
    path = registry.resolve("m", 1).path
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(RegistryError) as caught:
        registry.load("m", 1)
    assert str(caught.value).startswith(f"model `m` version 1: {MODEL_FILE} has sha256 ")
    assert str(caught.value).endswith("refusing a tampered or corrupt model")
    assert registry.load("m", 2).version.version == 2


def test_a_torn_registration_leaves_no_version(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(TypeError, match="pickle"):
        reg.register("m", threading.Lock(), SIGNATURE, {"accuracy": 0.5}, {})
    reg.register("m", fitted("a"), SIGNATURE, {"accuracy": 0.5}, {})
    assert [v.version for v in reg.versions("m")] == [1]
    assert [p.name for p in (tmp_path / "m").iterdir() if p.name.startswith(".new-")] == []


def test_empty_registry_lists_nothing(tmp_path: Path) -> None:
    assert Registry(tmp_path / "none").models() == []
    assert Registry(tmp_path / "none").versions("m") == []


def test_the_same_bytes_and_lineage_register_once(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    model = fitted("a")
    lineage = {"env": "dev", "fingerprints": {"train": "t1", "evaluate": "e1"}, "run_id": "r1"}
    first = reg.register("m", model, SIGNATURE, {"accuracy": 0.5}, lineage)
    again = reg.register("m", model, SIGNATURE, {"accuracy": 0.5}, {**lineage, "run_id": "r2"})
    assert (first.created, again.created, again.version.version) == (True, False, 1)
    assert again.version.lineage["run_id"] == "r1"
    other_env = reg.register("m", model, SIGNATURE, {"accuracy": 0.5}, {**lineage, "env": "prod"})
    other_gates = reg.register("m", model, SIGNATURE, {"accuracy": 0.5},
                               {**lineage, "fingerprints": {"train": "t1", "evaluate": "e2"}})
    assert [(r.created, r.version.version) for r in (other_env, other_gates)] == [(True, 2), (True, 3)]
    assert {v.sha256 for v in reg.versions("m")} == {first.version.sha256}
    assert [p.name for p in tmp_path.joinpath("m").iterdir() if p.name.startswith(".new-")] == []


def test_aliases_are_per_environment_and_a_move_returns_what_it_replaced(registry: Registry) -> None:
    assert registry.set_alias("m", "staging", 1, env="dev") is None
    assert registry.set_alias("m", "staging", 2, env="prod") is None
    assert registry.set_alias("m", "staging", 2, env="dev") == 1
    assert registry.aliases("m", "dev") == {"staging": 2}
    assert registry.aliases("m", "prod") == {"staging": 2}
    assert registry.set_alias("m", "staging", 1, env="prod") == 2
    assert (registry.resolve("m", "staging", "dev").version, registry.resolve("m", "staging", "prod").version) == (2, 1)
    assert registry.resolve("m", 1, "prod").aliases == ["staging"]
    assert registry.resolve("m", 1, "dev").aliases == []
    with pytest.raises(RegistryError) as caught:
        registry.resolve("m", "staging")
    assert str(caught.value) == ("model `m` has no alias `staging` in environment `default` (aliases: none); "
                                 "`staging` is set in `dev`, `prod`: pass `--env`")


def test_an_aliases_file_of_the_first_format_is_converted_on_the_first_move(registry: Registry) -> None:
    path = registry.aliases_path("m")
    path.write_text(json.dumps({"staging": 2, "production": 1}))  # one set of aliases, shared by every environment
    shared = Registry(registry.root, ["dev", "prod"])
    assert shared.aliases("m", "dev") == shared.aliases("m", "prod") == {"staging": 2, "production": 1}
    assert shared.environment_aliases("m") == {env: {"staging": 2, "production": 1}
                                               for env in ("default", "dev", "prod")}
    assert json.loads(path.read_text()) == {"staging": 2, "production": 1}  # reading writes nothing
    assert shared.set_alias("m", "staging", 1, env="prod") == 2
    assert json.loads(path.read_text()) == {"format": 2, "environments": {
        "default": {"production": 1, "staging": 2},
        "dev": {"production": 1, "staging": 2},
        "prod": {"production": 1, "staging": 1}}}
    inode = path.stat().st_ino
    assert shared.set_alias("m", "staging", 1, env="prod") == 1
    assert path.stat().st_ino == inode  # nothing moved: the file is not rewritten


def test_an_aliases_file_of_an_unknown_format_is_refused(registry: Registry) -> None:
    registry.aliases_path("m").write_text(json.dumps({"format": 3, "environments": {}}))
    with pytest.raises(StateError, match=r"has format 3; this mlform reads 2$"):
        registry.aliases("m", "dev")
