"""The 28 tests of the ML Test Score (Breck, Cai, Nielsen, Salib, Sculley, IEEE Big Data 2017) as spec lines.

Each judge reads only the resolved spec; `readiness.assess` adds the check that the code it names exists.
An `off` verdict's detail is the spec line that would turn the test on.
"""

from __future__ import annotations

from collections.abc import Callable

from mlform.specs.model.target_settings.github_actions import smokeable

from .readiness import ScoreTest, Spec, Verdict

__all__ = ["TESTS"]

_RT = "mlform.runtime"
_GATE_KINDS = ("predict_ms_per_1k_rows", "model_size_mb")


def _key(spec: Spec, key: str, on: str, off: str) -> Verdict:
    """`enforced` with `on` when `key` is set, else `off` with `off` (the line that would set it)."""
    return Verdict("enforced", on) if spec.on(key) else Verdict("off", off)


def _when(key: str, on: str, off: str) -> Callable[[Spec], Verdict]:
    """The judge of a test that one key turns on: `_key` of that key."""
    return lambda spec: _key(spec, key, on, off)


def _all_of(spec: Spec, keys: dict[str, str], on: str) -> Verdict:
    """`enforced` when every key is set; `partial` naming the missing ones when some are; `off` when none is."""
    missing = [hint for key, hint in keys.items() if not spec.on(key)]
    if not missing:
        return Verdict("enforced", on)
    if len(missing) < len(keys):
        return Verdict("partial", "also set " + " and ".join(missing))
    return Verdict("off", "set " + " and ".join(missing))


def _coverage(spec: Spec, have: set[str], what: str, line: str) -> Verdict:
    """`enforced` when every feature is in `have`; `partial` naming the others; `off` when none is."""
    missing = [f for f in spec.features if f not in have]
    if not missing:
        article = "an" if what[0] in "aeiou" else "a"
        return Verdict("enforced", f"every feature has {article} {what}")
    names = ", ".join(f"`{f}`" for f in missing[:5]) + (" ..." if len(missing) > 5 else "")
    if len(missing) < len(spec.features):
        return Verdict("partial", f"{len(missing)} of {len(spec.features)} features have no {what}: {names}")
    return Verdict("off", f"add {line}")


def _workflows(spec: Spec) -> bool:
    return spec.get("targets.github_actions") is not None


def _d1(spec: Spec) -> Verdict:
    rules = spec.get("validation.columns") or {}
    constrained = {name for name, rule in rules.items()
                   if rule.get("nullable") is False or rule.get("unique") is True
                   or any(value is not None for key, value in rule.items() if key not in ("nullable", "unique"))}
    return _coverage(spec, constrained, "rule in `validation.columns`",
                     "`validation.columns: {<feature>: {dtype, min, max, allowed, ...}}` for every feature")


def _d3(spec: Spec) -> Verdict:
    return _all_of(spec, {"evaluation.features.costs": "`evaluation.features.costs: {<feature>: <cost>}`",
                          "evaluation.features.min_gain_per_cost": "`evaluation.features.min_gain_per_cost`"},
                   "a feature whose importance per unit of cost is too low fails evaluation")


def _d4(spec: Spec) -> Verdict:
    meta = spec.get("data.columns_meta") or {}
    owned = {name for name, entry in meta.items() if isinstance(entry, dict) and entry.get("owner")}
    return _coverage(spec, owned, "owner in `data.columns_meta`",
                     "`data.columns_meta: {<feature>: {owner, status, pii}}` for every feature")


def _d5(spec: Spec) -> Verdict:
    pii = spec.get("data.pii")
    if pii is None:
        return Verdict("off", "declare `data.pii: {columns: [...], action: drop|hash}` (`columns: []` when none)")
    columns = pii.get("columns") or []
    if not columns:
        return Verdict("enforced", "the spec declares no personal data; a PII column used as a feature is an error")
    count = "1 PII column is" if len(columns) == 1 else f"{len(columns)} PII columns are"
    done = "hashed" if pii.get("action") == "hash" else "dropped"
    return Verdict("enforced", f"{count} {done} before anything is stored")


