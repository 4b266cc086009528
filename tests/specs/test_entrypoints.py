"""The installed entry points, cached on disk: what is installed after the cache was written is seen."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris" / "mlform.yaml"

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


def test_writing_a_cache_file_removes_those_unused_for_30_days(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    _install(site, "first", "1.0", "a = first_mod\n")
    folder = cache / "mlform"
    folder.mkdir(parents=True)
    old, recent, read, other = (folder / "entry-points-old.json", folder / "entry-points-recent.json",
                                folder / "entry-points-read.json", folder / "sklearn-index-old.json")
    for path, read_days, written_days in ((old, 31, 31), (recent, 29, 29), (read, 2, 60), (other, 400, 400)):
        path.write_text("{}")
        os.utime(path, (time.time() - read_days * 86400, time.time() - written_days * 86400))
    _listed(site, cache)
    names = sorted(p.name for p in folder.iterdir())
    kept = ("entry-points-recent.json", "entry-points-read.json", "sklearn-index-old.json")
    written = [name for name in names if name not in kept]
    assert [name.startswith("entry-points-") for name in written] == [True]  # this path's, the old one gone
    assert "entry-points-recent.json" in names
    assert "entry-points-read.json" in names  # written long ago, read lately
    assert "sklearn-index-old.json" in names  # other caches are not its to remove


PLUGIN = """
import json, os

class Plugin:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind, config, plugin_settings):
        with open(os.environ["SEEN"], "a") as seen:
            seen.write(schema_type_path.name + "\\n")
        return None, None, None

plugin = Plugin()
"""

VALIDATE = """
import sys
sys.path.insert(0, sys.argv[1])
import pydantic.plugin._loader as loader
scans = []
scan = loader.entry_points
loader.entry_points = lambda **kw: scans.append(kw) or scan(**kw)
from mlform.specs import validate_file
validate_file(sys.argv[2])
print(scans)
"""


@pytest.mark.parametrize("with_plugin", [False, True])
def test_pydantic_scans_for_plugins_only_when_one_is_installed(tmp_path: Path, with_plugin: bool) -> None:
    site, cache, seen = tmp_path / "site", tmp_path / "cache", tmp_path / "seen.txt"
    site.mkdir()
    if with_plugin:
        dist = site / "recorder-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: recorder\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text("[pydantic]\nrecorder = recorder_plugin:plugin\n")
        (site / "recorder_plugin.py").write_text(PLUGIN)
    env = {"XDG_CACHE_HOME": str(cache), "PATH": "/usr/bin:/bin", "SEEN": str(seen)}
    for _ in range(2):  # the second process reads the entry points from the cache
        done = subprocess.run([sys.executable, "-c", VALIDATE, str(site), str(EXAMPLE)], capture_output=True,
                              text=True, env=env, check=True)
    if with_plugin:
        assert done.stdout.strip() == "[{'group': 'pydantic'}]"
        assert "Pipeline" in seen.read_text().split()  # the user's plugin saw the spec's validator built
    else:
        assert done.stdout.strip() == "[]"
        assert not seen.exists()
