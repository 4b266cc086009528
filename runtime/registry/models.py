"""The model registry: immutable, integrity-checked versions per model name, plus movable aliases, on a backend.

Keys under the registry's prefix (`registry/` in the state backend, or a `registry.path` folder): 
`<name>/versions/<n>/meta.json` and `model.pkl`, and `<name>/aliases.json`; on the local backend these are
the files of today's layout. A new version number is claimed by writing its `meta.json` with compare-and-swap
(`ABSENT`), so two registrants on one shared backend never get the same number; alias moves are
compare-and-swap updates of `aliases.json`. Model files are checked against their sha256 on every load; a
backend whose files are not on this machine downloads each version once into a local cache keyed by sha256.

Versions are shared by every environment of a spec and numbered once; aliases are scoped per environment
(`{"format": 2, "environments": {env: {alias: version}}}`), so moving `staging` in `prod` never changes what
`dev` serves. An aliases file of the first format (`{alias: version}`, one set for every environment) is
read as every environment's aliases, and converted on the first alias move.
"""

from __future__ import annotations

import json
import pickle
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.runtime.storage.backends.base import ABSENT, Backend, BackendError, ConflictError, Doc
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.runtime.storage.backends.url import backend_at, backend_for
from mlform.runtime.storage.statedir import state_dir_for
from mlform.specs.errors import StateError
from mlform.specs.fsutil import file_sha256
from mlform.specs.read.overlays import BASE, environment_names

from .aliasfile import ALIASES_FORMAT, AliasTable, ForeignFormatError, alias_table, env_aliases

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["ALIASES_FORMAT", "LINEAGE_IDENTITY", "MODEL_FILE", "PICKLE_PROTOCOL", "LoadedModel", "ModelVersion",
           "Registration", "Registry", "RegistryError", "load_model", "registry_at", "registry_for", "save_model"]

MODEL_FILE = "model.pkl"
# the lineage keys that make two registrations "the same lineage": the environment, and the fingerprints
# of the steps that produced the model and its evaluation (their config, upstream steps and data digests)
LINEAGE_IDENTITY = ("env", "fingerprints")
PICKLE_PROTOCOL = 5
_META = "meta.json"
_ALIASES = "aliases.json"


