"""The step-output store's shared tier: outputs completed by one working copy are found and fetched by another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlform.runtime.storage.backends.base import BackendError
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.runtime.storage.backends.url import open_backend
from mlform.runtime.storage.store import MARKER, Store
from tests.tools.elsewhere import Elsewhere

FP = "ab" + "0" * 62


def _train(store: Store) -> None:
    folder = store.begin(FP)
    (folder / "model.pkl").write_bytes(b"weights" * 1000)
    (folder / "nested").mkdir()
    (folder / "nested" / "report.json").write_text('{"ok": true}')
    store.commit("train", FP, {"artifacts": {"model": "model.pkl"}}, 1.5)


def test_a_second_copy_fetches_what_the_first_completed(tmp_path: Path, backend_url: str) -> None:
    shared = open_backend(backend_url)
    first, second = Store(tmp_path / "a", shared), Store(tmp_path / "b", shared)
    _train(first)
    marker = json.loads(shared.read(f"store/ab/{FP}/{MARKER}").data)  # type: ignore[union-attr]
    assert sorted(marker["files"]) == ["model.pkl", "nested/report.json"]
    found = second.find({"train": FP, "evaluate": "cd" + "1" * 62})
    assert list(found) == ["train"]
    assert found["train"].pending == marker["files"] and not found["train"].dir.exists()  # a look, no download
    fetched = second.fetch(found["train"])
    assert fetched.pending is None and fetched.values == {"artifacts": {"model": "model.pkl"}}
    assert (fetched.dir / "model.pkl").read_bytes() == b"weights" * 1000
    assert (fetched.dir / "nested" / "report.json").read_text() == '{"ok": true}'
    assert second.find({"train": FP})["train"].pending is None  # now here


def test_a_tampered_shared_output_is_refused_and_leaves_no_marker(tmp_path: Path) -> None:
    shared = Elsewhere(LocalBackend(tmp_path / "shared"))
    _train(Store(tmp_path / "a", shared))
    (tmp_path / "shared" / "store" / "ab" / FP / "model.pkl").write_bytes(b"other")
    second = Store(tmp_path / "b", shared)
    with pytest.raises(BackendError, match=r"^cannot fetch the output of step `train` from the shared store: "
                                           r"store/ab/.*/model.pkl .* it was changed or damaged$"):
        second.get("train", FP)
    assert not (second.folder(FP) / MARKER).exists()


def test_the_state_folder_itself_is_no_shared_tier(tmp_path: Path) -> None:
    assert Store.of(tmp_path, LocalBackend(tmp_path)).shared is None
    shared = LocalBackend(tmp_path / "shared")
    assert Store.of(tmp_path / "state", shared).shared is shared
