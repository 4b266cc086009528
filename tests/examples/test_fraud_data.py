"""The fraud example's data: a seeded script re-makes it exactly, with rare fraud and a clearly drifted live batch."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud-detection"
DATA = EXAMPLE / "data"
CSVS = ("transactions.csv", "live.csv")


def _dump(path: Path) -> list[str]:
    """The SQL text of a SQLite file: the header holds the SQLite library version, the content does not."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return list(db.iterdump())


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def _median_amount(rows: list[dict[str, str]]) -> float:
    return sorted(float(row["amount"]) for row in rows)[len(rows) // 2]


def _share(rows: list[dict[str, str]], test: Callable[[dict[str, str]], bool]) -> float:
    return sum(test(row) for row in rows) / len(rows)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder as make_data.py writes it now, into a fresh folder."""
    out = tmp_path_factory.mktemp("fraud-data")
    subprocess.run([sys.executable, str(EXAMPLE / "make_data.py"), str(out)], check=True, capture_output=True)
    return out


def test_generator_writes_exactly_the_committed_files(regenerated: Path) -> None:
    assert sorted(p.name for p in regenerated.iterdir()) == sorted(p.name for p in DATA.iterdir())
    for name in CSVS:
        assert (regenerated / name).read_bytes() == (DATA / name).read_bytes(), name
    assert _dump(regenerated / "warehouse.db") == _dump(DATA / "warehouse.db")


def test_generator_is_deterministic_across_runs(regenerated: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(EXAMPLE / "make_data.py"), str(tmp_path)], check=True, capture_output=True)
    for name in (*CSVS, "warehouse.db"):
        assert (tmp_path / name).read_bytes() == (regenerated / name).read_bytes(), name


def test_training_data_is_imbalanced_but_not_empty() -> None:
    rows = _rows("transactions.csv")
    assert len(rows) == 6000
    assert len({row["transaction_id"] for row in rows}) == len(rows)
    assert 0.02 <= _share(rows, lambda row: row["is_fraud"] == "1") <= 0.05


def test_live_batch_has_drifted_from_training() -> None:
    train, live = _rows("transactions.csv"), _rows("live.csv")
    new_countries = {row["country"] for row in live} - {row["country"] for row in train}
    assert new_countries == {"BR", "MX", "NG", "IN"}
    assert _share(live, lambda row: row["country"] in new_countries) > 0.3
    assert _median_amount(live) > 1.5 * _median_amount(train)
    night = _share(train, lambda row: int(row["hour"]) < 5)
    assert _share(live, lambda row: int(row["hour"]) < 5) > 2 * night


def test_warehouse_snapshot_holds_another_drifted_batch() -> None:
    with closing(sqlite3.connect(f"file:{DATA / 'warehouse.db'}?mode=ro", uri=True)) as db:
        count, first, new = db.execute(
            "SELECT COUNT(*), MIN(transaction_id), SUM(country IN ('BR', 'MX', 'NG', 'IN'))"
            " FROM recent_transactions").fetchone()
    assert (count, first) == (1000, "tx-007501")
    assert new / count > 0.3
