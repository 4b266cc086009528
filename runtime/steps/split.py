"""Split rows into train and test positions: random, stratified or by time; always seeded."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from mlform.specs.errors import StepPartError
from mlform.specs.model.data import Split

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

__all__ = ["SplitError", "filter_rows", "split_rows"]


class SplitError(StepPartError):
    """The rows cannot be split as declared."""


def split_rows(frame: pd.DataFrame, split: Split, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Row positions (train, test) of `frame`; `time` puts the latest `test_size` fraction in test."""
    rows = len(frame)
    test_rows = math.ceil(rows * split.test_size)
    if rows < 2 or test_rows >= rows:
        raise SplitError(f"{rows} rows cannot be split with `data.split.test_size` {split.test_size}")
    positions = np.arange(rows)
    if split.method == "time":
        column = split.time_column or ""
        if column not in frame.columns:
            raise SplitError(f"`data.split.time_column`: column `{column}` is not in the data")
        order = np.argsort(frame[column].to_numpy(), kind="stable")
        return np.sort(order[: rows - test_rows]), np.sort(order[rows - test_rows:])
    from sklearn.model_selection import train_test_split

    stratify = frame[target].to_numpy() if split.method == "stratified" else None
    try:
        train, test = train_test_split(positions, test_size=split.test_size, random_state=split.seed,
                                       shuffle=True, stratify=stratify)
    except ValueError as exc:
        raise SplitError(f"`data.split`: {exc}") from None
    return np.sort(train), np.sort(test)


def filter_rows(frame: pd.DataFrame, positions: np.ndarray, ref: str, root: Path) -> np.ndarray:
    """The `positions` of `frame` the user filter `ref` keeps: it returns one boolean per row, true to keep."""
    from .usercode import call_user

    where = "data.split.filter"
    rows = frame.iloc[positions]
    keep = np.asarray(call_user(ref, root, where, rows))
    if keep.shape != (len(rows),) or keep.dtype != bool:
        raise SplitError(f"`{where}: {ref}` must return one boolean per row ({len(rows)}), "
                         f"got {keep.dtype} of shape {keep.shape}", key=where)
    return positions[keep]
