"""The digest of mlform's code that plans hold: the same as hashing every file, reading only files that changed."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from mlform.compiler.plan import codedigest
from mlform.compiler.plan.codedigest import code_digest


def _fresh(roots: list[tuple[str, str]]) -> str:
    """The digest computed from scratch: every file's bytes, in the order of their shown names."""
    files = sorted((f"{package}/{os.path.relpath(parent, base)}/{name}", Path(parent, name))
                   for package, base in roots for parent, dirs, names in os.walk(base)
                   if "__pycache__" not in Path(parent).parts for name in names)
    digest = hashlib.sha256()
    for shown, path in files:
        digest.update(f"{shown}\0sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return "sha256:" + digest.hexdigest()


@pytest.fixture
def tree(tmp_path: Path) -> list[tuple[str, str]]:
    """Two packages of a few files, one with a bytecode cache the digest leaves out; settled (not racy)."""
    for rel, text in {"a/x.py": "x = 1\n", "a/sub/y.py": "y = 2\n", "a/__pycache__/x.pyc": "junk",
                      "b/t.j2": "{{ t }}\n"}.items():
        path = tmp_path / "pkgs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, ns=(1_600_000_000_123_456_789,) * 2)
    return [("compiler", str(tmp_path / "pkgs" / "a")), ("templates", str(tmp_path / "pkgs" / "b"))]


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files whose bytes the digest reads, in order."""
    seen: list[str] = []
    real = codedigest.file_sha256

    def counting(path: str) -> str:
        seen.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(codedigest, "file_sha256", counting)
    return seen


def test_matches_hashing_every_file_and_reads_none_again(
        tree: list[tuple[str, str]], tmp_path: Path, hashed: list[str]) -> None:
    cache = tmp_path / "cache" / "code.json"
    assert code_digest(tree, cache) == _fresh(tree)
    assert sorted(hashed) == ["t.j2", "x.py", "y.py"]
    hashed.clear()
    assert code_digest(tree, cache) == _fresh(tree)
    assert hashed == []


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_a_changed_file_changes_the_digest(
        tree: list[tuple[str, str]], tmp_path: Path, hashed: list[str], change: str) -> None:
    cache = tmp_path / "code.json"
    before = code_digest(tree, cache)
    hashed.clear()
    target = Path(tree[0][1]) / "sub" / "y.py"
    if change == "edit":
        target.write_text("y = 3\n")
    elif change == "add":
        (target.parent / "z.py").write_text("z = 1\n")
    else:
        target.unlink()
    after = code_digest(tree, cache)
    assert (after != before, after) == (True, _fresh(tree))
    assert hashed == {"edit": ["y.py"], "add": ["z.py"], "remove": []}[change]


def test_a_file_rewritten_within_its_racy_moment_is_read_again(
        tree: list[tuple[str, str]], tmp_path: Path, hashed: list[str]) -> None:
    # written as the digest was taken, on a file system whose clock counts whole seconds, then rewritten with the
    # same size, inode and mtime: only its content tells, so it is hashed until its mtime is well before the
    # moment the digests were taken
    cache = tmp_path / "code.json"
    target = Path(tree[0][1]) / "x.py"
    stamp = (time.time_ns() // 10**9 + 1) * 10**9
    os.utime(target, ns=(stamp, stamp))
    code_digest(tree, cache)
    with target.open("r+") as handle:
        handle.write("x = 9\n")
    os.utime(target, ns=(stamp, stamp))
    hashed.clear()
    assert code_digest(tree, cache) == _fresh(tree)
    assert hashed == ["x.py"]


@pytest.mark.parametrize("damage", ["torn", "other format", "not a dict"])
def test_an_unusable_cache_file_is_hashed_anew_and_replaced(
        tree: list[tuple[str, str]], tmp_path: Path, hashed: list[str], damage: str) -> None:
    cache = tmp_path / "code.json"
    code_digest(tree, cache)
    data = json.loads(cache.read_text())
    cache.write_text({"torn": cache.read_text()[:40], "other format": json.dumps({**data, "format": 0}),
                      "not a dict": json.dumps({**data, "files": []})}[damage])
    hashed.clear()
    assert code_digest(tree, cache) == _fresh(tree)
    assert sorted(hashed) == ["t.j2", "x.py", "y.py"]
    assert json.loads(cache.read_text())["format"] == 1


def test_an_unwritable_cache_folder_still_gives_the_digest(tree: list[tuple[str, str]], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert code_digest(tree, tmp_path / "file" / "code.json") == _fresh(tree)


def test_each_installation_has_its_own_cache_file(tree: list[tuple[str, str]], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code_digest(tree)
    code_digest(tree[:1])
    assert len(list((tmp_path / "xdg" / "mlform").glob("code-digests-*.json"))) == 2


def test_writing_removes_other_installations_files_unused_for_30_days(
        tree: list[tuple[str, str]], tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    old, entry_points = folder / "code-digests-gone.json", folder / "entry-points-gone.json"
    for path in (old, entry_points):
        path.write_text("{}")
        os.utime(path, (time.time() - 31 * 86400,) * 2)
    code_digest(tree, folder / "code-digests-this.json")
    assert sorted(p.name for p in folder.iterdir()) == ["code-digests-this.json", "entry-points-gone.json"]
