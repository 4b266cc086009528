"""The installed entry points, cached on disk: what is installed after the cache was written is seen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from mlform.specs.entrypoints import entry_points
print(sorted((e.name, e.value, e.dist, e.version) for e in entry_points("mlform.toy-group")))
"""


def _listed(site: Path, cache: Path) -> str:
    """The toy group's entry points as a new process sees them, with `cache` as the user's cache folder."""
    env = {"XDG_CACHE_HOME": str(cache), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(site)], capture_output=True, text=True, env=env,
                          check=True)
    return done.stdout.strip()


def _install(site: Path, name: str, version: str, entries: str) -> None:
    dist = site / f"{name}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[mlform.toy-group]\n{entries}")


def test_a_distribution_installed_removed_or_edited_after_caching_is_seen(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site, "first", "1.0", "a = first_mod\n")
    assert _listed(site, cache) == "[('a', 'first_mod', 'first', '1.0')]"
    assert len(list((cache / "mlform").glob("entry-points-*.json"))) == 1
    assert _listed(site, cache) == "[('a', 'first_mod', 'first', '1.0')]"  # from the cache
    _install(site, "second", "2.0", "b = second_mod:obj\n")
    assert _listed(site, cache) == "[('a', 'first_mod', 'first', '1.0'), ('b', 'second_mod:obj', 'second', '2.0')]"
    (site / "first-1.0.dist-info" / "entry_points.txt").write_text("[mlform.toy-group]\nc = first_mod\n")
    assert _listed(site, cache) == "[('b', 'second_mod:obj', 'second', '2.0'), ('c', 'first_mod', 'first', '1.0')]"
    for child in (site / "second-2.0.dist-info").iterdir():
        child.unlink()
    (site / "second-2.0.dist-info").rmdir()
    assert _listed(site, cache) == "[('c', 'first_mod', 'first', '1.0')]"


def test_a_torn_cache_file_is_scanned_anew(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site, "first", "1.0", "a = first_mod\n")
    _listed(site, cache)
    (written,) = (cache / "mlform").glob("entry-points-*.json")
    written.write_text(written.read_text()[:20])
    assert _listed(site, cache) == "[('a', 'first_mod', 'first', '1.0')]"
