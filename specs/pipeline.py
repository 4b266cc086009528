"""The root of a spec: `apiVersion: mlform/v1`, `kind: Pipeline`."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from .base import (
    DNS_LABEL, ENV_NAME, ENV_VAR, LABEL_KEY, SECRET_KEY, Identifier, LabelValue, NonEmptyStr, SpecModel,
)
from .data import Data, Validation
from .lifecycle import Evaluation, ModelSpec, Monitoring, Registry, Serving, Tracking
from .targets import Targets

__all__ = ["ENV_NAME", "KubernetesSecret", "Metadata", "Pipeline", "SecretRef"]

LabelKey = Annotated[str, Field(pattern=LABEL_KEY)]


class Metadata(SpecModel):
    """Who and what the pipeline is."""

    name: Annotated[str, Field(pattern=DNS_LABEL, max_length=53)] = Field(
        description="DNS-1123 label, at most 53 characters; names every artifact.")
    description: str = ""
    intended_use: str = ""
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    owners: list[NonEmptyStr] = Field(default_factory=list)


class KubernetesSecret(SpecModel):
    """A key of a Kubernetes Secret."""

    secret: Annotated[str, Field(pattern=DNS_LABEL, max_length=253)]
    key: Annotated[str, Field(pattern=SECRET_KEY, max_length=253)]


class SecretRef(SpecModel):
    """Where a secret's value lives; the value itself never appears in a spec or an artifact."""

    secret_hint: ClassVar[str] = "declare where the value lives (`env` or `kubernetes`), never the value itself"

    env: Annotated[str, Field(pattern=ENV_VAR)] | None = None
    kubernetes: KubernetesSecret | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> SecretRef:
        if self.env is None and self.kubernetes is None:
            msg = "a secret needs `env`, `kubernetes` or both"
            raise ValueError(msg)
        return self


class Pipeline(SpecModel):
    """An mlform pipeline spec."""

    api_version: Literal["mlform/v1"] = Field(alias="apiVersion")
    kind: Literal["Pipeline"]
    metadata: Metadata
    data: Data
    validation: Validation = Field(default_factory=Validation)
    model: ModelSpec
    evaluation: Evaluation
    registry: Registry
    tracking: Tracking = Field(default_factory=Tracking)
    serving: Serving | None = None
    monitoring: Monitoring | None = None
    targets: Targets = Field(default_factory=Targets)
    environments: dict[Annotated[str, Field(pattern=ENV_NAME)], dict[str, Any] | None] = Field(
        default_factory=dict, description="Overlays deep-merged onto the spec per environment; `null` deletes a key.")
    secrets: dict[Identifier, SecretRef] = Field(default_factory=dict)
