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

    image: ImageRef = Field(
        description="Image repository, e.g. `registry.example.com/team/model`; "
                    "tags are derived from the step, environment and spec digest.")
    base_image: ImageRef = Field(
        "python:3.11-slim", description="Image the training and serving images are built on; it needs Python.")


class GithubActionsTarget(SpecModel):
    """GitHub Actions workflows for pull requests, applies and monitoring."""

    python_version: Annotated[str, Field(pattern=PYTHON_VERSION)] = Field(
        "3.11", description="Python the workflows set up, as a quoted string like `\"3.12\"`.")
    runs_on: NonEmptyStr = Field("ubuntu-24.04", description="Runner label of the jobs, e.g. `ubuntu-24.04`.")


class AirflowTarget(SpecModel):
    """An Airflow 3 DAG per environment."""

    omit_when_default = frozenset({"project_root"})
    schedule: StrictStr | None = Field(
        default=None, description="When the training DAG runs: cron, an `@daily`-style preset, `@once`, "
                                  "or null for manual runs only.")
    operator: Literal["bash", "kubernetes"] = Field(
        "bash", description="`bash` runs steps on the Airflow worker; `kubernetes` runs each step as a pod of the "
                            "training image (needs `targets.kubernetes`).")
    retries: Annotated[int, Field(ge=0, le=100)] = Field(
        1, description="Retries of a failed task before the run fails.")
    retry_delay_minutes: Annotated[int, Field(ge=0)] = Field(5, description="Minutes to wait before each retry.")
    project_root: StrictStr | None = Field(
        None, description="Absolute path of the project checkout on the Airflow workers, where `bash` tasks run; "
                          "a worker's `MLFORM_PROJECT_ROOT` environment variable overrides it. Default: found from "
                          "the DAG file's place under `deploy/<name>/<env>/airflow/` in that checkout.")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, schedule: str | None) -> str | None:
        if schedule is None or schedule in MACROS or schedule == "@once":
            return schedule
        return check_cron(schedule)

    @field_validator("project_root")
    @classmethod
    def _project_root(cls, root: str | None) -> str | None:
        if root is not None and not root.isprintable():
            msg = "the path holds a line break or another control character"
            raise ValueError(msg)
        if root is not None and not root.startswith("/"):
            msg = f"`{root}` is not an absolute path; expected one like `/opt/airflow/projects/ml`"
            raise ValueError(msg)
        return root


class KubernetesTarget(SpecModel):
    """Kubernetes manifests: training Job, monitoring CronJob and serving."""

    namespace: Name = Field("default", description="Namespace every manifest goes into.")
    serving: Literal["deployment", "kserve"] = Field(
        "deployment", description="`deployment`: a Deployment and a Service; `kserve`: a KServe InferenceService.")
    service_account: Name | None = Field(
        None, description="Existing service account the pods run as; when omitted the manifests create one.")
    image_pull_secret: Name | None = Field(
        None, description="Name of a Secret holding registry credentials, for pulling private images.")


class Targets(SpecModel):
    """Each present key enables that target."""

    docker: DockerTarget | None = Field(None, description="Emit Dockerfiles of the training and serving images.")
    github_actions: GithubActionsTarget | None = Field(
        None, description="Emit GitHub Actions workflows; `{}` takes every default.")
    airflow: AirflowTarget | None = Field(None, description="Emit an Airflow DAG per environment.")
    kubernetes: KubernetesTarget | None = Field(
        None, description="Emit Kubernetes manifests: training Job, monitoring CronJob and serving.")
