"""Write the fraud-detection example data: seeded, synthetic card transactions (numpy and the standard library).

data/transactions.csv  6,000 labelled transactions, the training source (about 4.5% fraud)
data/live.csv          1,500 later transactions that have drifted: larger amounts, new countries, more night use
data/warehouse.db      SQLite snapshot of another 1,000 drifted transactions (table `recent_transactions`)

Usage: python make_data.py [OUTPUT_DIR]    (default: the data/ folder beside this script)
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["main", "transactions", "write_csv", "write_sqlite"]

SEED = 20240611
COLUMNS = ("transaction_id", "amount", "merchant_category", "country", "hour", "card_age_days", "num_tx_24h",
           "is_fraud")
CATEGORIES = {  # name: (share, typical amount, fraud log-odds)
    "grocery": (0.24, 35.0, -0.7),
    "restaurants": (0.18, 28.0, -0.3),
    "fuel": (0.12, 45.0, -0.3),
    "online_retail": (0.15, 60.0, 0.5),
    "electronics": (0.08, 180.0, 0.9),
    "travel": (0.07, 320.0, 0.4),
    "pharmacy": (0.08, 25.0, -0.6),
    "jewelry": (0.03, 400.0, 1.3),
    "gaming": (0.05, 30.0, 1.0),
}
COUNTRY_RISK = {"US": 0.0, "GB": 0.0, "DE": -0.1, "FR": 0.0, "ES": 0.2, "NL": -0.1, "IT": 0.2, "CA": 0.0,
                "BR": 0.6, "MX": 0.5, "NG": 0.9, "IN": 0.5}
TRAIN_COUNTRIES = {"US": 0.45, "GB": 0.15, "DE": 0.12, "FR": 0.10, "ES": 0.06, "NL": 0.05, "IT": 0.04, "CA": 0.03}
LIVE_COUNTRIES = {"US": 0.30, "GB": 0.10, "DE": 0.08, "FR": 0.06, "ES": 0.05, "BR": 0.14, "MX": 0.10, "NG": 0.07,
                  "IN": 0.10}
DAY_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 10, 11, 10, 9, 9, 9, 10, 10, 9, 7, 5, 3, 2], dtype=float)
NIGHT_HOURS = DAY_HOURS + np.array([6, 6, 6, 5, 4, 3] + [0] * 18, dtype=float)


def _choice(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    names = list(shares)
    weights = np.array([shares[name] for name in names])
    return np.array(names)[rng.choice(len(names), size=n, p=weights / weights.sum())]


def transactions(rng: np.random.Generator, n: int, first_id: int, drifted: bool) -> dict[str, np.ndarray]:
    """`n` transactions; `drifted` shifts amounts, the country mix, the hours and the activity."""
    category = _choice(rng, {name: spec[0] for name, spec in CATEGORIES.items()}, n)
    country = _choice(rng, LIVE_COUNTRIES if drifted else TRAIN_COUNTRIES, n)
    hour_weights = NIGHT_HOURS if drifted else DAY_HOURS
    hour = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
    typical = np.array([CATEGORIES[c][1] for c in category])
    amount = np.round(typical * rng.lognormal(0.6 if drifted else 0.0, 0.8, size=n), 2).clip(0.5, 20000)
    card_age_days = np.minimum(rng.gamma(1.6, 450.0, size=n), 3650).astype(int)
    num_tx_24h = rng.poisson(2.8 if drifted else 1.8, size=n) + 1
    log_odds = (-6.4 + 0.9 * np.log(amount / 40) + np.array([CATEGORIES[c][2] for c in category])
                + np.array([COUNTRY_RISK[c] for c in country]) + 1.8 * (hour < 5) + 2.0 * (card_age_days < 90)
                + 0.6 * num_tx_24h)
    is_fraud = (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(int)
    ids = np.array([f"tx-{i:06d}" for i in range(first_id, first_id + n)])
    return dict(zip(COLUMNS, (ids, amount, category, country, hour, card_age_days, num_tx_24h, is_fraud), strict=True))


def _rows(table: dict[str, np.ndarray]) -> list[tuple[object, ...]]:
    return [(i, float(a), str(m), str(c), int(h), int(d), int(t), int(f))
            for i, a, m, c, h, d, t, f in zip(*(table[name] for name in COLUMNS), strict=True)]


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temp file beside `path`, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_csv(path: Path, table: dict[str, np.ndarray]) -> None:
    """Write `table` as CSV with two-decimal amounts and `\\n` line ends."""
    lines = [",".join(COLUMNS)]
    lines += [f"{i},{a:.2f},{m},{c},{h},{d},{t},{f}" for i, a, m, c, h, d, t, f in _rows(table)]
    _replace(path, lambda tmp: tmp.write_bytes(("\n".join(lines) + "\n").encode()))


def write_sqlite(path: Path, table: dict[str, np.ndarray], name: str) -> None:
    """Write `table` into a fresh SQLite file as table `name`."""
    def fill(tmp: Path) -> None:
        tmp.unlink()
        with sqlite3.connect(tmp) as db:
            db.execute(f"CREATE TABLE {name} (transaction_id TEXT PRIMARY KEY, amount REAL, merchant_category TEXT,"
                       " country TEXT, hour INTEGER, card_age_days INTEGER, num_tx_24h INTEGER, is_fraud INTEGER)")
            db.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _rows(table))
        db.close()
    _replace(path, fill)


def main() -> None:
    """Generate every file into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=Path(__file__).parent / "data")
    out = parser.parse_args().output
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    train = transactions(rng, 6000, 1, drifted=False)
    live = transactions(rng, 1500, 6001, drifted=True)
    recent = transactions(rng, 1000, 7501, drifted=True)
    write_csv(out / "transactions.csv", train)
    write_csv(out / "live.csv", live)
    write_sqlite(out / "warehouse.db", recent, "recent_transactions")
    for name, table in (("transactions.csv", train), ("live.csv", live), ("warehouse.db", recent)):
        rate = table["is_fraud"].mean()
        print(f"wrote {out / name}: {len(table['is_fraud'])} rows, {rate:.1%} fraud")


if __name__ == "__main__":
    main()
