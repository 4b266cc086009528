"""The scikit-learn a model was trained with is checked when it loads; `models pins` gives the training versions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import version as installed
from pathlib import Path
from typing import Any

import pytest
from sklearn.dummy import DummyClassifier

from mlform.runtime.registry.compat import VersionMismatchError
from mlform.runtime.registry.models import Registry

SKLEARN = installed("scikit-learn")
MAJOR, MINOR = (int(part) for part in SKLEARN.split(".")[:2])
OTHER_MAJOR = f"{MAJOR + 1}.0.0"
OTHER_MINOR = f"{MAJOR}.{MINOR + 1}.0"
OTHER_PATCH = f"{MAJOR}.{MINOR}.999"
FIX = "(`mlform models pins` lists every pin) or retrain"


def registered(tmp_path: Path, lineage: dict[str, Any]) -> Registry:
    registry = Registry(tmp_path / "registry")
    model = DummyClassifier(strategy="constant", constant="a").fit([[0], [1]], ["a", "b"])
    registry.register("toy", model, [{"name": "x", "dtype": "int64"}], {}, lineage)
    return registry


def test_another_major_version_refuses_to_load(tmp_path: Path) -> None:
    registry = registered(tmp_path, {"sklearn": OTHER_MAJOR})
    with pytest.raises(VersionMismatchError) as caught:
        registry.load("toy", 1)
    assert str(caught.value) == (
        f"model `toy` version 1 was trained with scikit-learn {OTHER_MAJOR}; this environment has scikit-learn "
        f"{SKLEARN}: a different major version cannot load it; install scikit-learn=={OTHER_MAJOR} {FIX}")


def test_another_minor_version_loads_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFORM_STRICT_VERSIONS", raising=False)
    registry = registered(tmp_path, {"sklearn": OTHER_MINOR})
    with caplog.at_level(logging.WARNING, logger="mlform.registry"):
        loaded = registry.load("toy", 1)
    assert loaded.model.predict([[3]]).tolist() == ["a"]
    assert caplog.messages == [
        f"warning: model `toy` version 1 was trained with scikit-learn {OTHER_MINOR}; this environment has "
        f"scikit-learn {SKLEARN}: a different minor version; predictions may differ or fail. To be safe, install "
        f"scikit-learn=={OTHER_MINOR} {FIX}; set `MLFORM_STRICT_VERSIONS=1` to refuse such models"]


def test_strict_mode_refuses_another_minor_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFORM_STRICT_VERSIONS", "1")
    registry = registered(tmp_path, {"sklearn": OTHER_MINOR})
    with pytest.raises(VersionMismatchError, match="a different minor version, refused because "
                                                   "`MLFORM_STRICT_VERSIONS` is set"):
        registry.load("toy", 1)


@pytest.mark.parametrize("lineage", [{"sklearn": OTHER_PATCH}, {"sklearn": SKLEARN}, {}])
def test_the_same_minor_version_or_no_record_loads_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           lineage: dict[str, Any]) -> None:
    monkeypatch.setenv("MLFORM_STRICT_VERSIONS", "1")
    with caplog.at_level(logging.WARNING):
        registered(tmp_path, lineage).load("toy", 1)
    assert caplog.messages == []


def test_the_cli_says_which_versions_differ_without_a_traceback(tmp_path: Path, mlform: Callable[..., Any]) -> None:
    registered(tmp_path / ".mlform", {"sklearn": OTHER_MAJOR})
    (tmp_path / "in.csv").write_text("x\n1\n")
    result = mlform("predict", "--model", "toy@1", "--input", tmp_path / "in.csv", "--output", tmp_path / "out.csv",
                    cwd=tmp_path)
    assert result.code == 1
    assert result.err == (f"error: model `toy` version 1 was trained with scikit-learn {OTHER_MAJOR}; this "
                          f"environment has scikit-learn {SKLEARN}: a different major version cannot load it; "
                          f"install scikit-learn=={OTHER_MAJOR} {FIX}\n")
    assert not (tmp_path / "out.csv").exists()


def test_training_records_the_libraries_and_pins_print_them(core_project: Path, mlform: Callable[..., Any]) -> None:
    assert mlform("run", core_project, "--env", "dev").code == 0
    version = Registry(core_project.parent / ".mlform" / "registry").resolve("iris-classifier", "staging", "dev")
    wanted = {"sklearn": "scikit-learn", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas"}
    assert {key: version.lineage[key] for key in wanted} == {key: installed(dist) for key, dist in wanted.items()}
    result = mlform("models", "pins", core_project, "--env", "dev")
    assert (result.code, result.out) == (0, "".join(f"{dist}=={installed(dist)}\n" for dist in wanted.values()))
    assert mlform("models", "pins", core_project, "--model", "iris-classifier@1").out == result.out


def test_pins_of_a_model_that_is_not_registered_fail(core_project: Path, mlform: Callable[..., Any]) -> None:
    result = mlform("models", "pins", core_project)
    assert (result.code, result.err) == (1, "error: model `iris-classifier` is not registered (registered: none)\n")
