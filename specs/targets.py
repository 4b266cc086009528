"""The `targets` section: which artifacts to emit and how."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr, field_validator

from .base import IMAGE, PYTHON_VERSION, Name, NonEmptyStr, SpecModel
from .cron import MACROS, check_cron

__all__ = ["AirflowTarget", "DockerTarget", "GithubActionsTarget", "KubernetesTarget", "Targets"]

ImageRef = Annotated[str, Field(pattern=IMAGE, max_length=255)]


class DockerTarget(SpecModel):
    """Container images for training and serving."""

    image: ImageRef = Field(description="Image repository, e.g. `registry.example.com/team/model`.")
    base_image: ImageRef = "python:3.11-slim"


class GithubActionsTarget(SpecModel):
    """GitHub Actions workflows for pull requests, applies and monitoring."""

    python_version: Annotated[str, Field(pattern=PYTHON_VERSION)] = "3.11"
    runs_on: NonEmptyStr = "ubuntu-24.04"


class AirflowTarget(SpecModel):
    """An Airflow 3 DAG per environment."""

    schedule: StrictStr | None = Field(default=None, description="Cron, an `@daily`-style preset, or null.")
    operator: Literal["bash", "kubernetes"] = "bash"
    retries: Annotated[int, Field(ge=0, le=100)] = 1
    retry_delay_minutes: Annotated[int, Field(ge=0)] = 5

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, schedule: str | None) -> str | None:
        if schedule is None or schedule in MACROS or schedule == "@once":
            return schedule
        return check_cron(schedule)


class KubernetesTarget(SpecModel):
    """Kubernetes manifests: training Job, monitoring CronJob and serving."""

    namespace: Name = "default"
    serving: Literal["deployment", "kserve"] = "deployment"
    service_account: Name | None = None
    image_pull_secret: Name | None = None


class Targets(SpecModel):
    """Each present key enables that target."""

    docker: DockerTarget | None = None
    github_actions: GithubActionsTarget | None = None
    airflow: AirflowTarget | None = None
    kubernetes: KubernetesTarget | None = None
