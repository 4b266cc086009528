"""`mlform build` of a serving image on a shared backend: the build context gets the training library pins of the
version the environment serves, read from the shared registry, so the image is pinned as on the local backend."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
import yaml

from mlform.compiler.artifacts.docker_build import _archive, plan
from mlform.runtime.registry.models import Registry
from mlform.runtime.storage.backends.local import LocalBackend

from .conftest import Project


def _on_s3(doc: dict) -> None:
    doc["state"] = {"backend": {"kind": "local"}}
    doc["environments"]["dev"]["state"] = {"backend": {"kind": "s3", "bucket": "ml-state"}}


def test_the_serving_context_holds_the_pins_of_the_served_version(project: Project, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spec = project.spec("team", edit=_on_s3)
    shared = tmp_path / "shared"  # the shared backend, reached as any backend is: `MLFORM_BACKEND`
    monkeypatch.setenv("MLFORM_BACKEND", str(shared))
    registry = Registry(LocalBackend(shared), ["dev", "prod"], prefix="registry")
    lineage = {"env": "dev", "sklearn": "1.4.2", "numpy": "1.26.4", "pandas": "2.2.2"}
    for number, trained in enumerate(("1.3.0", "1.4.2"), start=1):
        registry.register("iris-classifier", {"model": number}, [], {}, {**lineage, "sklearn": trained})
    registry.set_alias("iris-classifier", "staging", 2, env="dev")
    (item,) = plan([spec], "dev", ("serve",), cwd=project.root)
    assert item.files == (("mlform-pins-dev.txt", "scikit-learn==1.4.2\nnumpy==1.26.4\npandas==2.2.2\n"),)
    with _archive(item) as context, tarfile.open(fileobj=context) as archive:
        member = archive.extractfile("mlform-pins-dev.txt")
        assert member is not None and member.read().decode() == item.files[0][1]
        assert "mlform.yaml" in archive.getnames()
    (local,) = plan([spec], "prod", ("serve",), cwd=project.root)  # prod keeps the local backend: pins in the build
    assert local.files == ()
    assert yaml.safe_load(spec.read_text())["environments"]["dev"]["state"]["backend"]["kind"] == "s3"