def _d6(spec: Spec) -> Verdict:
    if _workflows(spec):
        return Verdict("enforced", "a feature is one line of `data.features`; the pull-request workflow plans it")
    return Verdict("partial", "a feature is one line of `data.features`, but no pull-request workflow plans it: "
                              "set `targets.github_actions: {}`")


def _d7(spec: Spec) -> Verdict:
    steps = spec.get("model.preprocessing") or []
    if spec.get("model.preprocessing_function"):
        return Verdict("partial", "`model.preprocessing_function` is user code without examples; "
                                  "use `model.preprocessing` steps with `examples`")
    if not steps:
        return Verdict("enforced", "the model has no feature code")
    untested = [str(i) for i, step in enumerate(steps) if not step.get("examples")]
    if not untested:
        return Verdict("enforced", "every `model.preprocessing` step has `examples` that `validate` runs")
    where = ", ".join(f"`model.preprocessing[{i}]`" for i in untested)
    return Verdict("off" if len(untested) == len(steps) else "partial",
                   f"add `examples: [{{input, output}}]` to {where}")


def _m1(spec: Spec) -> Verdict:
    return _all_of(spec, {"governance.apply_from": "`governance.apply_from: [main]`",
                          "governance.require_clean_tree": "`governance.require_clean_tree: true`"},
                   "apply refuses another branch and a dirty tree")


def _m6(spec: Spec) -> Verdict:
    ungated = [f"`{name}`" for name, chosen in (spec.get("evaluation.slices") or {}).items()
               if not (chosen or {}).get("metrics")]
    if spec.on("evaluation.slices") and ungated:  # a slice without `metrics` is scored and shown, never failed
        return Verdict("partial", f"give slice {', '.join(ungated)} a gate: `metrics: {{<metric>: {{min}}}}`")
    return _key(spec, "evaluation.slices", "metrics on each declared slice are gated",
                "set `evaluation.slices: {<name>: {column, metrics: {<metric>: {min}}}}`")


def _i1(spec: Spec) -> Verdict:
    if spec.get("model.reproducible") is True:
        return Verdict("enforced", "`random_state` is required; `mlform reproduce` retrains from lineage")
    return Verdict("off", "set `model.reproducible: true`")


def _smoke_in_review(spec: Spec, does: str) -> Verdict:
    """Whether the pull-request workflow fits the pipeline on a sample (`validate --smoke`), which it does
    unless the training data needs a secret: pull-request jobs get none."""
    if not _workflows(spec):
        return Verdict("off", "set `targets.github_actions: {}`: its pull-request workflow runs `validate --smoke`")
    if not smokeable(spec.resolved.pipeline.data):
        return Verdict("partial", "the training data needs a secret (a `sql` source or a PII salt), which "
                                  "pull-request jobs do not get: run `mlform validate --smoke` where it is available")
    return Verdict("enforced", f"the pull-request workflow {does} (`validate --smoke`)")


def _i2(spec: Spec) -> Verdict:
    return _smoke_in_review(spec, "fits the spec on a 200-row sample and predicts")


def _i3(spec: Spec) -> Verdict:
    return _smoke_in_review(spec, "runs the pipeline end to end on a sample")


def _i5(spec: Spec) -> Verdict:
    where = "`/predict` with `explain: true` and " if spec.get("serving") else ""
    return Verdict("enforced", f"{where}`mlform predict --explain` show transformed features and contributions")


def _i6(spec: Spec) -> Verdict:
    if spec.get("serving") is None:
        return Verdict("off", "set `serving` and `serving.canary: {traffic_percent, steps, max_error_rate}`")
    if spec.on("serving.canary") and spec.get("targets.kubernetes") is None:
        return Verdict("partial", "also set `targets.kubernetes`: only its manifests split traffic for the canary")
    return _key(spec, "serving.canary", "a new version takes a share of traffic before all of it",
                "set `serving.canary: {traffic_percent, steps, max_error_rate}`")


def _i7(spec: Spec) -> Verdict:
    return Verdict("enforced", "every version stays in the registry; `mlform promote` or `registry.production` "
                               "moves an environment back")


def _mo1(spec: Spec) -> Verdict:
    return Verdict("enforced", "library versions are part of the training fingerprint; `plan` names a change")


