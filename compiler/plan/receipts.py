"""Plan receipts: after `apply`, the evidence that lets `plan` answer an unchanged spec without loading it.

`apply` writes a receipt per spec file and environment into the state folder once a fresh plan after it is a no-op.
It holds the spec file's sha256 and that of what its environment resolves to, the toolchain (mlform and the digest
of its files, its target plugins, the packages that shape validation and rendering, the estimators' distributions),
the inputs (project root, output root, targets, templates and their content digest), the lock files beside the spec,
the version of the state document in the backend (so an apply from another working copy on a shared backend makes
it stale; how to reopen that backend is kept without any secret), stamps of every data file the steps read, of
every generated file and of each step's output marker (each with the digest it must have), the environment's
aliases of its model (where they are read from, their values then and those its last apply set), the folders whose
files the spec could orphan, the policy file in force and its digest (a receipt is written only for a spec that
satisfies it, warnings included), and the no-op plan
itself. An index per spec file names the environments a plan without `--env` resolves to, once all of them
validated.

`plan` checks a receipt with stats, re-hashing only a file whose stat moved, importing nothing heavy; a spec file
whose bytes moved is parsed (not validated) and holds while the environment resolves as recorded, so editing and
applying one environment leaves another's fast path in place; when
everything matches, and one `read_many` per backend for all the specs of a command finds their states
unchanged, it emits the recorded plan; anything else takes the full path, which validates the spec file and still
answers each environment whose receipt holds from it (only the others are planned). Aliases are compared by
value, not by their file's bytes: another environment's move, or a retrain by `mlform monitor`, leaves this plan
as it was but for its notes, which are made again from the aliases now; only a pinned `production` that moved
takes the full path (apply moves it back). Specs with `sql` sources get no receipt: their data is known only by
querying.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.compiler.workspace import FOLDERS, policy_file, project_root
from mlform.runtime.registry.aliasfile import alias_table, env_aliases
from mlform.runtime.storage.statedir import state_dir_for
from mlform.specs.errors import PlanError
from mlform.specs.fsutil import file_sha256, write_atomic
from mlform.specs.graph.libraries import lock_files

from .plans import Plan, PlanInputs, alias_notes
from .specnow import SpecNow
from .stamps import Stamp, estimator_packages, installed, stamp, toolchain, unchanged

if TYPE_CHECKING:
    from mlform.compiler.artifacts.output import Build
    from mlform.runtime.storage.backends.base import Doc
    from mlform.specs import ResolvedSpec

    from .state import StateStore

__all__ = ["RECEIPT_VERSION", "Cached", "cached_plans", "receipt_folder", "record", "still_current", "write_index"]

RECEIPT_VERSION = 4  # 3: aliases by value; 4: resolved digests
_BAD = (KeyError, TypeError, ValueError, AttributeError, IndexError, PlanError)


def receipt_folder(spec_file: Path) -> Path:
    """Where the receipts of a spec file (resolved) live: `plan-receipts/` in its state folder."""
    return state_dir_for(spec_file.parent) / "plan-receipts"


def _path(spec_file: Path, env: str | None) -> Path:
    key = hashlib.sha256(str(spec_file).encode()).hexdigest()[:16]
    return receipt_folder(spec_file) / (f"{key}.json" if env is None else f"{key}.{env}.json")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _write(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps({"version": RECEIPT_VERSION, **data}, sort_keys=True), fsync=False)


def _tree_digest(folder: Path) -> str:
    """sha256 over the relative paths and bytes of every file below `folder`."""
    digest = hashlib.sha256()
    for parent, _, names in sorted(os.walk(folder, followlinks=True)):
        for name in sorted(names):
            path = Path(parent, name)
            digest.update(f"{path.relative_to(folder).as_posix()}\0{file_sha256(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


@cache
def _inputs(inputs: PlanInputs, cwd: Path) -> dict[str, Any]:
    root = project_root(cwd)
    templates = inputs.templates.resolve() if inputs.templates else None
    return {"root": str(root), "out": str((inputs.out or root).resolve()),
            "targets": sorted(set(inputs.targets)) if inputs.targets else None,
            "templates": str(templates) if templates else None,
            "templates_sha256": _tree_digest(templates) if templates else None}


def _policy(inputs: PlanInputs, cwd: Path) -> dict[str, str | None]:
    """The policy file in force (resolved) and its digest; both None when there is none."""
    path = policy_file(inputs.policy, cwd)
    return {"policy": str(path.resolve()) if path else None, "policy_sha256": _sha_or_none(path) if path else None}


def _satisfied_policy(spec: ResolvedSpec, inputs: PlanInputs, cwd: Path) -> dict[str, str | None] | None:
    """`_policy` when `spec` satisfies the policy in force (read once: what is checked is what is recorded)."""
    from mlform.specs.check.policy import parse_policy
    from mlform.specs.check.policy_check import check_policy
    from mlform.specs.errors import SpecError

    path = policy_file(inputs.policy, cwd)
    if path is None:
        return {"policy": None, "policy_sha256": None}
    try:
        raw = path.read_bytes()
        broken = bool(check_policy(parse_policy(raw, str(path)), [spec]))
    except (OSError, SpecError):
        return None
    if broken:
        return None
    return {"policy": str(path.resolve()), "policy_sha256": "sha256:" + hashlib.sha256(raw).hexdigest()}


def _packages_match(packages: dict[str, str | None]) -> bool:
    return all(installed(name) == version for name, version in packages.items())


def _sha_or_none(path: str | Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


@dataclass(frozen=True)
class Cached:
    """Plans from receipts, valid while each state document named is still at the version recorded; `missed` names
    the environments whose receipt does not hold (planned in full, beside these)."""

    plans: list[Plan]
    states: list[dict[str, Any]]  # {"backend": backend_ref, "key", "version"}
    aliases: list[dict[str, Any]]  # per plan: {"file" or None (then "key" in its state's backend), "env", ...}
    missed: tuple[str, ...] = ()


def _doc_aliases(raw: bytes | None, env: str) -> dict[str, int] | None:
    """The aliases environment `env` sees in an aliases file's bytes (None: no file); None when unreadable."""
    try:
        return env_aliases(*alias_table(json.loads(raw)), env) if raw is not None else {}
    except ValueError:
        return None


