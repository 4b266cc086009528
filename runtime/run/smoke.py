"""`mlform validate --smoke`: fit the whole pipeline on a small sample and predict once, writing nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlform.specs import ResolvedSpec
from mlform.specs.errors import StepError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SMOKE_ROWS", "smoke_test"]

SMOKE_ROWS = 200


def smoke_test(spec: ResolvedSpec, rows: int = SMOKE_ROWS) -> str:
    """Read the training source, fit the model (tuning aside) on up to `rows` rows, predict on five; a summary line.

    Raises StepError (step `smoke`) with the failure in words, as a run would put it.
    """
    from mlform.runtime.steps.ingest import read_source
    from mlform.runtime.steps.train import fit_pipeline

    from .failures import describe_failure

    pipeline = spec.pipeline
    data = pipeline.data
    try:
        frame = read_source(data.training_source, data.sources[data.training_source], pipeline, spec.root)
        if len(frame) > rows:
            frame = _sample(frame, rows, data.target, data.split.method == "stratified")
        X, y = frame[list(data.features)], frame[data.target]
        model = fit_pipeline(pipeline.model.model_copy(update={"tuning": None}), X, y, spec.root)
        predicted = model.predict(X.head(5))
    except (Exception, SystemExit) as exc:  # every failure is the smoke test's finding, in a run's words
        raise StepError("smoke", describe_failure("train", "train", pipeline, {}, exc, spec.root),
                        key=getattr(exc, "key", None)) from None  # a user function's key, when it failed
    return f"fitted on {len(X)} rows, predicted {len(predicted)}"


def _sample(frame: pd.DataFrame, rows: int, target: str, stratify: bool) -> pd.DataFrame:
    """`rows` rows drawn with a fixed seed, every class kept when `stratify` and the classes allow it."""
    from sklearn.model_selection import train_test_split

    try:
        kept, _ = train_test_split(frame, train_size=rows, random_state=0,
                                   stratify=frame[target] if stratify else None)
    except ValueError:  # a class too rare to stratify: a plain draw
        kept, _ = train_test_split(frame, train_size=rows, random_state=0)
    return kept
