"""One tracked run as one JSON document (`runs/<spec name>/<run id>.json`): the shape `Tracker.run` returns."""

from __future__ import annotations

import json
from typing import Any

from mlform.specs.errors import StateError

__all__ = ["RUNDOC_FORMAT", "RUN_FIELDS", "doc_to_run", "run_key", "run_to_doc"]

RUNDOC_FORMAT = 1
# a run's own fields, as `Tracker.runs` lists them; the document adds `steps`, `params`, `metrics`, `artifacts`
RUN_FIELDS = ("id", "spec_name", "env", "spec_path", "spec_digest", "status", "started", "finished", "error",
              "git_commit", "git_dirty", "git_diff_sha256")


def run_key(spec_name: str, run_id: str) -> str:
    """The backend key of one run."""
    return f"runs/{spec_name}/{run_id}.json"


def run_to_doc(run: dict[str, Any]) -> bytes:
    """The document of `run` (a `Tracker.run` dict)."""
    return json.dumps({"format": RUNDOC_FORMAT, **run}, sort_keys=True, default=str).encode()


def doc_to_run(data: bytes) -> dict[str, Any]:
    """The `Tracker.run` dict in a run document; StateError when it is not one this mlform reads."""
    try:
        run = json.loads(data)
        if run.pop("format") != RUNDOC_FORMAT or not all(field in run for field in RUN_FIELDS):
            raise ValueError("not a run document of format 1")
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise StateError(f"cannot read a tracked run: {exc}") from None
    return dict(run)
