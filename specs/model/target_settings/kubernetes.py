"""The kubernetes target's declaration: `targets.kubernetes` settings; its manifests compare as objects."""

from typing import Annotated, Literal

from pydantic import Field

from mlform.specs.model.base import AWS_ROLE, GrownSpecModel, Name, section_default
from mlform.specs.model.kubernetes_ui import KubernetesUi
from mlform.specs.model.target_settings import TargetSettings

__all__ = ["SETTINGS", "KubernetesTarget"]


class KubernetesTarget(GrownSpecModel):
    """Kubernetes manifests: training Job, monitoring CronJob and serving."""

    omit_when_default = frozenset({"aws_role", "ui"})  # new settings keep the digests of specs without them

    namespace: Name = Field("default", description="Namespace every manifest goes into.")
    serving: Literal["deployment", "kserve"] = Field(
        "deployment", description="`deployment`: a Deployment and a Service; `kserve`: a KServe InferenceService.")
    service_account: Name | None = Field(
        None, description="Existing service account the pods run as; when omitted the manifests create one.")
    image_pull_secret: Name | None = Field(
        None, description="Name of a Secret holding registry credentials, for pulling private images.")
    aws_role: Annotated[str, Field(pattern=AWS_ROLE)] | None = Field(
        None, description="IAM role of the created service account (IRSA) for an `s3` state backend; when omitted "
                          "the pods read AWS keys from the Secret `<name>-aws`.")
    ui: KubernetesUi = Field(
        default_factory=section_default(KubernetesUi),
        description="A read-only `mlform ui` Deployment and ClusterIP Service over the shared state backend; "
                    "no Ingress.")


SETTINGS = TargetSettings(
    order=40, key="kubernetes", model=KubernetesTarget,
    description="Emit Kubernetes manifests: training Job, monitoring CronJob and serving.",
    artifacts=(("deploy/*/*/kubernetes/*.yaml", "kubernetes"), ("deploy/*/*/kubernetes/*.yml", "kubernetes")))
