"""`targets.kubernetes.ui`: a read-only `mlform ui` in the cluster, over a shared state backend."""

from __future__ import annotations

from pydantic import Field

from .base import SpecModel

__all__ = ["KubernetesUi"]


class KubernetesUi(SpecModel):
    """A Deployment and ClusterIP Service running `mlform ui`; reached through the cluster's own auth."""

    enabled: bool = Field(
        False, description="Deploy the web UI; needs a shared `state.backend` (`postgres` or `s3`).")
    port: int = Field(5010, ge=1, le=65535, description="Port of the UI's container and Service.")
