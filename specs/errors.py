"""Errors raised by mlform: one root, one subclass per stage; stage-specific classes live beside their code.

MlformError
├── SpecError                  a spec cannot be read or is invalid; carries every Diagnostic at once
│   ├── EditError              a spec file cannot be edited in place safely (specs/read/yamledit)
│   ├── SourceUnreadableError  a data file's header or schema cannot be read (specs/check/columns)
│   └── FilterSyntaxError      a slice filter is outside its grammar (specs/check/filter_expr)
├── GraphError                 the step graph has a cycle or a missing dependency
├── RenderError                an artifact cannot be produced from the graph
│   └── BuildError             an image build failed (compiler/artifacts/docker_build)
├── PlanError                  a plan or diff cannot be made, or a saved plan cannot be applied
│   ├── DiffError              the specs at a git ref cannot be compared (compiler/diff/compare)
│   ├── GitError               git cannot materialise a ref (compiler/diff/gitrefs)
│   └── ReproduceError         a version cannot be retrained from its lineage (compiler/governance/reproduce)
├── StateError                 state, registry or logs cannot be read, written or locked
│   ├── LockHeldError          a lock is held by another process (specs/fsutil; state backends too)
│   ├── BackendError           a state backend cannot be reached or refuses a request (runtime/storage/backends)
│   │   └── ConflictError      a compare-and-swap write lost: the key changed since it was read
│   ├── AuditError             the audit log is unreadable or its chain broken (runtime/storage/auditlog)
│   ├── RegistryError          a model registry operation is refused (runtime/registry/models)
│   ├── ForeignFormatError     an aliases file of a format this mlform does not read (runtime/registry/aliasfile)
│   ├── VersionMismatchError   a model was saved by another library version (runtime/registry/compat)
│   ├── TrackingError          the tracking backend failed (runtime/tracking/tracking_mlflow)
│   └── CardError              a model card's subject cannot be found (compiler/governance/card)
│       └── VersionUnreachableError  the pinned version is not in this registry
├── PluginError                an installed plugin (a target's declaration) cannot be loaded
└── StepError                  a runtime step failed
    └── StepPartError          a part of a step failed; the runner names the step around it
        ├── IngestError        a data source cannot be read (runtime/steps/ingest)
        ├── SplitError         the rows cannot be split (runtime/steps/split)
        ├── TrainError         the estimator cannot be built (runtime/steps/train)
        ├── UserCodeError      a user function cannot be imported, or raised (runtime/steps/usercode)
        ├── ValidationFailedError  data validation rules failed (runtime/steps/actions)
        ├── UnsupportedPatternError  a regex is outside the fast subset (runtime/steps/regex_shape)
        ├── SecretMissingError  a secret's value is not available (runtime/secretref)
        ├── PredictError       batch prediction input is refused (runtime/serving/predict)
        ├── ReviewError        an evaluation review block cannot be computed (runtime/steps/review)
        └── HttpError          the server refuses a request (runtime/serving/httperror)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Diagnostic",
    "EditError",
    "GraphError",
    "MlformError",
    "PlanError",
    "PluginError",
    "RenderError",
    "SpecError",
    "StateError",
    "StepError",
    "StepPartError",
]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding in a spec file, located at `file:line:col` and a dotted key path."""

    file: str
    line: int
    col: int
    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {where}{self.message}"


class MlformError(Exception):
    """Root of every error mlform raises on purpose."""


class SpecError(MlformError):
    """A spec file is unreadable or invalid; `diagnostics` holds every finding, sorted."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        """The findings of severity `error`."""
        return [d for d in self.diagnostics if d.severity == "error"]


class EditError(SpecError):
    """A spec file cannot be edited in place safely; the diagnostic says where and why."""


class GraphError(MlformError):
    """The step graph is not a DAG, or a step needs one that does not exist."""


class RenderError(MlformError):
    """A template could not be rendered."""


class PlanError(MlformError):
    """A plan cannot be made, or a saved plan does not fit the current state."""


class StateError(MlformError):
    """State cannot be read, written or locked."""


class PluginError(MlformError):
    """An installed plugin cannot be loaded or declares something unusable; the message names it."""


class StepError(MlformError):
    """A runtime step failed; `step` names it, `key` the dotted spec key whose value failed and `location`
    (`file:line:col`) where that key stands, when known."""

    def __init__(self, step: str, message: str, *, location: str | None = None, key: str | None = None) -> None:
        self.step = step
        self.location = location
        self.key = key
        super().__init__(f"step `{step}` failed: {message}")


class StepPartError(StepError):
    """A part of a step failed; it does not know its step (`step` is empty), the runner names it around it.

    `key` is the dotted spec key whose value failed (`data.sources.train.function`), when one did.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.step = ""
        self.location = None
        self.key = key
        MlformError.__init__(self, message)
