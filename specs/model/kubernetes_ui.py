"""`targets.kubernetes.ui`: a read-only `mlform ui` in the cluster, over a shared state backend."""

from typing import Annotated

from pydantic import Field

from .base import AWS_ROLE, GrownSpecModel, Name, SecretUse

__all__ = ["KubernetesUi"]


class KubernetesUi(GrownSpecModel):
    """A Deployment and ClusterIP Service running `mlform ui`; reached through the cluster's own auth."""

    omit_when_default = frozenset({"service_account", "aws_role", "state_url"})  # earlier specs keep their digests

    enabled: bool = Field(
        False, description="Deploy the web UI; needs a shared `state.backend` (`postgres` or `s3`).")
    port: int = Field(5010, ge=1, le=65535, description="Port of the UI's container and Service.")
    service_account: Name | None = Field(
        None, description="Existing service account the UI pod runs as; when omitted the manifests create "
                          "`<name>-ui`, bound to no role, so the UI has no access to the Kubernetes API.")
    aws_role: Annotated[str, Field(pattern=AWS_ROLE)] | None = Field(
        None, description="IAM role that may only read the `s3` state bucket, carried by the UI's created service "
                          "account (IRSA); when omitted it carries `targets.kubernetes.aws_role`, which can write.")
    state_url: SecretUse | None = Field(
        None, description="A `postgres` backend's URL for a database role that may only read (`{secret: NAME}`); "
                          "when omitted the UI connects with `state.backend.url`, which can write.")
