"""The server's watch settings (`serving.validate_inputs`, `serving.log`) as plain JSON, and the parts they build."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .guard import InputGuard
from .logsink import BackendSink, log_prefix
from .requestlog import RequestLog

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["watch_config", "watch_parts"]


def watch_config(resolved: ResolvedSpec | None, spec_dir: Path) -> dict[str, Any]:
    """The watch settings of `resolved` as JSON data a worker process rebuilds them from; `{}` without a spec."""
    serving = resolved.pipeline.serving if resolved is not None else None
    if resolved is None or serving is None:
        return {}
    pipeline = resolved.pipeline
    # `data.pii` may be absent from older spec formats
    pii = getattr(getattr(pipeline.data, "pii", None), "columns", None) or []
    config: dict[str, Any] = {"validate_inputs": serving.validate_inputs,
                              "validation": pipeline.validation.model_dump(mode="json"), "pii": list(pii)}
    log = serving.log
    if log is not None:
        config["log"] = {"sample": log.sample, "buffer_rows": log.buffer_rows}
        if log.path is not None:
            config["log"]["path"] = str(spec_dir / log.path)
        else:  # how to reopen the backend, holding no secret: workers get this through their environment
            from mlform.runtime.storage.backends.url import backend_ref

            config["log"]["sink"] = {"backend": backend_ref(resolved),
                                     "prefix": log_prefix(pipeline.registry.model_name, resolved.env)}
    return config


def watch_parts(config: dict[str, Any], loaded: Any) -> tuple[InputGuard | None, RequestLog | None]:
    """The input guard and request log `config` (from `watch_config`) asks for, for the model `loaded`."""
    from mlform.specs.model.data import Validation

    columns = [str(c["name"]) for c in loaded.version.signature]
    guard = None
    if config.get("validate_inputs", "off") != "off":
        guard = InputGuard(Validation.model_validate(config["validation"]), columns, config["validate_inputs"])
    log = None
    if "log" in config:
        settings = config["log"]
        sink = settings.get("sink")
        target = BackendSink(sink["backend"], sink["prefix"]) if sink else Path(settings["path"])
        log = RequestLog(target, sample=settings["sample"], buffer_rows=settings["buffer_rows"],
                         model=str(loaded.version.name), version=int(loaded.version.version), columns=columns,
                         exclude=config.get("pii", []))
    return guard, log
