"""The shared file-system kernel: atomic writes, file stamps and the lock live in specs/fsutil.py only."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mlform.specs.errors import StateError
from mlform.specs.fsutil import LockHeldError, file_stamp, locked, write_atomic, write_atomic_with, write_changed

SOURCE = Path(__file__).resolve().parents[2]
FOLDERS = ("compiler", "runtime", "specs")
# each mechanism, and the one module allowed to spell it out
MECHANISMS = {
    "flock": (re.compile(r"fcntl\.flock"), "specs/fsutil.py"),
    "rename over a file": (re.compile(r"os\.replace\("), "specs/fsutil.py"),
    "file stamp": (re.compile(r"st_ino\b"), "specs/fsutil.py"),
}


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
def test_one_implementation_per_mechanism(mechanism: str) -> None:
    pattern, home = MECHANISMS[mechanism]
    found = sorted(str(p.relative_to(SOURCE)) for folder in FOLDERS for p in (SOURCE / folder).rglob("*.py")
                   if pattern.search(p.read_text()))
    assert found == [home]


def test_write_atomic_with_leaves_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    write_atomic(target, b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic_with(target, broken)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_write_atomic_keeps_mode_and_changes_stamp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, "{}")
    target.chmod(0o640)
    before = file_stamp(target)
    write_atomic(target, "{ }")
    assert target.stat().st_mode & 0o777 == 0o640
    assert target.read_text() == "{ }"
    assert before is not None and file_stamp(target) != before  # a rename brings a new inode and size
    assert file_stamp(tmp_path / "missing") is None


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_write_changed_gives_a_new_file_the_mode_open_gives(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        assert write_changed(str(tmp_path / "new" / "deeper" / "out.yaml"), b"a: 1\n") is True
        (tmp_path / "plain.yaml").write_bytes(b"a: 1\n")
    finally:
        os.umask(old)
    made = tmp_path / "new" / "deeper" / "out.yaml"
    assert (made.read_bytes(), made.stat().st_mode & 0o7777) == (b"a: 1\n", mode)
    assert (tmp_path / "plain.yaml").stat().st_mode & 0o7777 == mode
    assert sorted(p.name for p in made.parent.iterdir()) == ["out.yaml"]


@pytest.mark.parametrize("before", [b"a: 1\n", b"a: 2\n", b"a: 10\n", b""],
                         ids=["same", "same size", "longer", "empty"])
def test_write_changed_writes_only_other_bytes_and_keeps_the_mode(tmp_path: Path, before: bytes) -> None:
    target = tmp_path / "out.yaml"
    target.write_bytes(before)
    target.chmod(0o751)
    inode = target.stat().st_ino
    changed = before != b"a: 1\n"
    assert write_changed(str(target), b"a: 1\n") is changed
    assert (target.read_bytes(), target.stat().st_mode & 0o7777) == (b"a: 1\n", 0o751)
    assert (target.stat().st_ino == inode) is not changed  # replaced by a rename, never rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml"]


def test_write_changed_leaves_no_temp_file_when_the_rename_fails(tmp_path: Path) -> None:
    (tmp_path / "out.yaml").mkdir()
    with pytest.raises(IsADirectoryError):
        write_changed(str(tmp_path / "out.yaml"), b"a: 1\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]
    assert (tmp_path / "out.yaml").is_dir()


def test_locked_without_wait_names_the_lock_and_is_a_state_error(tmp_path: Path) -> None:
    lock = tmp_path / "a.lock"
    with locked(lock):
        holder = subprocess.run([sys.executable, "-c", _TRY_LOCK, str(lock)], capture_output=True, text=True)
    assert holder.stdout.strip() == "held"
    assert issubclass(LockHeldError, StateError)
    with locked(lock, wait=False):  # free again once released
        pass


_TRY_LOCK = """
import sys
from pathlib import Path
from mlform.specs.fsutil import LockHeldError, locked
try:
    with locked(Path(sys.argv[1]), wait=False):
        print("free")
except LockHeldError:
    print("held")
"""


def test_the_kernel_frees_the_lock_when_its_holder_dies(tmp_path: Path) -> None:
    lock = tmp_path / "b.lock"
    code = "import sys, time\nfrom pathlib import Path\nfrom mlform.specs.fsutil import locked\n" \
           "with locked(Path(sys.argv[1])):\n    print('in', flush=True)\n    time.sleep(60)\n"
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "in"
    with pytest.raises(LockHeldError), locked(lock, wait=False):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with locked(lock, wait=False):
        pass
