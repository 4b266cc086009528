"""Evaluation decisions: metric gates and the champion/challenger comparison."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlform.specs.model.lifecycle import Champion, Gate
from mlform.specs.model.metrics import METRICS, Metric

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from mlform.runtime.registry.models import Registry

__all__ = ["ChampionResult", "GateResult", "check_gates", "compare_champion", "improvement"]


@dataclass(frozen=True)
class GateResult:
    """One metric against its bounds."""

    metric: str
    value: float
    min: float | None
    max: float | None
    passed: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


@dataclass(frozen=True)
class ChampionResult:
    """The challenger against the model at the champion alias on one metric."""

    alias: str
    metric: str
    challenger: float
    champion: float | None
    champion_version: int | None
    passed: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def check_gates(metrics: Mapping[str, float], gates: Mapping[str, Gate]) -> list[GateResult]:
    """Each gate's outcome; a NaN metric fails its gate."""
    results = []
    for name, gate in gates.items():
        value = float(metrics[name])
        problems = []
        if math.isnan(value):
            problems.append("is NaN")
        if gate.min is not None and not value >= gate.min:
            problems.append(f"< min {gate.min}")
        if gate.max is not None and not value <= gate.max:
            problems.append(f"> max {gate.max}")
        shown = f"{value:.4g}"
        message = (f"gate `evaluation.gates.{name}` failed: {shown} {' and '.join(problems)}" if problems
                   else f"gate `evaluation.gates.{name}` passed: {shown}")
        results.append(GateResult(name, value, gate.min, gate.max, not problems, message))
    return results


def improvement(metric: str, challenger: float, champion: float, table: Mapping[str, Metric] = METRICS) -> float:
    """How much better the challenger is, in the metric's better direction."""
    better_up = table[metric].greater_is_better if metric in table else True
    return challenger - champion if better_up else champion - challenger


def compare_champion(champion: Champion, model_name: str, env: str, metrics: Mapping[str, float], registry: Registry,
                     X: pd.DataFrame, y: pd.Series, challenger_sha256: str | None = None,
                     table: Mapping[str, Metric] = METRICS, root: Path | None = None,
                     positive: Any = None) -> ChampionResult:
    """Score the model at `champion.alias` of environment `env` on the same test rows; the challenger must beat it
    by `min_improvement`.

    Beating means an improvement above zero and at least `min_improvement`: a tie keeps the champion. A
    challenger whose model bytes are the champion's (`challenger_sha256`) is the champion, and passes.
    """
    from .metrics import compute_metrics

    alias, metric = champion.alias, champion.metric
    challenger = float(metrics[metric])
    number = registry.aliases(model_name, env).get(alias)
    if number is None:
        return ChampionResult(alias, metric, challenger, None, None, True,
                              f"no champion at alias `{alias}`: the challenger wins by default")
    holder = registry.resolve(model_name, number, env)
    if holder.sha256 == challenger_sha256:
        return ChampionResult(alias, metric, challenger, challenger, number, True,
                              f"challenger is champion version {number}: identical model bytes "
                              f"(sha256 {holder.sha256[:12]}...)")
    current = registry.load(model_name, number)
    try:
        score = float(compute_metrics([metric], current.model, X, y, table, root, positive)[metric])
    except (ValueError, KeyError, TypeError) as exc:
        return ChampionResult(alias, metric, challenger, None, number, True,
                              f"champion version {number} cannot score the test rows ({exc}); the challenger wins")
    scores = f"on `{metric}`: {challenger:.4g} vs {score:.4g}"
    if math.isclose(challenger, score, rel_tol=1e-9, abs_tol=1e-12):
        return ChampionResult(alias, metric, challenger, score, number, False,
                              f"challenger ties champion version {number} {scores}; a tie keeps the champion")
    gain = improvement(metric, challenger, score, table)
    passed = gain > 0 and gain >= champion.min_improvement
    verdict = "beats" if passed else "does not beat"
    message = (f"challenger {verdict} champion version {number} {scores} "
               f"(improvement {gain:+.4g}, `evaluation.champion.min_improvement` {champion.min_improvement})")
    return ChampionResult(alias, metric, challenger, score, number, passed, message)
