"""The root of a spec: `apiVersion: mlform/v1`, `kind: Pipeline`."""

from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from .base import (
    DNS_LABEL,
    ENV_NAME,
    ENV_VAR,
    LABEL_KEY,
    SECRET_KEY,
    GrownSpecModel,
    Identifier,
    LabelValue,
    NonEmptyStr,
    SpecModel,
    empty_list,
    section_default,
)
from .data import Data, Validation
from .governance import Governance
from .install import Runtime
from .lifecycle import Evaluation, ModelSpec, Monitoring, Registry, Serving, Tracking
from .state_backend import StateSettings
from .target_settings import Targets, declared_targets
from .tuning import Scoring

__all__ = ["ENV_NAME", "KubernetesSecret", "Metadata", "Pipeline", "SecretRef"]

LabelKey = Annotated[str, Field(pattern=LABEL_KEY)]


class Metadata(SpecModel):
    """Who and what the pipeline is."""

    name: Annotated[str, Field(pattern=DNS_LABEL, max_length=53)] = Field(
        description="DNS-1123 label, at most 53 characters; names every artifact.")
    description: str = Field("", description="What the model does, in a sentence or two.")
    intended_use: str = Field("", description="What the model is for, and what it must not be used for.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Kubernetes-style labels copied onto artifacts, e.g. `{team: risk-ml}`.")
    owners: list[NonEmptyStr] = Field(
        default_factory=empty_list, description="Who answers for the model, e.g. team emails.")


class KubernetesSecret(SpecModel):
    """A key of a Kubernetes Secret."""

    secret: Annotated[str, Field(pattern=DNS_LABEL, max_length=253)] = Field(
        description="Name of the Kubernetes Secret, e.g. `fraud-warehouse`.")
    key: Annotated[str, Field(pattern=SECRET_KEY, max_length=253)] = Field(
        description="Key inside the Secret whose value is used, e.g. `url`.")


class SecretRef(SpecModel):
    """Where a secret's value lives; the value itself never appears in a spec or an artifact."""

    secret_hint: ClassVar[str] = "declare where the value lives (`env` or `kubernetes`), never the value itself"

    env: Annotated[str, Field(pattern=ENV_VAR)] | None = Field(
        None, description="Environment variable that holds the value where mlform runs, e.g. `WAREHOUSE_URL`.")
    kubernetes: KubernetesSecret | None = Field(
        None, description="Kubernetes Secret key that holds the value inside the cluster.")

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.env is None and self.kubernetes is None:
            msg = "a secret needs `env`, `kubernetes` or both"
            raise ValueError(msg)
        return self


class Pipeline(GrownSpecModel):
    """An mlform pipeline spec."""

    omit_when_default = frozenset({"runtime", "state", "scoring", "governance"})
    api_version: Literal["mlform/v1"] = Field(alias="apiVersion", description="Spec format version: `mlform/v1`.")
    kind: Literal["Pipeline"] = Field(description="Kind of spec: `Pipeline`.")
    metadata: Metadata = Field(description="Name, description, labels and owners of the pipeline.")
    data: Data = Field(description="Where data comes from, the target and features, and the train/test split.")
    validation: Validation = Field(
        default_factory=Validation, description="Rules the training data must satisfy before training.")
    model: ModelSpec = Field(description="The scikit-learn estimator, its params and optional preprocessing.")
    evaluation: Evaluation = Field(description="Metrics, the gates they must pass, and the champion comparison.")
    registry: Registry = Field(
        description="The model registry: the name versions go under, the alias a passing one gets.")
    tracking: Tracking = Field(
        default_factory=section_default(Tracking), description="Where runs, params and metrics are recorded.")
    state: StateSettings = Field(
        default_factory=section_default(StateSettings),
        description="Where state, locks, records, the registry, runs and the audit log live; per environment via "
                    "`environments`.")
    serving: Serving | None = Field(None, description="How the model is served; no serving when omitted.")
    monitoring: Monitoring | None = Field(
        None, description="Scheduled drift and performance checks on live data; none when omitted.")
    scoring: Scoring | None = Field(
        None, description="Batch scoring: the registered model scores a source and writes predictions; none when "
                          "omitted.")
    targets: Targets = Field(
        default_factory=Targets, description="Artifacts `mlform compile` emits: "
                                             f"{', '.join(d.key for d in declared_targets().values())}.")
    runtime: Runtime = Field(
        default_factory=section_default(Runtime),
        description="How the generated Dockerfiles and workflows install mlform.")
    governance: Governance = Field(
        default_factory=section_default(Governance),
        description="Branches `apply` may run from and whether it needs a clean tree.")
    environments: dict[Annotated[str, Field(pattern=ENV_NAME)], dict[str, Any] | None] = Field(
        default_factory=dict, description="Overlays deep-merged onto the spec per environment; `null` deletes a key.")
    secrets: dict[Identifier, SecretRef] = Field(
        default_factory=dict, description="Secrets by name: where each value lives, used as `{secret: NAME}`.")
