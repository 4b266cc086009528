"""The local model registry: immutable, integrity-checked versions per model name, plus movable aliases.

Layout under the root: `<name>/versions/<n>/model.pkl` and `meta.json` (one folder per version,
built in a temp folder and renamed into place), `<name>/aliases.json`, and `<name>/.lock` serializing
version numbering and alias moves across processes.

Versions are shared by every environment of a spec and numbered once; aliases are scoped per environment
(`{"format": 2, "environments": {env: {alias: version}}}`), so moving `staging` in `prod` never changes what
`dev` serves. An aliases file of the first format (`{alias: version}`, one set for every environment) is
read as every environment's aliases, and converted on the first alias move.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.runtime.storage.statedir import read_json, state_dir_for
from mlform.specs.errors import StateError
from mlform.specs.fsutil import locked, write_atomic
from mlform.specs.read.overlays import BASE, environment_names

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["ALIASES_FORMAT", "LINEAGE_IDENTITY", "MODEL_FILE", "PICKLE_PROTOCOL", "LoadedModel", "ModelVersion",
           "Registration", "Registry", "RegistryError", "load_model", "registry_for", "save_model"]

MODEL_FILE = "model.pkl"
# the lineage keys that make two registrations "the same lineage": the environment, and the fingerprints
# of the steps that produced the model and its evaluation (their config, upstream steps and data digests)
LINEAGE_IDENTITY = ("env", "fingerprints")
PICKLE_PROTOCOL = 5
_META = "meta.json"
_ALIASES = "aliases.json"
ALIASES_FORMAT = 2

AliasTable = dict[str, dict[str, int]]


class RegistryError(StateError):
    """A model, version or alias does not exist, or a stored model fails its integrity check."""


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable model version; `path` is its model file."""

    name: str
    version: int
    sha256: str
    path: Path
    signature: list[dict[str, str]]
    metrics: dict[str, float]
    lineage: dict[str, Any]
    aliases: list[str] = field(default_factory=list)
    created: str = ""
    evaluation: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {**asdict(self), "path": str(self.path)}


@dataclass(frozen=True)
class Registration:
    """What `register` did: the version holding the model, and whether this call created it."""

    version: ModelVersion
    created: bool


@dataclass(frozen=True)
class LoadedModel:
    """A version with its fitted model (an sklearn Pipeline)."""

    version: ModelVersion
    model: Any


def save_model(model: Any, path: Path) -> None:
    """Pickle `model` to `path` (protocol 5: the C pickler, large arrays written without extra copies)."""
    with path.open("wb") as handle:
        pickle.dump(model, handle, protocol=PICKLE_PROTOCOL)