def _file_aliases(path: str, env: str) -> dict[str, int] | None:
    try:
        raw: bytes | None = Path(path).read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError:
        return None
    return _doc_aliases(raw, env)


def _with_aliases(plan: Plan, check: dict[str, Any], now: dict[str, int] | None) -> Plan | None:
    """`plan` with its notes made for the aliases `now`; None when they are unknown or the pinned `production` moved
    (apply would move it back: a change the full path shows)."""
    if now is None:
        return None
    values = check["values"]
    if now != values:
        if check["pinned"] and now.get("production") != values.get("production"):
            return None
        plan.notes = alias_notes(now, check["applied"])
    return plan


def _complete(path: str, recorded: Stamp | None, seen: int, steps: dict[str, str]) -> bool:
    """Whether a step's output marker still marks its output complete: unchanged, or written again for the same
    step and fingerprint (a forced re-run, as a retrain by `mlform monitor`, which changes no plan)."""
    if unchanged(path, recorded, seen, rehash=True):
        return True
    try:
        marker = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return False
    fingerprint = Path(path).parent.name
    return (isinstance(marker, dict) and marker.get("fingerprint") == fingerprint
            and marker.get("step") == steps.get(fingerprint))


def _recorded_plan(receipt: Any, spec: SpecNow, spec_sha: str, inputs: dict[str, Any]) -> Plan | None:
    """The receipt's plan when everything it recorded locally is unchanged; None otherwise."""
    try:
        if (receipt["version"] != RECEIPT_VERSION or receipt["spec"] != str(spec.path)
                or (receipt["spec_sha256"] != spec_sha and not spec.matches(receipt["env"], receipt["resolved_sha256"]))
                or receipt["toolchain"] != toolchain() or receipt["inputs"] != inputs
                or not _packages_match(receipt["packages"])):
            return None
        if not isinstance(receipt["state"]["version"], str):
            return None
        seen, out, generated = receipt["seen_ns"], inputs["out"], receipt["generated"]
        if not all(unchanged(os.path.join(out, relative), entry, seen, rehash=True)
                   for relative, entry in generated.items()):
            return None
        if FOLDERS.orphans_in(out, receipt["folders"], generated):
            return None
        if [str(path) for path in lock_files(spec.path.parent)] != receipt["lock_files"]:  # one added or removed
            return None
        if not all(unchanged(path, entry, seen, rehash=True) for path, entry in receipt["data"].items()):
            return None
        plan = Plan.from_dict(receipt["plan"])
        steps = {str(c.after): c.address for c in plan.of("step")}
        if not all(_complete(path, entry, seen, steps) for path, entry in receipt["markers"].items()):
            return None
        check = receipt["aliases"]
        if check["file"] is None:  # on a shared backend: read with the states, in `still_current`
            return plan
        return _with_aliases(plan, check, _file_aliases(check["file"], check["env"]))
    except _BAD:
        return None


