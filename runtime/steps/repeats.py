"""Finding repeated values and rows: sort and compare neighbours, an integer bitmap, row hashes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["distinct_integers", "duplicate_rows", "duplicates_sorted"]


def duplicates_sorted(values: np.ndarray, limit: int | None) -> tuple[int, np.ndarray]:
    """How many rows hold a repeated value, and (up to `limit` of) the repeated values: sort, compare neighbours."""
    if values.size < 2 or bool(np.all(values[1:] > values[:-1])):
        return 0, values[:0]
    ordered = np.sort(values)
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return 0, values[:0]
    in_group = np.zeros(ordered.size, dtype=bool)
    in_group[1:] |= same
    in_group[:-1] |= same
    return int(np.count_nonzero(in_group)), np.unique(ordered[1:][same])[:limit]


def distinct_integers(values: np.ndarray) -> bool:
    """True when integers in a span of at most two per row are pairwise distinct: a bitmap, no sort or copy."""
    if values.dtype.kind not in "iu" or values.size < 2:
        return False
    low, high = int(values.min()), int(values.max())
    if high - low >= 2 * values.size or high >= 2**63:
        return False
    seen = np.zeros(high - low + 1, dtype=bool)
    step = 1 << 20
    for start in range(0, values.size, step):
        part = values[start:start + step].astype(np.int64, copy=False)
        seen[part - low if low else part] = True
    return int(np.count_nonzero(seen)) == values.size


def duplicate_rows(frame: pd.DataFrame) -> np.ndarray | None:
    """Mask of rows that equal another row, via row hashes sorted; candidates are confirmed exactly."""
    import pandas as pd

    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    count, repeated = duplicates_sorted(hashes, limit=None)
    if not count:
        return None
    candidates = np.isin(hashes, repeated)
    exact = np.zeros(len(frame), dtype=bool)
    exact[candidates] = frame[candidates].duplicated(keep=False).to_numpy()
    return exact if exact.any() else None
