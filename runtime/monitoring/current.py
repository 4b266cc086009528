"""The current data of the monitor step: an ingested source, or the serving log (`current: serving_log`)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pandas as pd

from mlform.specs.check.monitoring_check import serving_log_path, serving_log_sink
from mlform.specs.errors import MlformError, StepError
from mlform.specs.model.monitoring_checks import SERVING_LOG, parse_duration

from .servinglog import ServingLog, prune_backend_log, read_backend_log, read_serving_log

if TYPE_CHECKING:
    from mlform.runtime.run.context import Job

__all__ = ["current_frame"]


def current_frame(job: Job, model: str, version: int | None) -> tuple[pd.DataFrame, str | None]:
    """The current rows, and a note on what was read from the serving log (None for a source)."""
    spec = job.spec
    monitoring = spec.pipeline.monitoring
    assert monitoring is not None  # the step exists only when monitoring is declared
    if monitoring.current != SERVING_LOG:
        return job.frame(monitoring.current), None
    read = monitoring.serving_log
    window = parse_duration(read.window) if read is not None and read.window else None
    only = version if read is None or read.version == "served" else None
    if only is None and (read is None or read.version == "served"):
        raise StepError("monitor", f"`monitoring.current: {SERVING_LOG}` reads the served version's rows, but no "
                                   f"version of `{model}` is served (set `monitoring.serving_log.version: all` to "
                                   "read every row)")
    log, where, pruned = _read(job, model, only, window)
    if log.frame.empty:
        raise StepError("monitor", f"the serving log {where} has no rows to monitor: {log.describe()}{pruned}")
    return log.frame, f"serving log {where}: {log.describe()}{pruned}"


def _read(job: Job, model: str, version: int | None, window: timedelta | None) -> tuple[ServingLog, str, str]:
    """The serving log's rows from its folder or the state backend, where that is, and the batches deleted after
    reading (`serving.log.retention_days`), for messages."""
    spec = job.spec
    if serving_log_sink(spec.pipeline.monitoring, spec.pipeline.serving):
        from mlform.runtime.serving.logsink import log_prefix
        from mlform.runtime.storage.backends.url import backend_for

        prefix = log_prefix(spec.pipeline.registry.model_name, spec.env)
        settings = spec.pipeline.serving.log if spec.pipeline.serving is not None else None
        retention = settings.retention_days if settings is not None else None
        try:
            backend = backend_for(spec)
            log = read_backend_log(backend, prefix, model, version, window)
            deleted = prune_backend_log(backend, prefix, timedelta(days=retention)) if retention else 0
        except MlformError as exc:
            raise StepError("monitor", f"cannot read the serving log `{prefix}`: {exc}") from None
        pruned = f"; {deleted} batch(es) older than {retention} days deleted" if deleted else ""
        return log, f"`{prefix}` of the backend", pruned
    folder = serving_log_path(spec.pipeline.monitoring, spec.pipeline.serving)
    assert folder is not None  # checked when the spec is validated
    return read_serving_log(spec.root / folder, model, version, window), f"`{folder}`", ""
