"""Write the iris example data from scikit-learn's bundled copy (deterministic).

data/iris.csv   the 150 classic rows, the training source
data/live.csv   60 rows resampled with a little seeded noise, standing in for live traffic
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]

bunch = load_iris(as_frame=True)
frame = bunch.frame
frame.columns = COLUMNS
frame["species"] = frame["species"].map(dict(enumerate(bunch.target_names)))
folder = Path(__file__).parent / "data"
folder.mkdir(exist_ok=True)
frame.to_csv(folder / "iris.csv", index=False, float_format="%.1f", lineterminator="\n")

rng = np.random.default_rng(7)
live = frame.sample(n=60, random_state=7).reset_index(drop=True)
numeric = COLUMNS[:4]
live[numeric] = (live[numeric] + rng.normal(0, 0.1, size=(60, 4))).clip(lower=0.1)
live.to_csv(folder / "live.csv", index=False, float_format="%.1f", lineterminator="\n")
print(f"wrote {folder}/iris.csv ({len(frame)} rows) and live.csv ({len(live)} rows)")
