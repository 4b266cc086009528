"""A private Docker engine for the tests: `docker.io` installed with apt-get when missing, one dockerd per
test session with its own data-root, exec-root and socket under `$XDG_CACHE_HOME/mlform-tests/docker/`.

The daemon runs without a bridge or iptables rules (`--bridge=none --iptables=false`), so containers and
`RUN` steps use the `host` or `none` network. Images and layers stay in the data-root between sessions;
a file lock lets one session at a time own the daemon, and a daemon left by a killed session is stopped
before a new one starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from . import CACHE, run

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = ["HOST", "ROOT", "Engine", "ensure_packages", "start", "unavailable", "unmount_under"]

ROOT = CACHE / "docker"
SOCKET = ROOT / "docker.sock"
HOST = f"unix://{SOCKET}"
PACKAGES = {"dockerd": "docker.io", "debootstrap": "debootstrap"}
_START_TIMEOUT = 90.0
_STOP_TIMEOUT = 30.0


def _missing() -> list[str]:
    """The packages whose tools are not on PATH."""
    return sorted({package for tool, package in PACKAGES.items() if shutil.which(tool) is None})


def unavailable() -> str | None:
    """Why no private engine can start here (a reason to skip with), or None when one can."""
    if os.geteuid() != 0:
        return ("the Docker tests start their own dockerd and build a base image with debootstrap, "
                "which needs root; run them as root")
    missing = _missing()
    if missing and shutil.which("apt-get") is None:
        return f"{', '.join(missing)} missing and no apt-get to install them"
    return None


def ensure_packages() -> None:
    """Install `docker.io` and `debootstrap` with apt-get unless their tools are already there."""
    missing = _missing()
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = run(argv, env=env, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def unmount_under(folder: Path) -> None:
    """Unmount every mount point at or below `folder`, deepest first (lazily when a mount is busy)."""
    prefix = str(folder.resolve())
    with Path("/proc/self/mountinfo").open(encoding="utf-8") as handle:
        points = [line.split()[4].replace("\\040", " ") for line in handle]
    inside = [p for p in points if p == prefix or p.startswith(prefix + "/")]
    for point in sorted(set(inside), key=len, reverse=True):
        if run(["umount", point]).returncode != 0:
            run(["umount", "-l", point])


def _log_tail(chars: int = 4000) -> str:
    """The end of the daemon's log."""
    path = ROOT / "dockerd.log"
    return path.read_text(errors="replace")[-chars:] if path.is_file() else ""


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return not _alive(pid)


@dataclass
class Engine:
    """A running private dockerd and a client of it; `stop()` ends it and unmounts what it leaves."""

    process: subprocess.Popen[bytes]
    client: DockerClient
    lock: IO[str]

    def stop(self) -> None:
        """Remove leftover containers, stop the daemon, unmount its mounts and release the lock."""
        try:
            for container in self.client.containers.list(all=True):
                container.remove(force=True)
        finally:
            self.client.close()
            _terminate(self.process.pid, self.process)
            unmount_under(ROOT / "exec")
            unmount_under(ROOT / "data")
            self.lock.close()  # closing the file releases the lock


def _terminate(pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM, then SIGKILL after a grace period."""
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, _STOP_TIMEOUT):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5)
    if process is not None:
        process.wait(timeout=5)


def _stop_stale() -> None:
    """Stop a daemon a killed session left running on this data-root, and clear its mounts."""
    pidfile = ROOT / "dockerd.pid"
    if pidfile.is_file():
        pid = int(pidfile.read_text().strip() or 0)
        cmdline = Path(f"/proc/{pid}/cmdline")
        if pid > 0 and cmdline.is_file() and str(ROOT / "data").encode() in cmdline.read_bytes():
            _terminate(pid)
        pidfile.unlink(missing_ok=True)
    unmount_under(ROOT / "exec")
    SOCKET.unlink(missing_ok=True)


def start() -> Engine:
    """Start the private daemon (installing it first when needed) and wait until it answers."""
    import docker

    ensure_packages()
    ROOT.mkdir(parents=True, exist_ok=True)
    lock = (ROOT / ".engine.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # one session at a time owns the daemon
    _stop_stale()
    config = ROOT / "daemon.json"
    config.write_text(json.dumps({}))  # ignore the machine's /etc/docker/daemon.json
    argv = ["dockerd", f"--config-file={config}", "--storage-driver=overlay2", "--iptables=false",
            "--ip-masq=false", "--bridge=none", f"--data-root={ROOT / 'data'}", f"--exec-root={ROOT / 'exec'}",
            f"--pidfile={ROOT / 'dockerd.pid'}", f"--host={HOST}",
            "--containerd-namespace=mlform-tests", "--containerd-plugins-namespace=mlform-tests-plugins"]
    with (ROOT / "dockerd.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # Ctrl-C reaches pytest, which stops it cleanly
    try:
        if not _wait_ready(process):
            raise RuntimeError(f"dockerd did not become ready in {_START_TIMEOUT:.0f} s:\n{_log_tail()}")
        return Engine(process, docker.DockerClient(base_url=HOST, version="auto", timeout=600), lock)
    except BaseException:
        _terminate(process.pid, process)
        unmount_under(ROOT / "exec")
        lock.close()  # closing the file releases the lock
        raise


def _wait_ready(process: subprocess.Popen[bytes]) -> bool:
    """Poll the socket until the daemon answers a ping; False if it exits or the time runs out."""
    import docker

    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            docker.APIClient(base_url=HOST, version="auto", timeout=5).close()  # asks the daemon its version
        except docker.errors.DockerException:
            time.sleep(0.3)
        else:
            return True
    return False
