"""The audit log of applies: reading and filtering it, and the entry each apply of a plan appends.

The backend's `audit/log.jsonl` (locally `<state dir>/audit/log.jsonl`) holds an entry for every apply of a plan
(who, when, the git commit, the spec and plan digests, the result, the versions registered and the aliases moved),
and one for every other command that moved an alias (`command`: `run`, `monitor`). The hash-chained storage,
shared with the runtime, is in `mlform.runtime.storage.auditlog`; its names are re-exported here. An entry the log
cannot take when the apply ends is kept on this machine and appended before the next audited change
(`mlform.runtime.storage.auditkeep`)."""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from mlform.runtime.registry.journal import Journal
from mlform.runtime.storage.auditkeep import append_or_keep, settle
from mlform.runtime.storage.auditlog import (
    ACTOR_ENV,
    GENESIS,
    AuditError,
    actor,
    append_entry,
    canonical,
    command_fields,
    entry_hash,
    head,
    log_path,
    log_where,
    read_log,
    verify_log,
)
from mlform.runtime.storage.backends.base import Backend
from mlform.runtime.storage.backends.url import backend_for
from mlform.specs.errors import MlformError, PlanError, StateError

if TYPE_CHECKING:
    from mlform.compiler.plan.plans import Plan
    from mlform.compiler.plan.state import State
    from mlform.specs import ResolvedSpec

__all__ = [
    "ACTOR_ENV",
    "GENESIS",
    "RESULTS",
    "AuditError",
    "Recording",
    "actor",
    "append_entry",
    "canonical",
    "command_fields",
    "entry_fields",
    "entry_hash",
    "head",
    "log_path",
    "log_where",
    "plan_digest",
    "read_entries",
    "read_log",
    "recording",
    "verify_log",
]

RESULTS = ("applied", "failed", "refused")

Outcome = tuple["Plan", "State", list[str]]


def plan_digest(plan: Plan) -> str:
    """`sha256:` of the plan's stable JSON (`Plan.to_json()`)."""
    return "sha256:" + hashlib.sha256(plan.to_json().encode()).hexdigest()


def _matches(entry: Mapping[str, Any], env: str | None, model: str | None) -> bool:
    if env is not None and entry.get("env") != env:
        return False
    if model is None:
        return True
    moves = [*(entry.get("registered") or []), *(entry.get("promoted") or [])]
    return any(isinstance(move, dict) and move.get("model") == model for move in moves)


def read_entries(backend: Backend, env: str | None = None, model: str | None = None) -> list[dict[str, Any]]:
    """The entries of a backend's audit log, after verifying the whole chain, filtered by env and model.

    `model` keeps entries that registered a version of that model or moved one of its aliases.
    """
    entries = read_log(backend)
    return [entry for entry in entries if _matches(entry, env, model)]


def entry_fields(spec: ResolvedSpec, plan: Plan, result: str, exc: BaseException | None, after: State | None,
                 journal: Journal) -> dict[str, Any]:
    """The fields of one entry, without `seq`, `prev` and `hash`: the versions registered and aliases moved are
    those `journal` saw while the plan was applied."""
    return {**command_fields(spec, "apply", result, exc), "plan_digest": plan_digest(plan),
            "serial": after.serial if after else None, "registered": journal.registered,
            "promoted": journal.promoted()}


def _read_state(spec: ResolvedSpec) -> State | None:
    from mlform.compiler.plan.planner import state_store

    try:
        return state_store(spec).read()
    except StateError:
        return None


class Recording:
    """One apply being recorded: pass `journal` to `apply_plan`, and give `applied` its outcome."""

    def __init__(self, spec: ResolvedSpec, plan: Plan) -> None:
        self.spec, self.plan = spec, plan
        self.journal = Journal("apply")
        self.after: State | None = None
        self.done = False

    def applied(self, outcome: Outcome) -> Outcome:
        """Keep the plan applied and the final state of a successful apply; return `outcome` unchanged."""
        self.plan, self.after, _ = outcome
        self.done = True
        return outcome

    def finish(self, result: str, exc: BaseException | None = None) -> dict[str, Any]:
        """Append this apply's entry to the audit log."""
        after = self.after if self.done else _read_state(self.spec)
        fields = entry_fields(self.spec, self.plan, result, exc, after, self.journal)
        return append_or_keep(self.spec, backend_for(self.spec), fields)


def _finish_after_error(record: Recording, result: str, exc: BaseException) -> None:
    try:
        record.finish(result, exc)
    except MlformError as failure:  # the apply's own error is the one to report
        print(f"warning: the audit entry of this apply was not written: {failure}", file=sys.stderr)


@contextlib.contextmanager
def recording(spec: ResolvedSpec, plan: Plan) -> Iterator[Recording]:
    """Record the apply of `plan` done in the block: `applied`, `refused` on PlanError, `failed` on anything else.

    A broken audit log, or entries kept on this machine that cannot be appended, refuse the apply before it starts,
    so that no apply goes unrecorded. Errors re-raise.
    """
    settle(spec, backend_for(spec))
    record = Recording(spec, plan)
    try:
        yield record
    except PlanError as exc:
        _finish_after_error(record, "refused", exc)
        raise
    except BaseException as exc:
        _finish_after_error(record, "failed", exc)
        raise
    record.finish("applied")
