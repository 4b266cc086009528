"""The airflow target's declaration: `targets.airflow` settings; its DAG files compare as DAGs."""

from typing import Annotated, Literal

from pydantic import Field, StrictStr, field_validator

from mlform.specs.model.base import GrownSpecModel
from mlform.specs.model.cron import MACROS, check_cron
from mlform.specs.model.target_settings import TargetSettings

__all__ = ["SETTINGS", "AirflowTarget"]


class AirflowTarget(GrownSpecModel):
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


SETTINGS = TargetSettings(
    order=30, key="airflow", model=AirflowTarget, description="Emit an Airflow DAG per environment.",
    artifacts=(("deploy/*/*/airflow/*.py", "airflow"),))
