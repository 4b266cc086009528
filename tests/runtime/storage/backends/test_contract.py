"""What every backend promises: documents with compare-and-swap, verified files, one lock per name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlform.runtime.storage.backends.base import ABSENT, Backend, BackendError, ConflictError, LockHeldError, check_key
from mlform.runtime.storage.backends.url import open_backend, redact
from mlform.specs.fsutil import file_sha256


def test_documents_round_trip_and_versions_change(backend: Backend) -> None:
    assert backend.read("state/a.dev.json") is None
    first = backend.write("state/a.dev.json", b'{"serial": 1}')
    doc = backend.read("state/a.dev.json")
    assert doc is not None and doc.data == b'{"serial": 1}' and doc.version == first
    second = backend.write("state/a.dev.json", b'{"serial": 2}', expect=first)
    assert second != first
    assert backend.read_many(["state/a.dev.json", "state/none.json"]) == {"state/a.dev.json": backend.read(
        "state/a.dev.json")}


def test_compare_and_swap_refuses_stale_and_existing(backend: Backend) -> None:
    version = backend.write("registry/m/aliases.json", b"1", expect=ABSENT)
    with pytest.raises(ConflictError):
        backend.write("registry/m/aliases.json", b"2", expect=ABSENT)
    backend.write("registry/m/aliases.json", b"3", expect=version)
    with pytest.raises(ConflictError):
        backend.write("registry/m/aliases.json", b"4", expect=version)
    with pytest.raises(ConflictError):
        backend.delete("registry/m/aliases.json", expect=version)
    current = backend.read("registry/m/aliases.json")
    assert current is not None and current.data == b"3"
    backend.delete("registry/m/aliases.json", expect=current.version)
    assert backend.read("registry/m/aliases.json") is None
    with pytest.raises(ConflictError):
        backend.write("registry/m/other.json", b"x", expect=version)


def test_concurrent_increments_lose_no_update(backend_url: str) -> None:
    """Eight writers each add 1 five times through read-modify-write with retry: the total is exact."""
    def work() -> None:
        mine = open_backend(backend_url)
        try:
            for _ in range(5):
                while True:
                    doc = mine.read("counter")
                    try:
                        if doc is None:
                            mine.write("counter", b"1", expect=ABSENT)
                        else:
                            mine.write("counter", str(int(doc.data) + 1).encode(), expect=doc.version)
                        break
                    except ConflictError:
                        continue
        finally:
            mine.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = open_backend(backend_url)
    doc = final.read("counter")
    final.close()
    assert doc is not None and int(doc.data) == 40


def race(backend_url: str, attempt: Callable[[Backend, int], bool], racers: int = 16) -> list[int]:
    """Run `attempt` in `racers` threads released at once, each on its own backend; the numbers of the winners."""
    start, winners = threading.Barrier(racers), []

    def work(number: int) -> None:
        mine = open_backend(backend_url)
        try:
            start.wait()
            if attempt(mine, number):
                winners.append(number)
        finally:
            mine.close()

    threads = [threading.Thread(target=work, args=(number,)) for number in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners


def test_sixteen_writers_creating_one_key_have_one_winner(backend: Backend, backend_url: str) -> None:
    def create(mine: Backend, number: int) -> bool:
        try:
            mine.write("state/race.dev.json", str(number).encode(), expect=ABSENT)
        except ConflictError:
            return False
        return True

    (winner,) = race(backend_url, create)
    doc = backend.read("state/race.dev.json")
    assert doc is not None and doc.data == str(winner).encode()


def test_sixteen_racers_for_one_lock_have_one_holder(backend_url: str) -> None:
    tried = threading.Barrier(16)

    def take(mine: Backend, number: int) -> bool:
        try:
            with mine.lock("state/race.dev", f"apply {number}"):
                tried.wait()  # hold the lock until every racer has tried
                return True
        except LockHeldError:
            tried.wait()
            return False

    assert len(race(backend_url, take)) == 1


def test_keys_list_a_prefix_in_order(backend: Backend) -> None:
    for key in ["runs/b.json", "runs/a.json", "runs/sub/c.json", "state/x.json"]:
        backend.write(key, b"{}")
    with backend.lock("state/x", "apply"):
        assert backend.keys("runs/") == ["runs/a.json", "runs/b.json", "runs/sub/c.json"]
        assert backend.keys("") == ["runs/a.json", "runs/b.json", "runs/sub/c.json", "state/x.json"]
    assert backend.keys("nothing/") == []


def test_files_are_verified_by_sha256(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "model.pkl"
    source.write_bytes(os.urandom(300_000))
    digest = backend.put_file("registry/m/1/model.pkl", source)
    assert backend.keys("registry/m/") == ["registry/m/1/model.pkl"]  # files are listed with the documents
    dest = tmp_path / "out" / "model.pkl"
    backend.get_file("registry/m/1/model.pkl", dest, digest)
    assert dest.read_bytes() == source.read_bytes()
    with pytest.raises(BackendError, match="expected sha256:0+"):
        backend.get_file("registry/m/1/model.pkl", tmp_path / "bad.pkl", "sha256:" + "0" * 64)
    assert not (tmp_path / "bad.pkl").exists()
    with pytest.raises(BackendError, match="missing"):
        backend.get_file("registry/m/2/model.pkl", tmp_path / "none.pkl", digest)


def test_a_50_mb_file_round_trips_with_its_sha256(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(50):
            out.write(os.urandom(1 << 20))
    digest = backend.put_file("registry/m/1/model.bin", source)
    assert digest == file_sha256(source)
    dest = tmp_path / "copy" / "model.bin"
    backend.get_file("registry/m/1/model.bin", dest, digest)
    assert file_sha256(dest) == digest and dest.stat().st_size == 50 << 20
    assert "registry/m/1/model.bin" in backend.keys("registry/")


def test_lock_is_exclusive_and_names_its_holder(backend: Backend, backend_url: str) -> None:
    other = open_backend(backend_url)
    try:
        with backend.lock("state/iris.dev", "apply") as info:
            assert backend.holder("state/iris.dev") == info
            with pytest.raises(LockHeldError, match=rf"apply by .* lock ID {info.id}"), \
                    other.lock("state/iris.dev", "apply", timeout=0.3):
                pass
            with other.lock("state/iris.prod", "apply"):
                pass
        assert backend.holder("state/iris.dev") is None
        with other.lock("state/iris.dev", "apply"):
            pass
    finally:
        other.close()


def test_a_waiting_lock_gets_it_when_the_holder_lets_go(backend: Backend, backend_url: str) -> None:
    held, released = threading.Event(), threading.Event()

    def hold() -> None:
        mine = open_backend(backend_url)
        with mine.lock("state/w", "apply"):
            held.set()
            released.wait(0.5)
        mine.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)  # opening a remote backend takes a while: wait until the other one holds the lock
    start = time.monotonic()
    with backend.lock("state/w", "apply", timeout=10):
        waited = time.monotonic() - start
    thread.join()
    assert 0.05 < waited < 5


def test_force_unlock_checks_the_id(backend: Backend, backend_url: str) -> None:
    script = textwrap.dedent("""
        import sys, time
        from mlform.runtime.storage.backends.url import open_backend
        with open_backend(sys.argv[1]).lock("state/k", "apply") as info:
            print(info.id, flush=True)
            time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script, backend_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        lock_id = holder.stdout.readline().strip()
        info = backend.holder("state/k")
        assert info is not None and info.id == lock_id and info.pid == holder.pid
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        if backend.kind == "s3":  # nothing on the server notices the holder died: a person clears it
            with pytest.raises(LockHeldError, match=lock_id), backend.lock("state/k", "apply"):
                pass
            with pytest.raises(BackendError, match="does not match"):
                backend.force_unlock("state/k", "not-the-id")
            assert backend.force_unlock("state/k", lock_id).id == lock_id
        with backend.lock("state/k", "apply", timeout=5):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a"])
def test_bad_keys_are_programming_errors(key: str) -> None:
    with pytest.raises(ValueError, match="bad backend key"):
        check_key(key)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://ml:s3cret@db.example:5432/state", "postgresql://ml:***@db.example:5432/state"),
    ("postgresql://ml@db.example/state", "postgresql://ml@db.example/state"),
    ("s3://bucket/prefix", "s3://bucket/prefix"),
    ("postgresql://ml:p%40ss@db/state?sslmode=require&password=x&artifacts=s3://b/m",
     "postgresql://ml:***@db/state?sslmode=require&password=***&artifacts=s3://b/m"),
    ("postgresql:///state?host=/run/pg&password=s3cret", "postgresql:///state?host=/run/pg&password=***"),
])
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_an_unknown_scheme_is_named() -> None:
    with pytest.raises(BackendError, match=r"unknown backend `gs://` in gs://b/p: expected"):
        open_backend("gs://b/p")
