"""Organisation policies: each condition, where a violation is reported, and a policy file's own errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.specs import SpecError, validate_file
from mlform.specs.check.policy import MAX_PATTERN, load_policy
from mlform.specs.check.policy_check import check_policy
from mlform.specs.read.source import MAX_BYTES

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: demo
  owners: [team@example.com]
data:
  sources:
    train: {type: csv, path: train.csv}
    live: {type: csv, path: live.csv}
  train_source: train
  target: y
  features: [a, b]
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy]
registry:
  model_name: demo
serving:
  replicas: 1
monitoring:
  schedule: "0 6 * * *"
  current: live
  drift:
    threshold: 0.3
targets:
  docker: {image: ghcr.io/example/demo}
environments:
  dev: {}
  prod:
    serving:
      replicas: 3
    monitoring:
      drift: {threshold: 0.1}
"""
HEAD = "apiVersion: mlform/v1\nkind: Policy\nrules:\n"


def _rule(require: str, **extra: str) -> str:
    """One rule named `r` requiring `require` (a `KEY: {CONDITIONS}` line), with `extra` rule keys."""
    lines = ["  - name: r", *(f"    {key}: {value}" for key, value in extra.items())]
    lines += ["    require:", f"      {require}"]
    return "\n".join(lines) + "\n"


def _violations(folder: Path, rules: str, spec: str = SPEC, envs: list[str] | None = None) -> list[str]:
    """Check `spec` against a policy of `rules`; each diagnostic without the spec file's name."""
    (folder / "mlform.yaml").write_text(spec)
    for name in ("train.csv", "live.csv"):
        (folder / name).write_text("a,b,y\n1,2,0\n")
    (folder / "policy.yaml").write_text(HEAD + rules)
    loaded = load_policy(folder / "policy.yaml", "policy.yaml")
    specs, diagnostics = validate_file(folder / "mlform.yaml", envs)
    assert diagnostics == []
    return [str(d).removeprefix(f"{folder / 'mlform.yaml'}:") for d in check_policy(loaded, specs)]


