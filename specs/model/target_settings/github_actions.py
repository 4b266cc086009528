"""The github-actions target's declaration: `targets.github_actions` settings; its files compare as workflows."""

from typing import Annotated

from pydantic import Field

from mlform.specs.model.base import AWS_REGION, AWS_ROLE, PYTHON_VERSION, GrownSpecModel, NonEmptyStr
from mlform.specs.model.data import Data
from mlform.specs.model.target_settings import TargetSettings

__all__ = ["SETTINGS", "GithubActionsTarget", "smokeable"]


class GithubActionsTarget(GrownSpecModel):
    """GitHub Actions workflows for pull requests, applies and monitoring."""

    omit_when_default = frozenset({"aws_role", "aws_region"})  # new settings keep the digests of specs without them

    python_version: Annotated[str, Field(pattern=PYTHON_VERSION)] = Field(
        "3.11", description="Python the workflows set up, as a quoted string like `\"3.12\"`.")
    runs_on: NonEmptyStr = Field("ubuntu-24.04", description="Runner label of the jobs, e.g. `ubuntu-24.04`.")
    aws_role: Annotated[str, Field(pattern=AWS_ROLE)] | None = Field(
        None, description="IAM role the jobs assume by OIDC for an `s3` state backend; when omitted they read the "
                          "`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` secrets.")
    aws_region: Annotated[str, Field(pattern=AWS_REGION)] = Field(
        "us-east-1", description="AWS region of an `s3` state backend's bucket, e.g. `eu-west-1`.")


SETTINGS = TargetSettings(
    order=20, key="github_actions", model=GithubActionsTarget,
    description="Emit GitHub Actions workflows; `{}` takes every default.",
    artifacts=((".github/workflows/*.yml", "workflow"), (".github/workflows/*.yaml", "workflow")))


def smokeable(data: Data) -> bool:
    """Whether a pull-request job can fit the pipeline: its training data needs no secret (a PR job gets none)."""
    return data.sources[data.training_source].type != "sql" and (data.pii is None or data.pii.salt is None)