def _mo2(spec: Spec) -> Verdict:
    serving = spec.get("serving.validate_inputs") not in (None, "off")
    watched = spec.get("monitoring") is not None and spec.get("monitoring.validate_current") is not False
    if serving and watched:
        return Verdict("enforced", "validation rules check every request and the monitored data")
    if serving or watched:
        missing = "`monitoring`" if serving else "`serving.validate_inputs: reject|flag`"
        return Verdict("partial", f"also set {missing}")
    return Verdict("off", "set `serving.validate_inputs: reject` and `monitoring`")


def _mo5(spec: Spec) -> Verdict:
    if spec.get("monitoring.max_nonfinite_share") is not None:
        return Verdict("enforced", "non-finite predictions are refused by the server and a breach above the share")
    return Verdict("partial", "the server refuses non-finite predictions; set `monitoring.max_nonfinite_share: 0` "
                              "to watch them")


def _mo6(spec: Spec) -> Verdict:
    gates = spec.get("evaluation.gates") or {}
    offline = any(kind in gates for kind in _GATE_KINDS)
    online = spec.on("monitoring.serving")
    if offline and online:
        return Verdict("enforced", "prediction time and size are gated, and live latency and errors monitored")
    if offline or online:
        missing = "`monitoring.serving: {p99_ms, error_rate}`" if offline else \
            "an `evaluation.gates` entry on `predict_ms_per_1k_rows` or `model_size_mb`"
        return Verdict("partial", f"also set {missing}")
    return Verdict("off", "gate `predict_ms_per_1k_rows` in `evaluation.gates` and set `monitoring.serving`")