CONDITIONS = {
    "min": (_rule("serving.replicas: {min: 2}"),
            ["20:13: error: serving.replicas: policy `r`: expected at least 2, got 1"]),
    "max": (_rule("monitoring.drift.threshold: {max: 0.2}"),
            ["25:16: error: monitoring.drift.threshold: policy `r`: expected at most 0.2, got 0.3"]),
    "min-not-a-number": (_rule("registry.model_name: {min: 1}"),
                         ["18:15: error: registry.model_name: policy `r`: expected a number, got string `demo`"]),
    "min_items": (_rule("metadata.owners: {min_items: 2}"),
                  ["5:11: error: metadata.owners: policy `r`: expected at least 2 items, got 1"]),
    "max_items": (_rule("data.features: {max_items: 1}"),
                  ["12:13: error: data.features: policy `r`: expected at most 1 item, got 2"]),
    "min_items-not-a-list": (_rule("registry.model_name: {min_items: 1}"),
                             ["18:15: error: registry.model_name: policy `r`: expected a list or mapping, "
                              "got string `demo`"]),
    "one_of": (_rule("model.estimator: {one_of: [sklearn.svm.SVC, sklearn.tree.DecisionTreeClassifier]}"),
               ["14:14: error: model.estimator: policy `r`: expected one of `sklearn.svm.SVC`, "
                "`sklearn.tree.DecisionTreeClassifier`; got string `sklearn.linear_model.LogisticRegression`"]),
    "equals": (_rule("registry.model_name: {equals: demo-model}"),
               ["18:15: error: registry.model_name: policy `r`: expected `demo-model`, got string `demo`"]),
    "equals-true-is-not-1": (_rule("serving.replicas: {equals: true}"),
                             ["20:13: error: serving.replicas: policy `r`: expected `true`, got integer `1`",
                              "32:17: error: environments.prod.serving.replicas: policy `r`: expected `true`, "
                              "got integer `3` (in environment `prod`)"]),
    "pattern": (_rule(r"data.sources.train.path: {pattern: '.*\.parquet'}"),
                [r"8:30: error: data.sources.train.path: policy `r`: expected text matching `.*\.parquet`, "
                 "got string `train.csv`"]),
    "pattern-is-a-full-match": (_rule("data.sources.train.path: {pattern: train}"),
                                ["8:30: error: data.sources.train.path: policy `r`: expected text matching `train`, "
                                 "got string `train.csv`"]),
    "pattern-not-a-string": (_rule("evaluation.metrics: {pattern: accuracy}"),
                             ["16:12: error: evaluation.metrics: policy `r`: expected a string, got a list"]),
    "present-true": (_rule("serving.autoscaling: {present: true}"),
                     ["19:1: error: serving.autoscaling: policy `r`: required but not set"]),
    "present-false": (_rule("serving.replicas: {present: false}"),
                      ["20:13: error: serving.replicas: policy `r`: must not be set, got integer `1`",
                       "32:17: error: environments.prod.serving.replicas: policy `r`: must not be set, "
                       "got integer `3` (in environment `prod`)"]),
    "several-conditions": (_rule("registry.model_name: {min_items: 1, pattern: x}"),
                           ["18:15: error: registry.model_name: policy `r`: expected a list or mapping, "
                            "got string `demo`",
                            "18:15: error: registry.model_name: policy `r`: expected text matching `x`, "
                            "got string `demo`"]),
    "satisfied": (_rule("serving.port: {min: 1, max: 65535, equals: 8080.0}"), []),
    "absent-and-must-be": (_rule("serving.autoscaling: {present: false}"), []),
    "a-default-is-checked-at-its-parent-key": (
        _rule("targets.docker.base_image: {equals: 'python:3.12-slim'}"),
        ["27:3: error: targets.docker.base_image: policy `r`: expected `python:3.12-slim`, "
         "got string `python:3.11-slim` (the default)"]),
    "missing-key-at-its-parent": (_rule("serving.autoscaling.max_replicas: {max: 4}"),
                                  ["19:1: error: serving.autoscaling.max_replicas: policy `r`: required but not set"]),
    "missing-section-at-the-top": (_rule("tracking.uri: {present: true}"),
                                   ["1:1: error: tracking.uri: policy `r`: required but not set"]),
    "in-the-overlay-that-sets-it": (
        _rule("monitoring.drift.threshold: {max: 0.05}"),
        ["25:16: error: monitoring.drift.threshold: policy `r`: expected at most 0.05, got 0.3",
         "34:26: error: environments.prod.monitoring.drift.threshold: policy `r`: expected at most 0.05, got 0.1 "
         "(in environment `prod`)"]),
    "limited-to-prod": (_rule("serving.replicas: {min: 4}", environments="[prod]"),
                        ["32:17: error: environments.prod.serving.replicas: policy `r`: expected at least 4, got 3 "
                         "(in environment `prod`)"]),
    "limited-to-dev-inheriting-the-base-value": (
        _rule("serving.replicas: {min: 2}", environments="[dev]"),
        ["20:13: error: serving.replicas: policy `r`: expected at least 2, got 1 (in environment `dev`)"]),
    "limited-to-the-base-spec": (_rule("serving.replicas: {min: 4}", environments="[default]"),
                                 ["20:13: error: serving.replicas: policy `r`: expected at least 4, got 1"]),
    "limited-to-an-environment-the-spec-lacks": (_rule("serving.replicas: {min: 4}", environments="[staging]"), []),
    "with-its-message": (_rule("serving.replicas: {min: 2}", message="serving needs two replicas"),
                         ["20:13: error: serving.replicas: policy `r`: expected at least 2, got 1; "
                          "serving needs two replicas"]),
    "warning": (_rule("serving.replicas: {min: 2}", severity="warning"),
                ["20:13: warning: serving.replicas: policy `r`: expected at least 2, got 1"]),
}


@pytest.mark.parametrize(("rules", "expected"), CONDITIONS.values(), ids=CONDITIONS)
def test_each_violation_is_located_in_the_spec(tmp_path: Path, rules: str, expected: list[str]) -> None:
    assert _violations(tmp_path, rules) == expected


def test_every_rule_and_condition_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    rules = (_rule("serving.replicas: {min: 2}").replace("name: r", "name: replicas")
             + _rule("metadata.owners: {min_items: 3}").replace("name: r", "name: owners"))
    assert _violations(tmp_path, rules) == [
        "5:11: error: metadata.owners: policy `owners`: expected at least 3 items, got 1",
        "20:13: error: serving.replicas: policy `replicas`: expected at least 2, got 1",
    ]


def test_validating_one_environment_names_it_even_for_base_values(tmp_path: Path) -> None:
    rules = _rule("metadata.owners: {min_items: 2}")
    assert _violations(tmp_path, rules, envs=["prod"]) == [
        "5:11: error: metadata.owners: policy `r`: expected at least 2 items, got 1 (in environment `prod`)"]


def test_a_section_an_overlay_deletes_is_missing_at_the_overlay_key(tmp_path: Path) -> None:
    spec = SPEC.replace("    monitoring:\n      drift: {threshold: 0.1}\n", "    monitoring: null\n")
    rules = _rule("monitoring.drift.threshold: {max: 0.2}", environments="[prod]")
    assert _violations(tmp_path, rules, spec) == [
        "33:5: error: monitoring.drift.threshold: policy `r`: required but not set (in environment `prod`)"]


