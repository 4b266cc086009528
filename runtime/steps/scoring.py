"""The batch scoring step: the registered version an alias (or number) names scores a source's rows."""

from __future__ import annotations

from typing import Any

from mlform.runtime.run.context import Job
from mlform.specs.fsutil import write_atomic_with

__all__ = ["score_source"]


def score_source(job: Job) -> dict[str, Any]:
    """Score `scoring.source` with the version `scoring.model` names (its sha256 checked as it loads) and write the
    id columns and `prediction` to `scoring.output`, replacing the file atomically."""
    from mlform.runtime.serving.predict import check_signature, write_chunks

    pipeline = job.spec.pipeline
    scoring = pipeline.scoring
    assert scoring is not None  # the step exists only when scoring is declared
    name, ref = pipeline.registry.model_name, job.step.config["model"]
    if isinstance(ref, str) and ref not in job.ctx.registry.aliases(name, job.spec.env):
        return {"model": name, "version": None, "rows": 0,
                "notes": [f"nothing scored: no version of `{name}` has alias `{ref}` in `{job.spec.env}` yet "
                          f"(`{scoring.output.path}` left as it is)"]}
    loaded = job.ctx.registry.load(name, ref, job.spec.env)
    frame = job.frame(scoring.source)
    predictions = frame[list(pipeline.data.id_columns)].assign(
        prediction=loaded.model.predict(check_signature(frame, loaded.version)))
    target = job.spec.root / scoring.output.path
    write_atomic_with(target, lambda tmp: write_chunks(iter([predictions]), tmp, scoring.output.kind))
    version = loaded.version
    return {"model": name, "version": version.version, "sha256": version.sha256, "rows": len(predictions),
            "output": str(target), "artifacts": {"predictions": str(target)},
            "notes": [f"scored {len(predictions)} rows of `{scoring.source}` with `{name}` version {version.version} "
                      f"-> {scoring.output.path}"]}
