"""Images the Docker tests build on, with no registry to pull from.

- `mlform-test-base:bookworm-<key>`: Debian made once with debootstrap (Python, pip, venv, the host's extra
  CA certificates so pip can verify a re-signing proxy) and kept in the private engine across sessions.
- `mlform-test-fresh:<key>`: that base plus make and git, what a fresh machine needs to run `make test-fast`
  from a clone.
- `mlform-test-python:<key>`: that base plus a wheelhouse holding a wheel of the working tree and every
  dependency it needs, and an `/etc/pip.conf` that installs only from it. The generated Dockerfiles stay
  as users get them (`pip install mlform==<version>`); pip in them finds mlform here instead of PyPI, and
  the image builds never touch the network. `<key>` hashes the sources, so a changed tree makes a new one.

Every image derived from a test Python image carries its `dev.mlform.tests.python` label; `prune` removes
those of other keys so the cache holds one generation.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from email.parser import Parser
from pathlib import Path
from typing import TYPE_CHECKING

from . import run
from .docker_engine import ROOT, unmount_under

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = ["LABEL", "base_image", "debian_mirror", "fresh_image", "prune", "python_image", "retire",
           "source_key"]

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
PACKAGES = ("ca-certificates", "python3", "python3-pip", "python3-venv")
EXTRA_CAS = Path("/usr/local/share/ca-certificates")
LABEL = "dev.mlform.tests.python"
WHEELHOUSE = "/opt/wheelhouse"
_DEFAULT_MIRROR = "http://deb.debian.org/debian"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _exists(client: DockerClient, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _check(argv: list[str | Path]) -> None:
    """Run a command; RuntimeError with its output when it fails."""
    done = run(argv, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _digest(parts: Iterator[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in parts:
        digest.update(json.dumps([name, len(data)]).encode())
        digest.update(data)
    return digest.hexdigest()[:12]


def _stanzas() -> Iterator[tuple[list[str], list[str]]]:
    """(URIs, suites) of each `deb` source the machine's apt knows, both formats."""
    folder = Path("/etc/apt")
    for path in sorted(folder.glob("sources.list.d/*.sources")):
        for block in path.read_text(errors="replace").split("\n\n"):
            fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line and line[:1].isalpha())
            if "deb" in fields.get("Types", "").split():
                yield fields.get("URIs", "").split(), fields.get("Suites", "").split()
    for path in [folder / "sources.list", *sorted(folder.glob("sources.list.d/*.list"))]:
        lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
        for line in lines:
            words = [w for w in line.split("#", 1)[0].split() if not w.startswith("[") and not w.endswith("]")]
            if len(words) >= 3 and words[0] == "deb":
                yield [words[1]], [words[2]]


def debian_mirror() -> str:
    """The Debian archive the machine's apt uses (its main suite, not security or updates)."""
    for uris, suites in _stanzas():
        if uris and any("-" not in suite for suite in suites):
            return uris[0]
    return _DEFAULT_MIRROR


def base_image(client: DockerClient) -> str:
    """The tag of the debootstrapped base image, made and imported unless the engine already has it."""
    cas = sorted(EXTRA_CAS.glob("*.crt")) if EXTRA_CAS.is_dir() else []
    key = _digest(iter([("suite", SUITE.encode()), ("packages", " ".join(PACKAGES).encode()),
                        *((ca.name, ca.read_bytes()) for ca in cas)]))
    tag = f"mlform-test-base:{SUITE}-{key}"
    if _exists(client, tag):
        return tag
    rootfs, archive = ROOT / "rootfs", ROOT / "rootfs.tar"
    unmount_under(rootfs)
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        _check(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, rootfs,
                debian_mirror()])
        for ca in cas:
            shutil.copy(ca, rootfs / "usr/local/share/ca-certificates" / ca.name)
        _check(["chroot", rootfs, "update-ca-certificates"])
        _check(["chroot", rootfs, "apt-get", "clean"])
        for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()  # plain `pip install` may install system-wide, as in the usual Python images
        _check(["tar", "-C", rootfs, "--numeric-owner", "-cf", archive, "."])
        repository, _, name = tag.partition(":")
        client.api.import_image(src=str(archive), repository=repository, tag=name,
                                changes=[f"ENV PATH={_PATH}", "ENV LANG=C.UTF-8", 'CMD ["python3"]'])
    finally:
        unmount_under(rootfs)
        shutil.rmtree(rootfs, ignore_errors=True)
        archive.unlink(missing_ok=True)
    return tag


