"""Checks across a target's settings and the rest of the spec."""

from __future__ import annotations

from collections.abc import Iterator

from .finding import Finding, Sections

__all__ = ["kubernetes_ui_findings"]


def kubernetes_ui_findings(s: Sections) -> Iterator[Finding]:
    """`targets.kubernetes.ui` needs a shared state backend (a pod's own folder would show an empty UI), and its
    read-only credentials the backend they are for."""
    target = s["targets"].kubernetes
    if target is None or not target.ui.enabled:
        return
    kind = s["state"].backend.kind
    if kind == "local":
        yield Finding(("targets", "kubernetes", "ui", "enabled"),
                      f"the UI in the cluster reads the state from a shared backend, but `state.backend.kind` is "
                      f"`{kind}`: set `state.backend` to `postgres` or `s3`")
    if target.ui.state_url is not None and kind != "postgres":
        yield Finding(("targets", "kubernetes", "ui", "state_url"),
                      f"`state_url` is a `postgres` backend's URL, but `state.backend.kind` is `{kind}`"
                      f"{'; for `s3` give the UI a read-only role with `aws_role`' if kind == 's3' else ''}",
                      on_key=True)