def load_model(path: Path) -> Any:
    """Unpickle a model; only for files whose integrity was checked or that this process wrote."""
    with path.open("rb") as handle:
        return pickle.load(handle)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Registry:
    """Model versions under `root`; every write is atomic and versions never change once written.

    `environments` names the environments that share the registry (besides `default`): an aliases file of
    the first format is copied into each of them when it is converted.
    """

    def __init__(self, root: Path, environments: Sequence[str] = ()) -> None:
        self.root = Path(root)
        self.environments = tuple(dict.fromkeys((BASE, *environments)))

    def _model_dir(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise RegistryError(f"`{name}` is not a model name")
        return self.root / name

    def aliases_path(self, name: str) -> Path:
        """The file holding the aliases of `name`."""
        return self._model_dir(name) / _ALIASES

    def _alias_file(self, name: str) -> tuple[AliasTable, dict[str, int] | None]:
        """The per-environment aliases of `name`, or ({}, the flat map) for a file of the first format."""
        path = self.aliases_path(name)
        data = read_json(path)
        if not isinstance(data, dict):
            return {}, None
        if isinstance(data.get("environments"), dict) and data.get("format") != ALIASES_FORMAT:
            raise StateError(f"aliases file {path} has format {data.get('format')}; this mlform reads "
                             f"{ALIASES_FORMAT}")
        try:
            if isinstance(data.get("environments"), dict):
                return {str(env): {str(a): int(v) for a, v in scoped.items()}
                        for env, scoped in data["environments"].items()}, None
            return {}, {str(alias): int(version) for alias, version in data.items()}
        except (AttributeError, TypeError, ValueError):
            raise StateError(f"cannot read state file {path}: not a mapping of aliases to versions") from None

    def environment_aliases(self, name: str) -> AliasTable:
        """Environment -> alias -> version of `name`, for every environment with an alias."""
        table, flat = self._alias_file(name)
        if flat is None:
            return table
        return {env: dict(flat) for env in self.environments} if flat else {}

    def aliases(self, name: str, env: str = BASE) -> dict[str, int]:
        """Alias -> version of `name` as environment `env` sees them (empty when it has none)."""
        table, flat = self._alias_file(name)
        return dict(flat) if flat is not None else dict(table.get(env, {}))

    def _numbers(self, name: str) -> list[int]:
        folder = self._model_dir(name) / "versions"
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / _META).is_file())

    def _read(self, name: str, version: int, aliases: dict[str, int]) -> ModelVersion:
        folder = self._model_dir(name) / "versions" / str(version)
        meta = read_json(folder / _META)
        if not isinstance(meta, dict):
            raise RegistryError(f"model `{name}` has no version {version}")
        return ModelVersion(name, version, meta["sha256"], folder / MODEL_FILE, meta["signature"], meta["metrics"],
                            meta["lineage"], sorted(a for a, v in aliases.items() if v == version), meta["created"],
                            meta.get("evaluation") or {})

    def models(self) -> list[str]:
        """Names of the registered models, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._numbers(p.name))

    def versions(self, name: str, env: str = BASE) -> list[ModelVersion]:
        """Every version of `name`, oldest first, with the aliases `env` gives it (empty when not registered)."""
        aliases = self.aliases(name, env)
        return [self._read(name, number, aliases) for number in self._numbers(name)]

    def register(self, name: str, model: Any, signature: list[dict[str, str]], metrics: dict[str, float],
                 lineage: dict[str, Any], evaluation: dict[str, Any] | None = None, *,
                 model_file: Path | None = None) -> Registration:
        """Store `model` as the next version of `name`: written in a temp folder, then renamed into place.

        `model_file`, when given, is `model` already pickled (a train step's output), stored byte for byte.
        A version of `name` with the same model bytes (sha256) and the same lineage (equal `LINEAGE_IDENTITY`
        values: environment, and fingerprints of training and evaluation) is returned instead of a new one:
        registering it again would add an identical copy. `evaluation` is the evaluate step's verdict
        (`passed`, `gates`, `champion`), kept as promotion evidence.
        """
        versions = self._model_dir(name) / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=versions.parent))
        identity = {key: lineage.get(key) for key in LINEAGE_IDENTITY}
        try:
            if model_file is None:
                save_model(model, staging / MODEL_FILE)
            else:
                shutil.copyfile(model_file, staging / MODEL_FILE)
            with (staging / MODEL_FILE).open("rb") as handle:
                os.fsync(handle.fileno())
            meta = {"sha256": _sha256(staging / MODEL_FILE), "signature": signature, "metrics": metrics,
                    "lineage": lineage, "evaluation": evaluation or {},
                    "created": datetime.now(UTC).isoformat(timespec="seconds")}
            with locked(versions.parent / ".lock"):
                same = next((v for v in self.versions(name) if v.sha256 == meta["sha256"]
                             and {key: v.lineage.get(key) for key in LINEAGE_IDENTITY} == identity), None)
                if same is not None:
                    shutil.rmtree(staging, ignore_errors=True)
                    return Registration(same, created=False)
                number = (self._numbers(name) or [0])[-1] + 1
                write_atomic(staging / _META, json.dumps({"name": name, "version": number, **meta}, indent=2,
                                                         sort_keys=True, default=str))
                os.rename(staging, versions / str(number))
                _fsync_dir(versions)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return Registration(self._read(name, number, self.aliases(name)), created=True)

    def set_alias(self, name: str, alias: str, version: int, *, env: str) -> int | None:
        """Point `alias` of `name` in environment `env` at `version` (which must exist); the version it held before.

        The previous version is read under the lock that serializes moves, so it is the one really replaced.
        """
        if version not in self._numbers(name):
            raise RegistryError(f"model `{name}` has no version {version}")
        folder = self._model_dir(name)
        with locked(folder / ".lock"):
            table, flat = self._alias_file(name)
            if flat is not None:  # the first format: every environment saw these aliases, and keeps seeing them
                table = {scope: dict(flat) for scope in dict.fromkeys((*self.environments, env))}
            scoped = table.setdefault(env, {})
            previous = scoped.get(alias)
            if previous != version or flat is not None:
                scoped[alias] = version
                write_atomic(self.aliases_path(name),
                             json.dumps({"format": ALIASES_FORMAT, "environments": table}, indent=2, sort_keys=True))
        return previous

    def resolve(self, name: str, ref: int | str, env: str = BASE) -> ModelVersion:
        """The version `ref` of `name`: a version number (int or digits) or an alias of environment `env`."""
        numbers = self._numbers(name)
        if not numbers:
            known = ", ".join(f"`{m}`" for m in self.models()) or "none"
            raise RegistryError(f"model `{name}` is not registered (registered: {known})")
        aliases = self.aliases(name, env)
        if isinstance(ref, int) or str(ref).isdigit():
            version = int(ref)
            if version not in numbers:
                raise RegistryError(f"model `{name}` has no version {version} (versions: {numbers[0]}..{numbers[-1]})")
        elif ref in aliases:
            version = aliases[ref]
        else:
            known = ", ".join(f"`{a}`" for a in sorted(aliases)) or "none"
            elsewhere = sorted(e for e, scoped in self.environment_aliases(name).items() if ref in scoped)
            hint = f"; `{ref}` is set in {', '.join(f'`{e}`' for e in elsewhere)}: pass `--env`" if elsewhere else ""
            raise RegistryError(f"model `{name}` has no alias `{ref}` in environment `{env}` (aliases: "
                                f"{known}){hint}")
        return self._read(name, version, aliases)

    def verify(self, name: str, ref: int | str, env: str = BASE) -> ModelVersion:
        """The version `ref` of `name` (an alias of `env`), after checking its model file against its sha256."""
        version = self.resolve(name, ref, env)
        try:
            actual = _sha256(version.path)
        except OSError as exc:
            raise RegistryError(f"model `{name}` version {version.version}: cannot read {MODEL_FILE}: "
                                f"{exc.strerror}") from None
        if actual != version.sha256:
            raise RegistryError(
                f"model `{name}` version {version.version}: {MODEL_FILE} has sha256 {actual[:12]}..., "
                f"registered {version.sha256[:12]}...; refusing a tampered or corrupt model")
        return version

    def load(self, name: str, ref: int | str, env: str = BASE) -> LoadedModel:
        """The fitted model of version `ref` (an alias of `env`); refuses a file whose sha256 is not registered,
        and one trained with another major (or, strictly, minor) scikit-learn version."""
        from .compat import check_trained_with

        version = self.verify(name, ref, env)
        check_trained_with(version)
        with warnings.catch_warnings():
            # the check above said what matters, once; scikit-learn would warn per estimator in the pipeline
            warnings.filterwarnings("ignore", message="Trying to unpickle estimator")
            return LoadedModel(version, load_model(version.path))


def registry_for(spec: ResolvedSpec) -> Registry:
    """The registry of `spec`: `registry.path` relative to the spec, else `registry` in its state folder."""
    custom = spec.pipeline.registry.path
    return Registry(spec.root / custom if custom else state_dir_for(spec.root) / "registry",
                    environment_names(spec.document))