def fresh_image(client: DockerClient) -> str:
    """The tag of the base image plus Debian's make and git; built when missing."""
    base = base_image(client)
    tag = f"mlform-test-fresh:{base.partition(':')[2]}"
    if _exists(client, tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="mlform-test-fresh-") as context:
        (Path(context) / "Dockerfile").write_text("\n".join([
            f"FROM {base}",
            "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends make git "
            "&& rm -rf /var/lib/apt/lists/*",
        ]) + "\n")
        client.images.build(path=context, tag=tag, network_mode="host", rm=True, forcerm=True,
                            use_config_proxy=False)
    return tag


def _sources() -> list[Path]:
    """The files a wheel of mlform is made from."""
    package_dirs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    files = [REPO / "pyproject.toml", REPO / "README.md"]
    for folder in sorted(set(package_dirs.values())):
        files += sorted(p for p in (REPO / folder).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    return files


def source_key() -> str:
    """A digest of the sources a wheel of mlform is made from."""
    return _digest((p.relative_to(REPO).as_posix(), p.read_bytes()) for p in _sources())


def _wheel(folder: Path) -> Path:
    """A wheel built from a clean copy of the sources (the build never writes into the working tree)."""
    copy = folder / "src"
    for path in _sources():
        target = copy / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    _check([sys.executable, "-m", "build", "--wheel", "--outdir", folder / "dist", copy])
    (wheel,) = (folder / "dist").glob("mlform-*.whl")
    return wheel


def _requirements(wheel: Path) -> list[str]:
    """The wheel's run-time requirements (markers kept, extras dropped)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    return [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]


def python_image(client: DockerClient) -> str:
    """The tag of the base image plus a wheelhouse of this working tree's mlform; built when missing."""
    base = base_image(client)
    key = _digest(iter([("base", base.encode()), ("sources", source_key().encode())]))
    tag = f"mlform-test-python:{key}"
    if _exists(client, tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="mlform-test-python-") as scratch:
        context = Path(scratch) / "context"
        context.mkdir()
        wheel = _wheel(Path(scratch))
        shutil.copy(wheel, context / wheel.name)
        (context / "requirements.txt").write_text("\n".join(_requirements(wheel)) + "\n")
        (context / "pip.conf").write_text(f"[global]\nno-index = true\nfind-links = {WHEELHOUSE}\n")
        (context / "Dockerfile").write_text("\n".join([
            f"FROM {base}",
            f"COPY requirements.txt {WHEELHOUSE}/",
            (f"RUN python3 -m pip download --no-cache-dir --only-binary=:all: --dest {WHEELHOUSE} "
             f"--requirement {WHEELHOUSE}/requirements.txt"),
            "COPY pip.conf /etc/pip.conf",
            f"COPY {wheel.name} {WHEELHOUSE}/",
            f"LABEL {LABEL}={key}",
        ]) + "\n")
        client.images.build(path=str(context), tag=tag, network_mode="host", rm=True, forcerm=True,
                            use_config_proxy=False)
    return tag


def prune(client: DockerClient, keep: str) -> None:
    """Remove the images built on test Python images other than `keep`, and the layers they leave behind."""
    current = client.images.get(keep).labels.get(LABEL)
    stale = [i for i in client.images.list(filters={"label": LABEL}) if i.labels.get(LABEL) != current]
    for image in sorted(stale, key=lambda i: str(i.attrs["Created"]), reverse=True):
        client.images.remove(image.attrs["Id"], force=True)
    client.images.prune(filters={"dangling": True, "label!": f"{LABEL}={current}"})


def retire(client: DockerClient, repository: str, keep: Iterable[str]) -> None:
    """Remove the images of `repository` tagged none of `keep`; the layers they share with `keep` stay cached."""
    wanted = set(keep)
    for image in client.images.list(name=repository):
        if not wanted & set(image.tags):
            client.images.remove(image.attrs["Id"], force=True)
