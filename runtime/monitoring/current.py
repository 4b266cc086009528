"""The current data of the monitor step: an ingested source, or the serving log (`current: serving_log`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from mlform.specs.check.monitoring_check import serving_log_path
from mlform.specs.errors import StepError
from mlform.specs.model.monitoring_checks import SERVING_LOG, parse_duration

from .servinglog import read_serving_log

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
    folder = serving_log_path(monitoring, spec.pipeline.serving)
    assert folder is not None  # checked when the spec is validated
    read = monitoring.serving_log
    window = parse_duration(read.window) if read is not None and read.window else None
    only = version if read is None or read.version == "served" else None
    if only is None and (read is None or read.version == "served"):
        raise StepError("monitor", f"`current: {SERVING_LOG}` reads the served version's rows, but no version of "
                                   f"`{model}` is served (set `monitoring.serving_log.version: all` to read every row)")
    log = read_serving_log(spec.root / folder, model, only, window)
    if log.frame.empty:
        raise StepError("monitor", f"the serving log `{folder}` has no rows to monitor: {log.describe()}")
    return log.frame, f"serving log `{folder}`: {log.describe()}"
