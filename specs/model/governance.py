"""The `governance` section: where and from what `mlform apply` may change an environment."""

from typing import Annotated

from pydantic import Field, StrictBool

from .base import NonEmptyStr, SpecModel

__all__ = ["Governance"]


class Governance(SpecModel):
    """Review rules `mlform apply` enforces for an environment; set them per environment via `environments`."""

    apply_from: Annotated[list[NonEmptyStr], Field(min_length=1)] | None = Field(
        None, description="Git branches apply may run from, e.g. `[main]`; on a detached HEAD (a CI checkout) the "
                          "branch is read from `GITHUB_REF_NAME`. Any branch when omitted.")
    require_clean_tree: StrictBool = Field(
        False, description="`true` refuses to apply with uncommitted changes in the spec's folder (mlform's state "
                           "aside), so what is applied is what was reviewed.")
