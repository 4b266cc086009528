"""A fresh machine passes `make test-fast`: a Debian container holding only Python 3 (with venv and pip), make and
git gets this working tree's files, as a clone would hold them, and runs the quick subset from scratch, creating
its own .venv from the package index.

The image is the Docker tests' debootstrapped base plus make and git (tests/tools/docker_images.py), kept in the
private engine between sessions; pip's download cache is kept under the tests' cache folder, so only the first
run downloads the dependencies.
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest
from tools import CACHE, docker_engine, docker_images, run

pytestmark = [pytest.mark.integration, pytest.mark.fresh]

REPO = Path(__file__).resolve().parents[1]
PIP_CACHE = CACHE / "fresh-machine-pip"
# a clone's history is not needed, only a work tree git knows (some commands describe the commit they run from)
SCRIPT = ("git init -q && git add -A && git -c user.name=fresh -c user.email=fresh@example.invalid commit -qm clone "
          "&& make test-fast")
_TIMEOUT = 3600


def clone_files() -> list[str]:
    """The files a clone of this working tree would hold: tracked or new, not ignored, not deleted."""
    done = run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    assert done.returncode == 0, done.stderr
    return sorted(name for name in set(done.stdout.split("\0")) if name and (REPO / name).is_file())


def archive(files: list[str]) -> bytes:
    """A tar of `files` under `src/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in files:
            tar.add(REPO / name, arcname=f"src/{name}", recursive=False)
    return buffer.getvalue()


def test_a_fresh_debian_machine_passes_make_test_fast(engine: docker_engine.Engine) -> None:
    image = docker_images.fresh_image(engine.client)
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    container = engine.client.containers.create(
        image, ["sh", "-c", SCRIPT], working_dir="/src", network_mode="host",
        environment={"PIP_CACHE_DIR": "/pip-cache"}, volumes={str(PIP_CACHE): {"bind": "/pip-cache", "mode": "rw"}})
    try:
        assert container.put_archive("/", archive(clone_files()))
        container.start()
        status = container.wait(timeout=_TIMEOUT)["StatusCode"]
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status == 0, logs[-6000:]
    summary = logs.strip().splitlines()[-1]
    assert re.fullmatch(r"=+ \d+ passed(, \d+ (skipped|deselected|xfailed|warnings?))* in .+ =+", summary), logs[-6000:]
