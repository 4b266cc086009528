"""Render diagnostics for people (text), machines (JSON) and GitHub Actions (annotations)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mlform.specs.errors import Diagnostic

__all__ = ["FORMATS", "render_diagnostics"]

FORMATS = ("text", "json", "github")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(d: Diagnostic) -> str:
    level = "error" if d.severity == "error" else "warning"
    props = f"file={_escape_property(d.file)},line={d.line},col={d.col},title={_escape_property('mlform ' + level)}"
    body = f"{d.path}: {d.message}" if d.path else d.message
    return f"::{level} {props}::{_escape_data(body)}"


def render_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    """All `diagnostics` in format `fmt`, one per line (JSON: one document)."""
    if fmt == "json":
        rows = [
            {"file": d.file, "line": d.line, "col": d.col, "path": d.path, "severity": d.severity, "message": d.message}
            for d in diagnostics
        ]
        errors = sum(d.severity == "error" for d in diagnostics)
        return json.dumps({"format_version": 1, "valid": errors == 0, "errors": errors, "diagnostics": rows},
                          indent=2)
    if fmt == "github":
        return "\n".join(_github(d) for d in diagnostics)
    return "\n".join(str(d) for d in diagnostics)
