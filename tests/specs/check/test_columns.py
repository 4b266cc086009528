"""Columns named by a spec, checked against the header or schema of its file sources, never a full read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from mlform.specs import SpecError, load_spec, validate_file

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: demo
data:
  sources:
    train: {SOURCE}
    live: {type: csv, path: live.csv}
  train_source: train
  target: y
  features: [alpha, beta]
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy]
monitoring:
  schedule: "@daily"
  current: live
registry:
  model_name: demo
"""


def _validate(tmp_path: Path, source: str) -> list[str]:
    path = tmp_path / "mlform.yaml"
    path.write_text(SPEC.replace("{SOURCE}", source))
    return [str(d).removeprefix(f"{path}:") for d in validate_file(path)[1]]


def test_parquet_schema_is_read_without_the_pandas_index(tmp_path: Path) -> None:
    frame = pd.DataFrame({"alpha": [1.0], "betta": [2.0], "y": [0]}, index=pd.Index(["r1"], name="beta"))
    frame.to_parquet(tmp_path / "train.parquet")

    found = _validate(tmp_path, "{type: parquet, path: train.parquet}")

    assert found == [
        "8:29: warning: data.sources.live.path: file `live.csv` does not exist (yet)",
        "11:21: error: data.features.1: column `beta` is not in train.parquet; did you mean `betta`?",
    ]


def test_sqlite_table_columns_and_a_missing_table(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.execute("CREATE TABLE rows (alpha REAL, beta REAL, label INTEGER)")
    (tmp_path / "live.csv").write_text("alpha,beta\n1,2\n")

    found = _validate(tmp_path, "{type: sqlite, path: db.sqlite, table: rows}")
    missing = _validate(tmp_path, "{type: sqlite, path: db.sqlite, table: row}")

    assert found == ["10:11: error: data.target: column `y` is not in table `rows` of db.sqlite "
                     "(it has `alpha`, `beta`, `label`)"]
    assert missing == ["7:51: error: data.sources.train.table: `db.sqlite` has no table `row`; did you mean `rows`?"]


def test_a_sqlite_query_and_a_database_are_not_run(tmp_path: Path) -> None:
    (tmp_path / "live.csv").write_text("alpha,beta\n1,2\n")
    (tmp_path / "db.sqlite").write_bytes(b"")

    assert _validate(tmp_path, "{type: sqlite, path: db.sqlite, query: SELECT nothing FROM nowhere}") == []


def test_only_the_header_is_read(tmp_path: Path) -> None:
    rows = b"".join(b"\xff\xfe not text, not csv \x00\n" for _ in range(1000))
    (tmp_path / "train.csv").write_bytes(b"\xef\xbb\xbfalpha;beta;y\n" + rows)  # a byte order mark, then junk
    (tmp_path / "live.csv").write_text("alpha,beta\n")

    assert _validate(tmp_path, "{type: csv, path: train.csv, delimiter: ';'}") == []


def test_monitoring_source_lacking_a_feature_the_training_data_has(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("alpha,beta,y\n")
    (tmp_path / "live.csv").write_text("alpha,bta\n")

    found = _validate(tmp_path, "{type: csv, path: train.csv}")

    assert found == ["18:12: error: monitoring.current: column `beta` is not in live.csv; did you mean `bta`?"]


def test_dtypes_name_columns_of_their_own_source(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("alpha,beta,y\n")
    (tmp_path / "live.csv").write_text("alpha,beta\n")

    found = _validate(tmp_path, "{type: csv, path: train.csv, dtypes: {Alpha: float}}")

    assert found == ["7:50: error: data.sources.train.dtypes.Alpha: column `Alpha` is not in train.csv; "
                     "did you mean `alpha`?"]


@pytest.mark.parametrize(("require_data", "expected"), [
    (False, "7:30: warning: data.sources.train.path: file `data/train.csv` does not exist (yet)"),
    (True, "7:30: error: data.sources.train.path: file `data/train.csv` does not exist; the model trains on it"),
])
def test_a_missing_training_file_is_an_error_only_when_data_is_required(tmp_path: Path, require_data: bool,
                                                                         expected: str) -> None:
    (tmp_path / "live.csv").write_text("alpha,beta\n")
    path = tmp_path / "mlform.yaml"
    path.write_text(SPEC.replace("{SOURCE}", "{type: csv, path: data/train.csv}"))

    _, found = validate_file(path, require_data=require_data)

    assert [str(d).removeprefix(f"{path}:") for d in found] == [expected]
    if require_data:
        with pytest.raises(SpecError):
            load_spec(path, require_data=True)
    else:
        assert load_spec(path).name == "demo"


def test_without_a_close_name_the_first_ten_columns_are_listed_and_the_rest_counted(tmp_path: Path) -> None:
    wide = ",".join([*(f"c{i:02}" for i in range(1, 12)), "alpha", "beta"])
    (tmp_path / "train.csv").write_text(wide + "\n")
    (tmp_path / "live.csv").write_text("alpha,beta\n")

    found = _validate(tmp_path, "{type: csv, path: train.csv}")

    listed = ", ".join(f"`c{i:02}`" for i in range(1, 11))
    assert found == [f"10:11: error: data.target: column `y` is not in train.csv (it has {listed} and 3 more)"]


def test_ten_columns_are_listed_without_a_count(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(",".join([*(f"c{i:02}" for i in range(1, 9)), "alpha", "beta"]) + "\n")
    (tmp_path / "live.csv").write_text("alpha,beta\n")

    found = _validate(tmp_path, "{type: csv, path: train.csv}")

    listed = ", ".join([*(f"`c{i:02}`" for i in range(1, 9)), "`alpha`", "`beta`"])
    assert found == [f"10:11: error: data.target: column `y` is not in train.csv (it has {listed})"]


def test_id_columns_time_column_and_ruled_columns_are_looked_up_where_they_are_named(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("alpha,beta,y\n")
    (tmp_path / "live.csv").write_text("alpha,beta\n")
    path = tmp_path / "mlform.yaml"
    spec = SPEC.replace("{SOURCE}", "{type: csv, path: train.csv}").replace(
        "  features: [alpha, beta]\n",
        "  features: [alpha, beta]\n  id_columns: [row_id]\n  split: {method: time, time_column: ts}\n")
    path.write_text(spec + "validation:\n  columns:\n    row_id: {nullable: false}\n    gamma: {nullable: false}\n")

    found = [str(d).removeprefix(f"{path}:") for d in validate_file(path)[1]]

    has = "(it has `alpha`, `beta`, `y`)"
    assert found == [f"12:16: error: data.id_columns.0: column `row_id` is not in train.csv {has}",
                     f"13:38: error: data.split.time_column: column `ts` is not in train.csv {has}",
                     f"25:5: error: validation.columns.row_id: column `row_id` is not in train.csv {has}",
                     "26:5: error: validation.columns.gamma: `gamma` is not a feature, the target, an id column or "
                     "the time column"]


def test_a_monitored_source_needs_the_target_only_when_performance_is_watched(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("alpha,beta,y\n")
    (tmp_path / "live.csv").write_text("alpha,beta\n")
    path = tmp_path / "mlform.yaml"
    path.write_text(SPEC.replace("{SOURCE}", "{type: csv, path: train.csv}")
                    .replace("  current: live\n", "  current: live\n  performance: {accuracy: {min: 0.5}}\n"))

    found = [str(d).removeprefix(f"{path}:") for d in validate_file(path)[1]]

    assert found == ["18:12: error: monitoring.current: column `y` is not in live.csv (it has `alpha`, `beta`)"]
