"""Seeded splits, and batch scoring checked against the model signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlform.runtime.registry.models import Registry
from mlform.runtime.serving.predict import PredictError, parse_model_ref
from mlform.runtime.steps.split import SplitError, split_rows
from mlform.specs.model.data import Split

FRAME = pd.DataFrame({"t": np.arange(100)[::-1], "y": ["a"] * 80 + ["b"] * 20})


def test_random_split_is_seeded_and_disjoint() -> None:
    train, test = split_rows(FRAME, Split(method="random", test_size=0.25, seed=3), "y")
    again, _ = split_rows(FRAME, Split(method="random", test_size=0.25, seed=3), "y")
    other, _ = split_rows(FRAME, Split(method="random", test_size=0.25, seed=4), "y")
    assert (len(train), len(test)) == (75, 25)
    assert sorted([*train, *test]) == list(range(100))
    assert train.tolist() == again.tolist()
    assert train.tolist() != other.tolist()


def test_stratified_split_keeps_class_shares() -> None:
    _, test = split_rows(FRAME, Split(method="stratified", test_size=0.2, seed=0), "y")
    assert FRAME["y"].iloc[test].value_counts().to_dict() == {"a": 16, "b": 4}


def test_time_split_puts_the_latest_rows_in_test() -> None:
    train, test = split_rows(FRAME, Split(method="time", test_size=0.1, time_column="t"), "y")
    assert sorted(FRAME["t"].iloc[test]) == list(range(90, 100))
    assert FRAME["t"].iloc[train].max() == 89


@pytest.mark.parametrize(("frame", "split", "message"), [
    (FRAME, Split(method="time", time_column="when"), "`data.split.time_column`: column `when` is not in the data"),
    (FRAME.head(1), Split(), "1 rows cannot be split with `data.split.test_size` 0.2"),
])
def test_split_errors(frame: pd.DataFrame, split: Split, message: str) -> None:
    with pytest.raises(SplitError) as caught:
        split_rows(frame, split, "y")
    assert str(caught.value) == message


@pytest.fixture
def trained(core_project: Path, mlform) -> Path:
    assert mlform("run", core_project).code == 0
    return core_project


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_streams_chunks_and_matches_the_model(trained: Path, mlform, tmp_path: Path, suffix: str) -> None:
    live = pd.read_csv(trained.parent / "data" / "live.csv")
    source = tmp_path / f"in{suffix}"
    if suffix == ".csv":
        live.to_csv(source, index=False)
    else:
        live.to_parquet(source, index=False)
    target = tmp_path / f"out{suffix}"
    result = mlform("predict", "--model", "iris-classifier@staging", "--input", source, "--output", target,
                    "--chunk-rows", 7, trained)
    assert result.code == 0, result.err
    assert result.out == f"scored {len(live)} rows with `iris-classifier` version 1 -> {target}\n"
    scored = pd.read_csv(target) if suffix == ".csv" else pd.read_parquet(target)
    model = Registry(trained.parent / ".mlform" / "registry").load("iris-classifier", 1).model
    features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert scored["prediction"].tolist() == model.predict(live[features]).tolist()
    assert scored.columns.tolist() == [*live.columns, "prediction"]


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "iris-classifier"], "error: `--model iris-classifier`: expected NAME@ALIAS or NAME@VERSION, "
                                     "e.g. `iris-classifier@staging`\n"),
    (["--model", "iris-classifier@production"],
     "error: model `iris-classifier` has no alias `production` in environment `default` "
     "(aliases: `staging`)\n"),
    (["--model", "iris-classifier@1", "--output", "out.json"],
     "error: `--output out.json`: unknown file type; use .csv or .parquet\n"),
    (["--model", "iris-classifier@1", "--input", "short.csv"],
     "error: input lacks column `petal_width` of the signature of `iris-classifier` version 1\n"),
    (["--model", "iris-classifier@1", "--input", "nothing.csv"], "error: `--input nothing.csv`: no such file\n"),
    (["--model", "iris-classifier@1", "--input", "text.csv"],
     "error: input column `petal_width` has dtype `{text}` and does not convert to the signature's `float64`\n"),
])
def test_predict_errors(trained: Path, mlform, tmp_path: Path, monkeypatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    pd.read_csv(trained.parent / "data" / "live.csv").drop(columns=["petal_width"]).to_csv("short.csv", index=False)
    pd.read_csv(trained.parent / "data" / "live.csv").assign(petal_width="wide").to_csv("text.csv", index=False)
    defaults = {"--input": str(trained.parent / "data" / "live.csv"), "--output": "out.csv"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [x for key, value in {**defaults, **given}.items() for x in (key, value)]
    result = mlform("predict", *argv, trained)
    text = pd.read_csv("text.csv")["petal_width"].dtype  # pandas' name for a column of text: `object` or `str`
    assert (result.code, result.err) == (1, message.format(text=text))
    assert not (tmp_path / "out.csv").exists()
    assert list(tmp_path.glob("*.tmp")) == []


def test_parse_model_ref() -> None:
    assert parse_model_ref("m@3") == ("m", 3)
    assert parse_model_ref("m@prod") == ("m", "prod")
    with pytest.raises(PredictError):
        parse_model_ref("m@")
