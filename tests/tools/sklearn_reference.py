"""Expected scores computed with scikit-learn alone, so tests compare mlform's numbers with an independent source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

__all__ = ["forest_metrics", "forest_scores", "split_rows"]


def split_rows(spec: Path, data: str = "data/iris.csv") -> tuple[np.ndarray, np.ndarray]:
    """The training and test row positions of the spec's seeded split of `data`, in file order."""
    doc = yaml.safe_load(spec.read_text())
    frame = pd.read_csv(spec.parent / data)
    split = doc["data"]["split"]
    stratify = frame[doc["data"]["target"]] if split["method"] == "stratified" else None
    train, test = train_test_split(np.arange(len(frame)), test_size=split["test_size"], random_state=split["seed"],
                                   shuffle=True, stratify=stratify)
    return np.sort(train), np.sort(test)  # rows in file order, as the runtime fits them


def forest_metrics(spec: Path, data: str = "data/iris.csv", **params: object) -> tuple[float, float]:
    """Accuracy and macro F1 of the spec's random forest (its base `model.params` updated by `params`) fitted on the
    training rows of its seeded split and scored on the rest."""
    doc = yaml.safe_load(spec.read_text())
    frame = pd.read_csv(spec.parent / data)
    X, y = frame[doc["data"]["features"]], frame[doc["data"]["target"]]
    train, test = split_rows(spec, data)
    model = RandomForestClassifier(**{**doc["model"]["params"], **params}).fit(X.iloc[train], y.iloc[train])
    predicted = model.predict(X.iloc[test])
    return float(accuracy_score(y.iloc[test], predicted)), float(f1_score(y.iloc[test], predicted, average="macro"))


def forest_scores(spec: Path, data: str = "data/iris.csv", **params: object) -> tuple[str, str]:
    """`forest_metrics` as mlform prints them in reports (4 decimals)."""
    accuracy, f1_macro = forest_metrics(spec, data, **params)
    return f"{accuracy:.4f}", f"{f1_macro:.4f}"
