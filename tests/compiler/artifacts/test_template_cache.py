"""The compiled-template cache: reused across processes, recompiled when a template or the environment changes."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import jinja2
import pytest
from jinja2.bccache import bc_magic

from mlform.compiler.artifacts import render
from mlform.compiler.artifacts.bytecode import TemplateCache, template_cache
from mlform.compiler.artifacts.render import Templates


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return tmp_path / "cache" / "mlform"


def _override(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "templates"
    (folder / "t").mkdir(parents=True, exist_ok=True)
    (folder / "t" / "x.j2").write_text(text)
    return folder


def _cached(cache_home: Path) -> list[Path]:
    return sorted(cache_home.glob("templates-*/*.jinja"))


def _bucket_code(templates: Templates, name: str, source: str) -> object:
    cache = templates.env.bytecode_cache
    assert isinstance(cache, TemplateCache)
    return cache.get_bucket(templates.env, name, None, source).code


def test_a_shipped_template_is_compiled_once_and_then_loaded(cache_home: Path) -> None:
    name = "docker/dockerignore.j2"
    first = Templates()
    source = first.env.loader.get_source(first.env, name)[0]  # type: ignore[union-attr]
    assert _bucket_code(first, name, source) is None
    first.env.get_template(name)
    assert len(_cached(cache_home)) == 1
    assert _bucket_code(Templates(), name, source) is not None
    assert _bucket_code(Templates(), name, source + " ") is None  # other source bytes: not reused


def test_an_edited_template_renders_its_new_text(cache_home: Path, tmp_path: Path) -> None:
    folder = _override(tmp_path, "before {{ v }}\n")
    assert Templates(folder).render("t", "x", v=1) == "before 1\n"
    assert Templates(folder).render("t", "x", v=2) == "before 2\n"
    _override(tmp_path, "after {{ v }}\n")
    assert Templates(folder).render("t", "x", v=3) == "after 3\n"
    assert len(_cached(cache_home)) == 1


@pytest.mark.parametrize("garbage", [b"", b"j2", b"not bytecode at all", b"\x00" * 64, bc_magic, bc_magic + b"torn",
                                     bc_magic + b"\x80\x02"])
def test_a_torn_or_foreign_file_is_compiled_again(cache_home: Path, tmp_path: Path, garbage: bytes) -> None:
    folder = _override(tmp_path, "v={{ v }}\n")
    Templates(folder).render("t", "x", v=1)
    [entry] = _cached(cache_home)
    good = entry.read_bytes()
    entry.write_bytes(garbage)
    assert Templates(folder).render("t", "x", v=2) == "v=2\n"
    assert entry.read_bytes() == good


def test_the_folder_is_keyed_by_the_code_that_configures_the_environment(cache_home: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.py", tmp_path / "two.py"
    one.write_text("A = 1\n")
    two.write_text("A = 2\n")
    first, second, again = template_cache(one), template_cache(two), template_cache(one)
    assert first is not None and second is not None and again is not None
    assert first.directory != second.directory
    assert first.directory == again.directory
    assert Path(first.directory).parent == cache_home
    assert template_cache(tmp_path / "missing.py") is None


def test_nothing_is_written_when_bytecode_writing_is_off(cache_home: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert Templates(_override(tmp_path, "v={{ v }}\n")).render("t", "x", v=1) == "v=1\n"
    assert not cache_home.exists()


def test_an_unwritable_cache_only_costs_the_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert Templates(_override(tmp_path, "v={{ v }}\n")).render("t", "x", v=1) == "v=1\n"


def test_concurrent_writers_each_leave_a_whole_file(cache_home: Path, tmp_path: Path) -> None:
    folder = _override(tmp_path, "{% for i in range(v) %}{{ i }},{% endfor %}\n")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(20):
                env = Templates(folder).env
                cache = env.bytecode_cache
                assert cache is not None
                source, filename, _ = env.loader.get_source(env, "t/x.j2")  # type: ignore[union-attr]
                bucket = cache.get_bucket(env, "t/x.j2", filename, source)
                bucket.code = env.compile(source, "t/x.j2", filename)
                cache.set_bucket(bucket)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [p.name for p in cache_home.glob("templates-*/*")] == [_cached(cache_home)[0].name]
    assert Templates(folder).render("t", "x", v=3) == "0,1,2,"  # trim_blocks drops the line break after a block tag


def test_the_environment_uses_the_cache(cache_home: Path) -> None:
    env = render.environment()
    assert isinstance(env.bytecode_cache, TemplateCache)
    assert isinstance(env, jinja2.Environment)
