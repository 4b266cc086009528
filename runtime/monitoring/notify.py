"""`monitoring.notify`: POST a JSON summary of a breach to a webhook whose URL is a secret.

A failed post is reported in the verdict (the URL redacted from the error) and never hides the breach.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from mlform.runtime.secretref import SecretMissingError, read_secret
from mlform.specs.model.monitoring_checks import Notify
from mlform.specs.model.pipeline import Pipeline

__all__ = ["TIMEOUT_S", "breach_summary", "post_breach"]

TIMEOUT_S = 10


def breach_summary(payload: dict[str, Any]) -> dict[str, Any]:
    """What is posted: the pipeline, environment, reasons and the headline figures of a monitor report."""
    drift = payload["drift"]
    return {"event": "mlform.monitor.breach", "pipeline": payload["pipeline"], "env": payload["env"],
            "generated_at": payload["generated_at"], "reasons": payload["verdict"]["reasons"],
            "on_breach": payload["verdict"]["on_breach"], "drifted": drift["drifted"],
            "drifted_share": drift["drifted_share"],
            "checks": {c["key"]: c["breached"] for c in payload.get("checks", [])}}


def post_breach(pipeline: Pipeline, notify: Notify, summary: dict[str, Any]) -> dict[str, Any]:
    """POST `summary` to the webhook; `{"posted": bool, "error": str | None}`, the error free of the URL."""
    try:
        secret = read_secret(pipeline, notify.webhook.secret)
    except SecretMissingError as exc:
        return {"posted": False, "error": str(exc)}
    request = urllib.request.Request(secret.value, data=json.dumps(summary).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            status = response.status
    except (OSError, ValueError) as exc:
        return {"posted": False, "error": secret.redact(f"the webhook `{notify.webhook.secret}` failed: {exc}")}
    return {"posted": True, "error": None, "status": status}
