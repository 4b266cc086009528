"""Image references under `targets.docker`: the tag grammar is Docker's, ASCII word characters only."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.specs import validate_file

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata: {name: demo}
data:
  sources: {train: {type: csv, path: train.csv}}
  target: y
  features: [a, b]
model: {estimator: sklearn.linear_model.LogisticRegression}
evaluation: {metrics: [accuracy]}
registry: {model_name: demo}
targets:
  docker: {image: "%s"}
"""
def _spec(folder: Path, image: str) -> Path:
    """A valid spec (with its data file) whose docker image is `image`."""
    (folder / "train.csv").write_text("a,b,y\n1,2,0\n")
    spec = folder / "mlform.yaml"
    spec.write_text(SPEC % image, encoding="utf-8")
    return spec


LIKE = "is not an image reference like `registry.example.com/team/model:tag`"


@pytest.mark.parametrize("image", ["registry.example.com/team/model", "app:v1.2-rc_3", "localhost:5000/app:Latest",
                                   "app:" + "a" * 128])
def test_valid_image_references_pass(tmp_path: Path, image: str) -> None:
    spec = _spec(tmp_path, image)

    assert validate_file(spec)[1] == []


@pytest.mark.parametrize("image", ["app:v\u00e9", "app:\u0661", "app:-v1", "app:" + "a" * 129, "App:v1"])
def test_invalid_image_references_name_the_grammar(tmp_path: Path, image: str) -> None:
    spec = _spec(tmp_path, image)

    diagnostics = validate_file(spec)[1]

    assert [str(d) for d in diagnostics] == [f"{spec}:12:19: error: targets.docker.image: `{image}` {LIKE}"]