class RegistryError(StateError):
    """A model, version or alias does not exist, or a stored model fails its integrity check."""


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable model version; `path` is its model file."""

    name: str
    version: int
    sha256: str
    path: Path
    signature: list[dict[str, Any]]
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


class Registry:
    """Model versions on a backend (a folder is a local backend rooted there); versions never change once written.

    `environments` names the environments that share the registry (besides `default`): an aliases file of
    the first format is copied into each of them when it is converted. `cache` is the local folder that keeps
    downloaded model files of a backend whose files are not on this machine.
    """

    def __init__(self, store: Path | Backend, environments: Sequence[str] = (), *, prefix: str = "",
                 cache: Path | None = None) -> None:
        self.backend = store if isinstance(store, Backend) else LocalBackend(Path(store))
        self.prefix = prefix.strip("/")
        self.cache = cache
        self.environments = tuple(dict.fromkeys((BASE, *environments)))

    @property
    def root(self) -> Path | None:
        """The registry's folder when its files are on this machine (the local backend), else None."""
        return self.backend.local_path(self.prefix)

    def describe(self) -> str:
        """Where the registry lives, for messages."""
        root = self.root
        return str(root) if root is not None else f"`{self.prefix}/` of the {self.backend.describe()}"

    def _key(self, name: str, *parts: str) -> str:
        if not name or "/" in name or name.startswith("."):
            raise RegistryError(f"`{name}` is not a model name")
        return "/".join(p for p in (self.prefix, name, *parts) if p)

    def _shown(self, key: str) -> str:
        path = self.backend.local_path(key)
        return str(path) if path is not None else f"{key} in the {self.backend.describe()}"

    def aliases_path(self, name: str) -> Path | None:
        """The file holding the aliases of `name` when it is on this machine."""
        return self.backend.local_path(self._key(name, _ALIASES))

    def _json(self, key: str, doc: Doc | None) -> Any:
        try:
            return json.loads(doc.data) if doc is not None else None
        except ValueError as exc:
            raise StateError(f"cannot read state file {self._shown(key)}: {exc}") from None

    def aliases_key(self, name: str) -> str:
        """The key of the aliases file of `name` in the registry's backend."""
        return self._key(name, _ALIASES)

    def _alias_file(self, name: str, doc: Doc | None = None) -> tuple[AliasTable, dict[str, int] | None]:
        """The per-environment aliases of `name`, or ({}, the flat map) for a file of the first format."""
        key = self._key(name, _ALIASES)
        data = self._json(key, doc if doc is not None else self.backend.read(key))
        try:
            return alias_table(data)
        except ForeignFormatError as exc:
            raise StateError(f"aliases file {self._shown(key)} has format {exc.args[0]}; this mlform reads "
                             f"{ALIASES_FORMAT}") from None
        except ValueError:
            raise StateError(f"cannot read state file {self._shown(key)}: not a mapping of aliases to versions") \
                from None

    def environment_aliases(self, name: str) -> AliasTable:
        """Environment -> alias -> version of `name`, for every environment with an alias."""
        table, flat = self._alias_file(name)
        if flat is None:
            return table
        return {env: dict(flat) for env in self.environments} if flat else {}

    def aliases(self, name: str, env: str = BASE) -> dict[str, int]:
        """Alias -> version of `name` as environment `env` sees them (empty when it has none)."""
        return env_aliases(*self._alias_file(name), env)

    def _numbers(self, name: str) -> list[int]:
        folder = self._key(name, "versions") + "/"
        found = (key[len(folder):].split("/") for key in self.backend.keys(folder))
        return sorted(int(parts[0]) for parts in found if len(parts) == 2 and parts[0].isdigit() and parts[1] == _META)

    def _metas(self, name: str, numbers: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The meta data of the versions `numbers` of `name`, fetched in one round trip."""
        keys = {self._key(name, "versions", str(n), _META): n for n in numbers}
        docs = self.backend.read_many(list(keys))
        return {keys[key]: meta for key, doc in docs.items() if isinstance(meta := self._json(key, doc), dict)}

    def _version(self, name: str, number: int, meta: dict[str, Any] | None, aliases: dict[str, int]) -> ModelVersion:
        if meta is None:
            raise RegistryError(f"model `{name}` has no version {number}")
        return ModelVersion(name, number, meta["sha256"], self._model_path(name, number, meta["sha256"]),
                            meta["signature"], meta["metrics"], meta["lineage"],
                            sorted(a for a, v in aliases.items() if v == number), meta["created"],
                            meta.get("evaluation") or {})

    def _model_path(self, name: str, number: int, sha256: str) -> Path:
        """The model file on this machine: the backend's own file, else its place in the download cache."""
        here = self.backend.local_path(self._key(name, "versions", str(number), MODEL_FILE))
        if here is not None:
            return here
        return (self.cache or Path(tempfile.gettempdir()) / "mlform-models") / "models" / sha256 / MODEL_FILE

    def _read(self, name: str, version: int, aliases: dict[str, int]) -> ModelVersion:
        return self._version(name, version, self._metas(name, [version]).get(version), aliases)

    def models(self) -> list[str]:
        """Names of the registered models, sorted."""
        base = f"{self.prefix}/" if self.prefix else ""
        found = (key[len(base):].split("/") for key in self.backend.keys(base))
        return sorted({p[0] for p in found if len(p) == 4 and p[1] == "versions" and p[2].isdigit() and p[3] == _META})

    def versions(self, name: str, env: str = BASE) -> list[ModelVersion]:
        """Every version of `name`, oldest first, with the aliases `env` gives it (empty when not registered)."""
        aliases = self.aliases(name, env)
        metas = self._metas(name, self._numbers(name))
        return [self._version(name, number, meta, aliases) for number, meta in sorted(metas.items())]

    @contextmanager
    def _pickled(self, model: Any, model_file: Path | None) -> Iterator[Path]:
        """The model's file: `model_file`, else `model` pickled into a temp folder removed afterwards."""
        if model_file is not None:
            yield model_file
            return
        with tempfile.TemporaryDirectory(prefix="mlform-register-") as folder:
            path = Path(folder) / MODEL_FILE
            save_model(model, path)
            yield path

    def register(self, name: str, model: Any, signature: list[dict[str, Any]], metrics: dict[str, float],
                 lineage: dict[str, Any], evaluation: dict[str, Any] | None = None, *,
                 model_file: Path | None = None) -> Registration:
        """Store `model` as the next version of `name`: its number claimed by writing `meta.json` if absent.

        `model_file`, when given, is `model` already pickled (a train step's output), stored byte for byte.
        A version of `name` with the same model bytes (sha256) and the same lineage (equal `LINEAGE_IDENTITY`
        values: environment, and fingerprints of training and evaluation) is returned instead of a new one:
        registering it again would add an identical copy (its model file is uploaded again when an interrupted
        registration left it missing). `evaluation` is the evaluate step's verdict (`passed`, `gates`,
        `champion`), kept as promotion evidence.
        """
        identity = {key: lineage.get(key) for key in LINEAGE_IDENTITY}
        with self._pickled(model, model_file) as source:
            sha256 = file_sha256(source).removeprefix("sha256:")
            meta = {"sha256": sha256, "signature": signature, "metrics": metrics, "lineage": lineage,
                    "evaluation": evaluation or {}, "created": datetime.now(UTC).isoformat(timespec="seconds")}
            while True:
                metas = self._metas(name, self._numbers(name))
                same = next((n for n, m in sorted(metas.items()) if m.get("sha256") == sha256
                             and {key: m.get("lineage", {}).get(key) for key in LINEAGE_IDENTITY} == identity), None)
                if same is not None:
                    self._upload_if_missing(name, same, source)
                    return Registration(self._version(name, same, metas[same], self.aliases(name)), created=False)
                number = max(metas, default=0) + 1
                text = json.dumps({"name": name, "version": number, **meta}, indent=2, sort_keys=True, default=str)
                try:
                    self.backend.write(self._key(name, "versions", str(number), _META), text.encode(), expect=ABSENT)
                except ConflictError:  # another registrant claimed this number first: take the next one
                    continue
                self.backend.put_file(self._key(name, "versions", str(number), MODEL_FILE), source)
                return Registration(self._version(name, number, {"name": name, **meta}, self.aliases(name)),
                                    created=True)

    def _upload_if_missing(self, name: str, number: int, source: Path) -> None:
        key = self._key(name, "versions", str(number), MODEL_FILE)
        if key not in self.backend.keys(self._key(name, "versions", str(number)) + "/"):
            self.backend.put_file(key, source)

    def set_alias(self, name: str, alias: str, version: int, *, env: str) -> int | None:
        """Point `alias` of `name` in environment `env` at `version` (which must exist); the version it held before.

        The move is a compare-and-swap of the aliases file, retried when another writer got there first, so the
        previous version returned is the one really replaced.
        """
        if version not in self._numbers(name):
            raise RegistryError(f"model `{name}` has no version {version}")
        key = self._key(name, _ALIASES)
        while True:
            doc = self.backend.read(key)
            table, flat = self._alias_file(name, doc)
            if flat is not None:  # the first format: every environment saw these aliases, and keeps seeing them
                table = {scope: dict(flat) for scope in dict.fromkeys((*self.environments, env))}
            scoped = table.setdefault(env, {})
            previous = scoped.get(alias)
            if previous == version and flat is None:
                return previous
            scoped[alias] = version
            text = json.dumps({"format": ALIASES_FORMAT, "environments": table}, indent=2, sort_keys=True)
            try:
                self.backend.write(key, text.encode(), expect=doc.version if doc is not None else ABSENT)
            except ConflictError:
                continue
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
        """The version `ref` of `name` (an alias of `env`) once its model file on this machine matches its sha256.

        A backend whose files are elsewhere fills the local cache first (checked as it downloads); the file is
        hashed again on every call, so a cached copy changed since is refused too.
        """
        version = self.resolve(name, ref, env)
        label = f"model `{name}` version {version.version}"
        here = self.backend.local_path(self._key(name, "versions", str(version.version), MODEL_FILE))
        if here is None and not version.path.is_file():
            try:
                self.backend.get_file(self._key(name, "versions", str(version.version), MODEL_FILE), version.path,
                                      "sha256:" + version.sha256)
            except BackendError as exc:
                raise RegistryError(f"{label}: cannot fetch {MODEL_FILE}: {exc}; refusing a tampered or corrupt "
                                    "model") from None
        try:
            actual = file_sha256(version.path).removeprefix("sha256:")
        except OSError as exc:
            raise RegistryError(f"{label}: cannot read {MODEL_FILE}: {exc.strerror}") from None
        if actual != version.sha256:
            raise RegistryError(f"{label}: {MODEL_FILE} has sha256 {actual[:12]}..., registered "
                                f"{version.sha256[:12]}...; refusing a tampered or corrupt model")
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


def registry_at(state_dir: Path, environments: Sequence[str] = ()) -> Registry:
    """The registry of the state folder `state_dir`: `registry/` in its backend, model downloads cached in it."""
    return Registry(backend_at(state_dir), environments, prefix="registry", cache=state_dir / "cache")


def registry_for(spec: ResolvedSpec) -> Registry:
    """The registry of `spec`: `registry/` in its backend; a `registry.path` folder (relative to the spec) when the
    backend is the spec's own state folder, as that setting predates shared backends."""
    state_dir = state_dir_for(spec.root)
    environments = environment_names(spec.document)
    backend = backend_for(spec)
    if spec.pipeline.registry.path and backend.local_path("") == state_dir:
        return Registry(spec.root / spec.pipeline.registry.path, environments)
    return Registry(backend, environments, prefix="registry", cache=state_dir / "cache")