def test_hostile_text_is_escaped_onto_one_line(tmp_path: Path) -> None:
    spec = SPEC.replace("  name: demo\n", '  name: demo\n  description: "two\\nlines `x`"\n')
    rules = _rule('metadata.description: {pattern: "^it\'s \\"ok\\"\\n$"}', message='"see\\nwiki"')
    assert _violations(tmp_path, rules, spec) == [
        "5:16: error: metadata.description: policy `r`: expected text matching `^it's \"ok\"\\n$`, "
        "got string `two\\nlines `x``; see\\nwiki"]


POLICY_ERRORS = {
    "unknown-condition": (
        _rule("serving.replicas: {min_item: 2}"),
        ["6:26: error: rules.0.require.serving.replicas.min_item: unknown key `min_item`; did you mean `min_items`?"]),
    "unknown-rule-key": (
        _rule("serving.replicas: {min: 2}", severty="warning"),
        ["5:5: error: rules.0.severty: unknown key `severty`; did you mean `severity`?"]),
    "unknown-spec-key": (
        _rule("serving.replica: {min: 2}"),
        ["6:7: error: rules.0.require.serving.replica: `serving.replica`: unknown key `replica` in `serving`; "
         "did you mean `replicas`?"]),
    "unknown-section": (
        _rule("servin.replicas: {min: 2}"),
        ["6:7: error: rules.0.require.servin.replicas: `servin.replicas`: unknown key `servin`; "
         "did you mean `serving`?"]),
    "not-a-key-path": (
        _rule("serving..replicas: {min: 2}"),
        ["6:7: error: rules.0.require.serving..replicas: `serving..replicas` is not a key path like "
         "`serving.replicas`"]),
    "a-key-path-into-the-overlays": (
        _rule("environments.prod.serving: {present: true}"),
        ["6:7: error: rules.0.require.environments.prod.serving: rules see each environment's resolved spec, "
         "not the overlays: limit a rule with `environments: [...]` instead"]),
    "bad-regex": (
        _rule("metadata.name: {pattern: '^demo-(x'}"),
        ["6:32: error: rules.0.require.metadata.name.pattern: `^demo-(x` is not a valid regular expression: "
         "missing ), unterminated subpattern at position 6"]),
    "quoted-number": (
        _rule('serving.replicas: {min: "2"}'),
        ['6:31: error: rules.0.require.serving.replicas.min: expected a number, got string `2`; remove the quotes']),
    "bad-severity": (
        _rule("serving.replicas: {min: 2}", severity="fatal"),
        ["5:15: error: rules.0.severity: expected one of `error`, `warning`; got string `fatal`"]),
    "bad-environment-name": (
        _rule("serving.replicas: {min: 2}", environments="[Prod]"),
        ["5:20: error: rules.0.environments.0: `Prod` is not an environment name: lowercase letters, digits "
         "and `-`, starting with a letter, at most 31 characters"]),
    "empty-condition": (
        _rule("serving.replicas: {}"),
        ["6:25: error: rules.0.require.serving.replicas: a condition needs at least one of `present`, `min`, "
         "`max`, `min_items`, `max_items`, `one_of`, `equals`, `pattern`"]),
    "present-false-and-more": (
        _rule("serving.replicas: {present: false, min: 1}"),
        ["6:25: error: rules.0.require.serving.replicas: `present: false` cannot be combined with other "
         "conditions"]),
    "bounds-reversed": (
        _rule("serving.replicas: {min: 3, max: 2}"),
        ["6:25: error: rules.0.require.serving.replicas: `min` (3) is greater than `max` (2)"]),
    "nothing-required": (
        "  - name: r\n    require: {}\n",
        ["5:14: error: rules.0.require: needs at least 1 item"]),
    "duplicate-names": (
        _rule("serving.replicas: {min: 2}") + _rule("serving.port: {min: 1}"),
        ["7:11: error: rules.1.name: duplicate rule name `r` (first defined at line 4)"]),
    "bad-name": (
        _rule("serving.replicas: {min: 2}").replace("name: r", "name: 'two words'"),
        ["4:11: error: rules.0.name: `two words` is not an identifier: letters, digits, `_` and `-`, "
         "not starting with a digit"]),
}


