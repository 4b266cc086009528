"""The library versions a model was trained with: recorded in its lineage, checked before it loads.

A pickled scikit-learn model is only safe to load with the scikit-learn it was saved with. Another major
version refuses to load; another minor version loads with a warning, or refuses when `MLFORM_STRICT_VERSIONS`
is set; another patch release loads quietly (scikit-learn's own per-estimator warning is replaced by this one).
"""

from __future__ import annotations

import logging
import os
import re
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import TYPE_CHECKING

from mlform.specs.errors import StateError

if TYPE_CHECKING:
    from .models import ModelVersion

__all__ = ["PACKAGES", "STRICT_ENV", "VersionMismatchError", "check_trained_with", "pins", "training_versions"]

# lineage key -> distribution name, for the libraries a fitted scikit-learn model's pickle depends on
PACKAGES = {"sklearn": "scikit-learn", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas"}
STRICT_ENV = "MLFORM_STRICT_VERSIONS"
_RELEASE = re.compile(r"^(\d+)\.(\d+)")
_LOG = logging.getLogger("mlform.registry")


class VersionMismatchError(StateError):
    """A model was trained with a scikit-learn this environment cannot load it with."""


def training_versions() -> dict[str, str]:
    """The installed version of each library in PACKAGES, by lineage key (those installed)."""
    found = {}
    for key, distribution in PACKAGES.items():
        try:
            found[key] = installed_version(distribution)
        except PackageNotFoundError:
            continue
    return found


def pins(version: ModelVersion) -> list[str]:
    """`distribution==version` for each library the lineage of `version` records, in PACKAGES order."""
    return [f"{PACKAGES[key]}=={version.lineage[key]}" for key in PACKAGES if isinstance(version.lineage.get(key), str)]


def _release(text: str) -> tuple[int, int] | None:
    match = _RELEASE.match(text)
    return (int(match[1]), int(match[2])) if match else None


def check_trained_with(version: ModelVersion) -> None:
    """Refuse (VersionMismatchError) or warn when `version` was trained with another scikit-learn than this one."""
    recorded = version.lineage.get("sklearn")
    trained = _release(recorded) if isinstance(recorded, str) else None
    installed_text = training_versions().get("sklearn", "")
    installed = _release(installed_text)
    if trained is None or installed is None or trained == installed:
        return
    model = f"model `{version.name}` version {version.version}"
    said = f"{model} was trained with scikit-learn {recorded}; this environment has scikit-learn {installed_text}"
    fix = f"install scikit-learn=={recorded} (`mlform models pins` lists every pin) or retrain"
    if trained[0] != installed[0]:
        raise VersionMismatchError(f"{said}: a different major version cannot load it; {fix}")
    if os.environ.get(STRICT_ENV, "").lower() in ("1", "true", "yes"):
        raise VersionMismatchError(f"{said}: a different minor version, refused because `{STRICT_ENV}` is set; {fix}")
    _LOG.warning("warning: %s: a different minor version; predictions may differ or fail. To be safe, %s; "
                 "set `%s=1` to refuse such models", said, fix, STRICT_ENV)
