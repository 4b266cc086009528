"""Checks of the production-readiness lines of `monitoring`: the serving log, the offline gap's metric."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from mlform.specs.model.monitoring_checks import SERVING_LOG, parse_duration

from .explain import did_you_mean
from .finding import Finding, Sections

__all__ = ["serving_log_path", "serving_log_sink", "watch_findings"]


def serving_log_path(monitoring: object, serving: object) -> str | None:
    """The serving log folder: `monitoring.serving_log.path`, else `serving.log.path` (when the server logs)."""
    read = getattr(monitoring, "serving_log", None)
    if read is not None and read.path is not None:
        return str(read.path)
    path = getattr(getattr(serving, "log", None), "path", None)
    return str(path) if path else None


def serving_log_sink(monitoring: object, serving: object) -> bool:
    """Whether the serving log is read from the state backend: `serving.log.sink` and no
    `monitoring.serving_log.path`."""
    read = getattr(monitoring, "serving_log", None)
    if read is not None and read.path is not None:
        return False
    return getattr(getattr(serving, "log", None), "sink", None) == "backend"


def _retention_findings(monitoring: object, serving: object) -> Iterator[Finding]:
    """A retention shorter than the monitor's window would delete batches a later monitor run still reads."""
    retention = getattr(getattr(serving, "log", None), "retention_days", None)
    window = getattr(getattr(monitoring, "serving_log", None), "window", None)
    if retention is None or window is None or not serving_log_sink(monitoring, serving):
        return
    if parse_duration(window) > timedelta(days=retention):
        yield Finding(("serving", "log", "retention_days"),
                      f"{retention} day(s) is shorter than `monitoring.serving_log.window` ({window}): the monitor "
                      "would delete batches that later runs still read; keep batches at least as long as the window")


def watch_findings(s: Sections) -> Iterator[Finding]:
    """Findings for `monitoring.current: serving_log`, `monitoring.serving_log` and `monitoring.offline_gap`."""
    mon = s["monitoring"]
    if mon is None:
        return
    if mon.current == SERVING_LOG:
        if SERVING_LOG in s["data"].sources:
            yield Finding(("data", "sources", SERVING_LOG),
                          f"`{SERVING_LOG}` is reserved for the serving log (`monitoring.current: {SERVING_LOG}`); "
                          "rename this source", on_key=True)
        serving = s.get("serving")
        if serving_log_path(mon, serving) is None and not serving_log_sink(mon, serving):
            yield Finding(("monitoring", "current"),
                          f"`current: {SERVING_LOG}` needs the log folder: set `monitoring.serving_log.path` "
                          "(or `serving.log.path`, or `serving.log.sink: backend`)")
        yield from _retention_findings(mon, serving)
    elif mon.serving_log is not None:
        yield Finding(("monitoring", "serving_log"),
                      f"`serving_log` is read only when `current` is `{SERVING_LOG}` (it is `{mon.current}`)",
                      on_key=True)
    evaluation = s.get("evaluation")
    if mon.offline_gap is not None and evaluation is not None:
        metric, registered = mon.offline_gap.metric, list(evaluation.metrics)
        if metric not in registered:
            yield Finding(("monitoring", "offline_gap", "metric"),
                          f"`{metric}` is not in `evaluation.metrics`, so no version has a registered test value "
                          f"of it{did_you_mean(metric, registered)}")