def cached_plans(spec_file: Path, env: str | None, inputs: PlanInputs) -> Cached | None:
    """The plans of `spec_file` (all its environments, or `env`) from the receipts that hold, the others `missed`;
    None when its environments are unknown. `still_current` says whether the backend's states still match them."""
    resolved = spec_file.resolve()
    spec_sha = _sha_or_none(resolved)
    if spec_sha is None or (env is not None and not env.replace("-", "").isalnum()):
        return None
    now = SpecNow(resolved)
    if env is None:
        index = _read(_path(resolved, None))
        try:
            if (index["version"] != RECEIPT_VERSION or index["spec"] != str(resolved)
                    or index["toolchain"] != toolchain() or not _packages_match(index["packages"])):
                return None
            envs = [str(name) for name in index["envs"]]
            if index["spec_sha256"] != spec_sha and (
                    now.environments() != envs or not now.matches(None, index["base_sha256"])):
                return None
        except _BAD:
            return None
    else:
        envs = [env]
    recorded = {**_inputs(inputs, Path.cwd()), **_policy(inputs, Path.cwd())}
    plans, states, aliases, missed = [], [], [], []
    for name in envs:
        receipt = _read(_path(resolved, name))
        plan = _recorded_plan(receipt, now, spec_sha, recorded)
        if plan is None or plan.env != name:
            missed.append(name)
            continue
        plan.spec = str(spec_file)
        plans.append(plan)
        states.append(receipt["state"])
        aliases.append(receipt["aliases"])
    return Cached(plans, states, aliases, tuple(missed))


def still_current(found: Sequence[Cached]) -> list[bool]:
    """For each of `found`, whether every state it names is at the recorded version, its plans' notes made for the
    aliases on a shared backend now: one read per backend, of the states and aliases together."""
    from mlform.runtime.storage.backends.url import reopen

    keys: dict[str, set[str]] = {}
    refs: dict[str, dict[str, Any]] = {}
    for cached in found:
        for state, check in zip(cached.states, cached.aliases, strict=True):
            digest = state["backend"]["sha256"]
            refs[digest] = state["backend"]
            keys.setdefault(digest, set()).update([state["key"]] if check["file"] else [state["key"], check["key"]])
    docs: dict[tuple[str, str], Doc] = {}
    read: set[str] = set()
    for digest, ref in refs.items():
        backend = reopen(ref)
        if backend is None:
            continue  # the URL changed: every receipt on it is stale
        docs.update(((digest, key), doc) for key, doc in backend.read_many(sorted(keys[digest])).items())
        read.add(digest)
    return [_current(cached, docs, read) for cached in found]


def _current(cached: Cached, docs: dict[tuple[str, str], Doc], read: set[str]) -> bool:
    """Whether each state of `cached` is at its recorded version in `docs` (read from the backends `read`), and its
    plans' notes, for aliases on a shared backend, made for those in `docs`."""
    for index, (state, check) in enumerate(zip(cached.states, cached.aliases, strict=True)):
        digest = state["backend"]["sha256"]
        doc = docs.get((digest, state["key"]))
        if digest not in read or doc is None or doc.version != state["version"]:
            return False
        if check["file"] is None:
            raw = docs.get((digest, check["key"]))
            if _with_aliases(cached.plans[index], check, _doc_aliases(raw.data if raw else None, check["env"])) is None:
                return False
    return True


def write_index(spec_file: Path, spec_sha: str | None, checked: Iterable[ResolvedSpec], envs: list[str]) -> None:
    """Record that `spec_file` with `spec_sha` validated in every environment and resolves to `envs`."""
    from mlform.specs.read.overlays import BASE, resolved_digest

    checked = list(checked)
    packages = estimator_packages(checked)
    resolved = spec_file.resolve()
    base = [resolved_digest(spec.document) for spec in checked if spec.env == BASE]
    if spec_sha is None or packages is None or _sha_or_none(resolved) != spec_sha:
        return
    _write(_path(resolved, None), {"spec": str(resolved), "spec_sha256": spec_sha, "envs": envs,
                                   "base_sha256": base[0] if base else None, "toolchain": toolchain(),
                                   "packages": packages})


