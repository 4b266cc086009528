"""The docker target's declaration: `targets.docker` settings; its Dockerfiles compare per stage."""

from typing import Annotated

from pydantic import Field

from mlform.specs.model.base import IMAGE, SpecModel
from mlform.specs.model.target_settings import TargetSettings

__all__ = ["SETTINGS", "DockerTarget"]

ImageRef = Annotated[str, Field(pattern=IMAGE, max_length=255)]


class DockerTarget(SpecModel):
    """Container images for training and serving."""

    image: ImageRef = Field(
        description="Image repository, e.g. `registry.example.com/team/model`; "
                    "tags are derived from the step, environment and spec digest.")
    base_image: ImageRef = Field(
        "python:3.11-slim", description="Image the training and serving images are built on; it needs Python.")


SETTINGS = TargetSettings(
    order=10, key="docker", model=DockerTarget, description="Emit Dockerfiles of the training and serving images.",
    artifacts=tuple((f"deploy/*/*/docker/Dockerfile.{image}", "dockerfile") for image in ("train", "serve")))
