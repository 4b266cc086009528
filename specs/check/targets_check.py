"""Checks across a target's settings and the rest of the spec."""

from __future__ import annotations

from collections.abc import Iterator

from .finding import Finding, Sections

__all__ = ["kubernetes_ui_findings"]


def kubernetes_ui_findings(s: Sections) -> Iterator[Finding]:
    """`targets.kubernetes.ui` needs a shared state backend: a pod's own folder would show an empty UI."""
    target = s["targets"].kubernetes
    if target is None or not target.ui.enabled:
        return
    kind = s["state"].backend.kind
    if kind == "local":
        yield Finding(("targets", "kubernetes", "ui", "enabled"),
                      f"the UI in the cluster reads the state from a shared backend, but `state.backend.kind` is "
                      f"`{kind}`: set `state.backend` to `postgres` or `s3`")
