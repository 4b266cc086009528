"""Canary rollouts of the Kubernetes target (`serving.canary`): a KServe canary share, or a second Deployment behind
a weighted Gateway API `HTTPRoute` for plain Deployments.

The stable Deployment serves what the environment pins (`registry.production`, else `registry.promote_to`); the
canary Deployment serves the newest candidate, `registry.model_name`@`registry.promote_to`. The route attaches to
the stable Service (the Gateway API's service-mesh binding), so clients keep calling the same address while
`traffic_percent` of their requests reach the canary. `steps` and `max_error_rate` are annotations for the
operator or a rollout controller: they are the plan, not something the manifests enforce.
"""

from __future__ import annotations

from typing import Any

from mlform.compiler.targets import Context

__all__ = ["CANARY_SUFFIX", "canary_annotations", "canary_route", "canary_server_args"]

CANARY_SUFFIX = "canary"


def canary_annotations(ctx: Context) -> dict[str, str]:
    """The rollout plan as annotations: the later traffic shares and the error rate that stops the rollout."""
    serving = ctx.spec.pipeline.serving
    assert serving is not None and serving.canary is not None
    canary = serving.canary
    return {"mlform.dev/canary-traffic-percent": str(canary.traffic_percent),
            "mlform.dev/canary-steps": ",".join(str(step) for step in canary.steps),
            "mlform.dev/canary-max-error-rate": repr(float(canary.max_error_rate))}


def canary_server_args(ctx: Context) -> list[str]:
    """The extra `mlform serve` arguments of the canary: the candidate version of the environment."""
    registry = ctx.spec.pipeline.registry
    return ["--model", f"{registry.model_name}@{registry.promote_to}"]


def canary_route(ctx: Context, stable: str, canary: str, port: int, meta: dict[str, Any]) -> dict[str, Any]:
    """The `HTTPRoute` splitting requests to the stable Service between it and the canary's Service."""
    serving = ctx.spec.pipeline.serving
    assert serving is not None and serving.canary is not None
    share = serving.canary.traffic_percent
    # no `port` on the parent: it joined the standard channel late (v1.1), and the Service has one port
    parent = {"group": "", "kind": "Service", "name": stable}
    rule = {"backendRefs": [{"group": "", "kind": "Service", "name": stable, "port": port, "weight": 100 - share},
                            {"group": "", "kind": "Service", "name": canary, "port": port, "weight": share}]}
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {**meta, "annotations": canary_annotations(ctx)},
            "spec": {"parentRefs": [parent], "rules": [rule]}}