@pytest.mark.parametrize(("rules", "expected"), POLICY_ERRORS.values(), ids=POLICY_ERRORS)
def test_a_broken_policy_file_is_reported_at_its_own_lines(tmp_path: Path, rules: str, expected: list[str]) -> None:
    (tmp_path / "policy.yaml").write_text(HEAD + rules)
    with pytest.raises(SpecError) as caught:
        load_policy(tmp_path / "policy.yaml", "policy.yaml")
    assert [str(d).removeprefix("policy.yaml:") for d in caught.value.diagnostics] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("apiVersion: mlform/v1\nkind: Polcy\nrule: []\n", [
        "1:1: error: missing required key `rules`",
        "2:7: error: kind: expected `Policy`, got string `Polcy`; did you mean `Policy`?",
        "3:1: error: rule: unknown key `rule`; did you mean `rules`?"]),
    ("- a list\n", ["1:1: error: the top level of a policy must be a mapping"]),
    ("", ["1:1: error: the file is empty; a policy is a mapping that starts with `apiVersion: mlform/v1`"]),
    (HEAD + "  - name: r\n    require:\n      serving.replicas: {min: 2, min: 3}\n", [
        "6:34: error: rules.0.require.serving.replicas.min: duplicate key `min` (first defined at line 6)"]),
    (HEAD + "  - name: r\n    require:\n      metadata.name: {pattern: \"(\\n\"}\n", [
        "6:32: error: rules.0.require.metadata.name.pattern: `(\\n` is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0 (line 1, column 1)"]),
], ids=["top-level", "not-a-mapping", "empty", "duplicate-key", "hostile-regex"])
def test_a_policy_file_is_read_as_strictly_as_a_spec(tmp_path: Path, text: str, expected: list[str]) -> None:
    (tmp_path / "policy.yaml").write_text(text)
    with pytest.raises(SpecError) as caught:
        load_policy(tmp_path / "policy.yaml", "policy.yaml")
    assert [str(d).removeprefix("policy.yaml:") for d in caught.value.diagnostics] == expected


def test_an_oversized_policy_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(HEAD.encode() + b"#" * MAX_BYTES)
    with pytest.raises(SpecError) as caught:
        load_policy(path, "policy.yaml")
    assert [str(d) for d in caught.value.diagnostics] == [
        f"policy.yaml:1:1: error: file is {len(HEAD) + MAX_BYTES} bytes; policies are limited to {MAX_BYTES} bytes"]


def test_an_overlong_pattern_is_refused(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(HEAD + _rule(f"metadata.name: {{pattern: '{'a' * (MAX_PATTERN + 1)}'}}"))
    with pytest.raises(SpecError) as caught:
        load_policy(tmp_path / "policy.yaml", "policy.yaml")
    assert [str(d).removeprefix("policy.yaml:") for d in caught.value.diagnostics] == [
        f"6:32: error: rules.0.require.metadata.name.pattern: must be at most {MAX_PATTERN} characters, "
        f"got {MAX_PATTERN + 1}"]


def test_the_example_policy_holds_for_the_bundled_examples() -> None:
    examples = Path(__file__).resolve().parents[3] / "examples"
    loaded = load_policy(examples / "mlform-policy.yaml")
    assert len(loaded.policy.rules) >= 4
    for spec in sorted(examples.glob("*/mlform.yaml")):
        specs, diagnostics = validate_file(spec)
        assert diagnostics == []
        assert check_policy(loaded, specs) == []


def test_a_rule_can_require_a_readiness_score(tmp_path: Path) -> None:
    rules = "  - name: ready\n    environments: [prod]\n    min_readiness: 27\n    message: prod models are reviewed\n"
    [violation] = _violations(tmp_path, rules)
    assert violation.startswith("4:9: error: metadata.name: policy `ready`: the spec enforces ")
    assert "of the ML Test Score's 28 tests, at least 27 required (not enforced: D1, D2, " in violation
    assert violation.endswith("see `mlform readiness`); prod models are reviewed (in environment `prod`)")


def test_a_readiness_rule_passes_at_the_spec_s_score(tmp_path: Path) -> None:
    from mlform.specs.check.readiness import assess

    (tmp_path / "mlform.yaml").write_text(SPEC)
    for name in ("train.csv", "live.csv"):
        (tmp_path / name).write_text("a,b,y\n1,2,0\n")
    specs, _ = validate_file(tmp_path / "mlform.yaml", ["prod"])
    score = assess(specs[0]).score
    assert _violations(tmp_path, f"  - name: ready\n    min_readiness: {score}\n", envs=["prod"]) == []
    assert len(_violations(tmp_path, f"  - name: ready\n    min_readiness: {score + 1}\n", envs=["prod"])) == 1


def test_a_rule_must_ask_for_something(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(HEAD + "  - name: r\n    message: nothing\n")
    with pytest.raises(SpecError) as raised:
        load_policy(tmp_path / "policy.yaml", "policy.yaml")
    assert [str(d) for d in raised.value.diagnostics] == [
        "policy.yaml:4:5: error: rules.0: a rule needs `require` (key paths and conditions) or `min_readiness`"]