def _alias_check(spec: ResolvedSpec, states: StateStore, applied: dict[str, int]) -> dict[str, Any] | None:
    """Where the environment's aliases are read from and their values now (before its plan is made), with those its
    last apply set; None when they are neither on this machine nor in the state's backend."""
    from mlform.runtime.registry.models import registry_for

    from .plans import applied_aliases

    registry, name = registry_for(spec), spec.pipeline.registry.model_name
    file = registry.aliases_path(name)
    if file is None and registry.backend is not states.backend:
        return None
    return {"file": str(file) if file is not None else None, "key": registry.aliases_key(name), "env": spec.env,
            "values": registry.aliases(name, spec.env), "applied": applied_aliases(applied, name),
            "pinned": spec.pipeline.registry.production is not None}


def _version_of(store: StateStore) -> str | None:
    doc = store.backend.read(store.key)
    return doc.version if doc is not None else None


def record(spec: ResolvedSpec, inputs: PlanInputs, build: Build, expected: Plan, spec_sha: str | None) -> bool:
    """Write the receipt of `spec` when a fresh plan is a no-op agreeing with `expected`; True when written.

    Stamps are taken before that plan is made, so a file changing meanwhile shows as changed later.
    `spec_sha` is the digest of the spec file's bytes that `spec` was loaded from.
    """
    from mlform.runtime.storage.backends.url import backend_ref
    from mlform.runtime.storage.statedir import StateDir
    from mlform.runtime.storage.store import MARKER
    from mlform.specs.model.data import SqlSource
    from mlform.specs.read.overlays import resolved_digest

    from .planner import make_plan, state_store

    packages = estimator_packages([spec])
    queried = any(isinstance(source, SqlSource) or (source.type == "python" and not (
        source.path and (spec.root / source.path).is_file())) for source in spec.pipeline.data.sources.values())
    policy = _satisfied_policy(spec, inputs, Path.cwd())
    if spec_sha is None or packages is None or queried or policy is None:
        return False
    seen, store = time.time_ns(), StateDir(state_dir_for(spec.root)).store
    steps = {c.address: str(c.after) for c in expected.of("step")}
    states = state_store(spec)
    try:
        generated = {relative: stamp(build.out / relative, seen, digest=True) for relative in sorted(build.files)}
        data = {file: stamp(spec.root / file, seen) for file in expected.data}
        outputs = [store / fp[:2] / fp / MARKER for fp in steps.values()]
        markers = {str(marker): stamp(marker, seen, digest=True) for marker in outputs}
    except OSError:
        return False
    state_doc, state = states.backend.read(states.key), states.read()
    aliases = _alias_check(spec, states, state.aliases if state else {})
    if state_doc is None or aliases is None:
        return False
    plan = make_plan(spec, inputs, build)
    recorded = {**_inputs(inputs, Path.cwd()), **policy}
    agrees = (not plan.has_changes and plan.data == expected.data and recorded["out"] == str(build.out)
              and {c.address: c.after for c in plan.of("step")} == steps
              and {c.address: c.after for c in plan.of("artifact")} == {r: s and s[3] for r, s in generated.items()}
              and _version_of(states) == state_doc.version and _sha_or_none(spec.path) == spec_sha)
    if agrees:
        # a data file is checked against the digest the plan used, so a new stat with the same bytes still holds
        data = {str(spec.root / file): entry and [*entry[:3], plan.data[file]] for file, entry in data.items()}
        folders = {folder: sorted([o.spec, o.env] for o in owners) for folder, owners in build.scanned.items()}
        _write(_path(spec.path, spec.env), {
            "spec": str(spec.path), "env": spec.env, "spec_sha256": spec_sha,
            "resolved_sha256": resolved_digest(spec.document), "toolchain": toolchain(),
            "packages": packages, "inputs": recorded,
            "state": {"backend": backend_ref(spec), "key": states.key, "version": state_doc.version},
            "aliases": aliases, "lock_files": [str(path) for path in lock_files(spec.path.parent)],
            "seen_ns": seen, "generated": generated, "folders": folders, "data": data, "markers": markers,
            "plan": plan.to_dict()})
    return agrees
