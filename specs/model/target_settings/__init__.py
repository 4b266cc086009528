"""The `targets` section, assembled from each installed target's declaration.

A target declares itself once, in a module importing only `mlform.specs` (no compiler, no Jinja): a
`TargetSettings` naming its key under `targets`, its settings model and the kinds of the files it emits.
Declarations are found through the entry-point group `mlform.target_settings` under the target's name (the
same name as in `mlform.targets`), the built-in ones (the modules beside this one) like a plugin's.
"""

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model

from mlform.specs.entrypoints import entry_points
from mlform.specs.errors import PluginError
from mlform.specs.model.base import SpecModel

__all__ = ["ENTRY_POINT_GROUP", "FILE", "TargetSettings", "Targets", "artifact_kind", "declared_targets"]

ENTRY_POINT_GROUP = "mlform.target_settings"
FILE = "file"
"""The artifact kind of a file no declaration claims: compared line by line."""


@dataclass(frozen=True)
class TargetSettings:
    """One target as specs see it: its key under `targets`, its settings model, and the kinds of its files."""

    key: str
    model: type[SpecModel]
    description: str
    artifacts: tuple[tuple[str, str], ...] = ()
    """(glob over the path relative to the output root, artifact kind) pairs; the first match names the kind."""
    order: int = 100
    """Place of the key in the `targets` section and its dumps (lower first, then by name)."""


def _loaded(name: str, value: str, declared: Any) -> TargetSettings:
    if not isinstance(declared, TargetSettings):
        raise PluginError(f"target `{name}` ({value}) is not a `TargetSettings` declaration")
    if not declared.key.isidentifier() or declared.key.startswith("_"):
        raise PluginError(f"target `{name}` ({value}) declares the key `{declared.key}`, not an identifier")
    if not (isinstance(declared.model, type) and issubclass(declared.model, SpecModel)):
        raise PluginError(f"target `{name}` ({value}) declares settings that are not a `SpecModel`")
    return declared


@cache
def declared_targets() -> dict[str, TargetSettings]:
    """Every installed target's declaration by target name, in declared order, then by name."""
    found: dict[str, TargetSettings] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            declared = entry.load()
        except Exception as exc:  # a broken plugin must name itself, not crash validation
            raise PluginError(f"target `{entry.name}` ({entry.value}) cannot be loaded: {exc}") from exc
        found[entry.name] = _loaded(entry.name, entry.value, declared)
    keys = [d.key for d in found.values()]
    taken = sorted({key for key in keys if keys.count(key) > 1})
    if taken:
        owners = ", ".join(f"`{name}`" for name, d in found.items() if d.key in taken)
        raise PluginError(f"targets {owners} declare the same key `{taken[0]}`")
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def _targets_model() -> type[SpecModel]:
    """The `targets` section: an optional field per declared target, keyed as it declares."""
    fields: dict[str, Any] = {d.key: (d.model | None, Field(None, description=d.description))
                              for d in declared_targets().values()}
    return create_model("Targets", __base__=SpecModel, __doc__="Each present key enables that target.",
                        __module__=__name__, **fields)


if TYPE_CHECKING:
    class Targets(SpecModel):
        """Each present key enables that target; a key's settings are its target's declared model."""

        def __getattr__(self, key: str) -> Any: ...
else:  # built last: the built-in declarations import `TargetSettings` from this module while it loads
    Targets = _targets_model()


def artifact_kind(path: str) -> str:
    """How a generated file at `path` (relative to the output root) compares, from its target's declaration."""
    for declared in declared_targets().values():
        for pattern, kind in declared.artifacts:
            if fnmatchcase(path, pattern):
                return kind
    return FILE
