"""A throwaway PostgreSQL cluster for the tests: Debian's `postgresql` installed with apt-get when missing,
one cluster per test session in a fresh folder, on a free port, stopped and removed when the session ends.

initdb and the server refuse to run as root, so as root they run as the `postgres` user, in a folder that
user owns. Local socket connections are trusted (the fixture's own admin connection); TCP connections need
the superuser's password, so tests also see a server refusing wrong credentials. Durability is switched
off (`fsync=off`): the data lives for one session.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from . import run

__all__ = ["Cluster", "free_port", "start", "unavailable"]

USER = "postgres"
_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bindir() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's newest version, else wherever PATH has them."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def unavailable() -> str | None:
    """Why no cluster can start here (a reason to skip with), or None when one can."""
    if _bindir() is None and shutil.which("apt-get") is None:
        return "PostgreSQL's initdb is missing and there is no apt-get to install it"
    return None


def _ensure_installed() -> Path:
    """The server's bin folder, after installing Debian's `postgresql` package when it is missing."""
    bindir = _bindir()
    if bindir is not None:
        return bindir
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        done = run(argv, env=env, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("apt-get installed postgresql but initdb is still missing")
    return bindir


@dataclass
class Cluster:
    """A running cluster: its folders, port and superuser password; `url()` names a database on it."""

    bindir: Path
    folder: Path
    port: int
    password: str

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """A `postgresql://` URL of `database` over TCP, with the superuser's password (or `password`)."""
        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser over the local socket (trusted), outside a transaction."""
        import psycopg

        with psycopg.connect(host=str(self.folder), port=self.port, user=USER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database with a unique name; its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending the sessions still connected to it."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _pg_ctl(self, *args: str) -> None:
        done = run([*_as_postgres(), self.bindir / "pg_ctl", "-D", self.data, *args], timeout=120)
        if done.returncode != 0:
            log = (self.folder / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def stop(self) -> None:
        """Stop the server and remove the cluster's folder."""
        try:
            self._pg_ctl("-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres() -> list[str]:
    """The prefix running a command as the `postgres` user when we are root (the server refuses root)."""
    return ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []


def start() -> Cluster:
    """initdb a new cluster in a fresh folder and start it on a free port (installing PostgreSQL if needed)."""
    bindir = _ensure_installed()
    folder = Path(tempfile.mkdtemp(prefix="mlform-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, USER, USER)  # the server's user must own its data and socket folder
    cluster = Cluster(bindir, folder, free_port(), secrets.token_urlsafe(12))
    pwfile = folder / "pw"
    pwfile.write_text(cluster.password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, USER, USER)
    done = run([*_as_postgres(), bindir / "initdb", "-D", cluster.data, "-U", USER, "--auth-local=trust",
                "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
               timeout=300)
    pwfile.unlink()
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
    options = " ".join([f"-k {folder}", f"-p {cluster.port}", "-c listen_addresses=127.0.0.1",
                        *(f"-c {setting}" for setting in _SETTINGS)])
    try:
        cluster._pg_ctl("-l", str(folder / "server.log"), "-w", "-o", options, "start")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return cluster