TESTS: tuple[ScoreTest, ...] = (
    ScoreTest("D1", "Feature expectations are captured in a schema", ("validation.columns",),
              (f"{_RT}.steps.validation:validate_frame",), _d1),
    ScoreTest("D2", "All features are beneficial", ("evaluation.features.min_importance",),
              (f"{_RT}.steps.importance:review_features",),
              _when("evaluation.features.min_importance",
                    "a feature whose permutation importance is below `min_importance` fails evaluation",
                    "set `evaluation.features.min_importance: 0.001`")),
    ScoreTest("D3", "No feature's cost is too much",
              ("evaluation.features.costs", "evaluation.features.min_gain_per_cost"),
              (f"{_RT}.steps.importance:review_features",), _d3),
    ScoreTest("D4", "Features adhere to meta-level requirements", ("data.columns_meta",),
              ("mlform.specs.check.privacy_check:columns_meta_findings",
               "mlform.specs.check.policy_check:check_policy"), _d4),
    ScoreTest("D5", "The data pipeline has appropriate privacy controls", ("data.pii",),
              (f"{_RT}.steps.pii:protect_pii", "mlform.specs.check.privacy_check:pii_findings"), _d5),
    ScoreTest("D6", "New features can be added quickly", ("data.features", "targets.github_actions"),
              (f"{_RT}.run.reasons:step_reasons",), _d6),
    ScoreTest("D7", "All input feature code is tested", ("model.preprocessing",),
              ("mlform.specs.check.examples_check:example_findings",), _d7),
    ScoreTest("M1", "Model specs are reviewed and submitted",
              ("governance.apply_from", "governance.require_clean_tree"),
              ("mlform.compiler.governance.review:check_governance",), _m1),
    ScoreTest("M2", "Offline and online metrics correlate", ("monitoring.offline_gap",),
              (f"{_RT}.monitoring.watch:offline_gap_check",),
              _when("monitoring.offline_gap",
                    "a live metric trailing the registered test metric is a breach",
                    "set `monitoring.offline_gap: {metric, max_drop}`")),
    ScoreTest("M3", "All hyperparameters have been tuned", ("model.tuning",), (f"{_RT}.steps.tuning:search",),
              _when("model.tuning",
                    "hyperparameters are searched and the search table recorded",
                    "set `model.tuning: {method: grid|random, params: {...}}`")),
    ScoreTest("M4", "The impact of model staleness is known", ("evaluation.staleness",),
              (f"{_RT}.steps.staleness:review_staleness",),
              _when("evaluation.staleness",
                    "the metric decay over later time windows is measured and gated",
                    "set `evaluation.staleness: {time_column, windows, max_decay: {<metric>: ...}}`")),
    ScoreTest("M5", "A simpler model is not better", ("evaluation.baseline",),
              (f"{_RT}.steps.review:review_baseline",),
              _when("evaluation.baseline",
                    "the model must beat a simple baseline on the same split",
                    "set `evaluation.baseline: true` (or `{estimator, min_improvement}`)")),
    ScoreTest("M6", "Model quality is sufficient on important data slices", ("evaluation.slices",),
              (f"{_RT}.steps.slices:review_slices",), _m6),
    ScoreTest("M7", "The model is tested for considerations of inclusion", ("evaluation.fairness",),
              (f"{_RT}.steps.review:review_fairness",),
              _when("evaluation.fairness",
                    "the metric gap between groups is gated",
                    "set `evaluation.fairness: {group, metric, max_gap}`")),
    ScoreTest("I1", "Training is reproducible", ("model.reproducible",),
              ("mlform.compiler.governance.reproduce:reproduce",
               "mlform.specs.check.examples_check:reproducible_findings"), _i1),
    ScoreTest("I2", "Model specs are unit tested", ("targets.github_actions",),
              (f"{_RT}.run.smoke:smoke_test",), _i2),
    ScoreTest("I3", "The ML pipeline is integration tested", ("targets.github_actions",),
              (f"{_RT}.run.smoke:smoke_test", "mlform.compiler.targets.github_actions:render"), _i3),
    ScoreTest("I4", "Model quality is validated before serving", ("evaluation.gates",),
              (f"{_RT}.steps.evaluate:check_gates",),
              _when("evaluation.gates",
                    "a version below its gates is never aliased or served",
                    "set `evaluation.gates: {<metric>: {min: ...}}`")),
    ScoreTest("I5", "The model is debuggable", ("serving",), (f"{_RT}.serving.explain:explain_rows",), _i5),
    ScoreTest("I6", "Models are canaried before serving", ("serving.canary",),
              ("mlform.compiler.artifacts.canary:canary_route",
               "mlform.compiler.artifacts.canary:canary_annotations"), _i6),
    ScoreTest("I7", "Serving models can be rolled back", ("registry.production",),
              (f"{_RT}.registry.promotion:review_promotion",), _i7),
    ScoreTest("Mo1", "Dependency changes result in notification", (),
              ("mlform.specs.graph.fingerprint:step_fingerprints",), _mo1),
    ScoreTest("Mo2", "Data invariants hold for inputs", ("serving.validate_inputs", "monitoring.validate_current"),
              (f"{_RT}.serving.guard:InputGuard", f"{_RT}.monitoring.watch:validation_check"), _mo2),
    ScoreTest("Mo3", "Training and serving are not skewed", ("monitoring.drift",),
              (f"{_RT}.monitoring.drift:detect_drift",),
              _when("monitoring.drift",
                    "the live data's drift from the training data is monitored",
                    "set `monitoring: {current, drift}`")),
    ScoreTest("Mo4", "Models are not too stale", ("monitoring.max_model_age",),
              (f"{_RT}.monitoring.watch:model_age_check",),
              _when("monitoring.max_model_age",
                    "a served version older than the limit is a breach",
                    "set `monitoring.max_model_age: 30d`")),
    ScoreTest("Mo5", "Models are numerically stable", ("monitoring.max_nonfinite_share",),
              (f"{_RT}.serving.guard:nonfinite_rows", f"{_RT}.monitoring.watch:nonfinite_check"), _mo5),
    ScoreTest("Mo6", "Computing performance has not regressed", ("evaluation.gates", "monitoring.serving"),
              (f"{_RT}.steps.metric_functions:predict_ms_per_1k_rows",
               f"{_RT}.monitoring.servinghealth:serving_checks"), _mo6),
    ScoreTest("Mo7", "Prediction quality has not regressed", ("monitoring.performance",),
              (f"{_RT}.monitoring.monitor:run_monitor",),
              _when("monitoring.performance",
                    "live metrics below their gates are a breach",
                    "set `monitoring.performance: {<metric>: {min: ...}}`")),
)
