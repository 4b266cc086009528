"""`data.columns_meta` and `data.pii` at validate time, and policy rules ranging over columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.specs import validate_file
from mlform.specs.check.policy import load_policy
from mlform.specs.check.policy_check import check_policy

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: demo
data:
  sources:
    train: {type: csv, path: train.csv}
  target: y
  features: [amount, card_id]
  id_columns: [tx]
{EXTRA}
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy]
registry:
  model_name: demo
"""


def _found(tmp_path: Path, extra: str) -> list[str]:
    (tmp_path / "train.csv").write_text("tx,amount,card_id,email,y\n1,2.0,c1,a@b,0\n")
    path = tmp_path / "mlform.yaml"
    path.write_text(SPEC.replace("{EXTRA}", extra))
    return [str(d).removeprefix(f"{path}:") for d in validate_file(path)[1]]


CASES = {
    "a PII feature": (
        "  pii: {columns: [card_id, email]}",
        ["9:22: error: data.features.1: feature `card_id` is a PII column (`data.pii.columns`); remove it, or allow "
         "it with `data.pii.allow_as_feature` and `action: hash`"]),
    "allowed only when hashed": (
        "  pii: {columns: [card_id], allow_as_feature: [card_id]}",
        ["11:48: error: data.pii.allow_as_feature.0: `card_id` is dropped (`action: drop`), so it cannot be a "
         "feature; use `action: hash`"]),
    "allowed and hashed": ("  pii: {columns: [card_id], action: hash, allow_as_feature: [card_id]}", []),
    "a PII column not in the data": (
        "  pii: {columns: [emial], action: hash, allow_as_feature: [card_id]}",
        ["11:19: error: data.pii.columns.0: column `emial` is not in the training data; did you mean `email`?",
         "11:60: error: data.pii.allow_as_feature.0: `card_id` is not in `data.pii.columns`"]),
    "a dropped id column": (
        "  pii: {columns: [tx]}",
        ["11:19: error: data.pii.columns.0: `tx` is dropped (`action: drop`) but the run needs it as an id or "
         "time column; use `action: hash`"]),
    # the readiness hint for D5: a reviewed statement that the data holds no personal data
    "no personal data, declared": ("  pii: {columns: []}", []),
    "declared none, yet marked": (
        "  pii: {columns: []}\n  columns_meta:\n    email: {pii: true}",
        ["13:18: error: data.columns_meta.email.pii: `email` is marked `pii: true` but is not listed in "
         "`data.pii.columns`"]),
    "a salt without hashing": (
        "  pii: {columns: [email], salt: {secret: s}}",
        ["11:8: error: data.pii: `salt` only applies to `action: hash`"]),
    "a value rule on a hashed column": (
        "  pii: {columns: [tx], action: hash}\nvalidation:\n  columns:\n    tx: {unique: true, regex: '^t[0-9]+$'}",
        ["14:31: error: validation.columns.tx.regex: `tx` is hashed (`data.pii`) before validation runs: `regex` "
         "would check the hashes, not the values"]),
    "column metadata": (
        "  columns_meta:\n    amount: {owner: payments, status: deprecated}\n    emial: {owner: crm}\n"
        "    email: {pii: true}",
        ["12:39: warning: data.columns_meta.amount.status: feature `amount` is deprecated",
         "13:5: error: data.columns_meta.emial: column `emial` is not in the training data; did you mean `email`?",
         "14:18: error: data.columns_meta.email.pii: `email` is marked `pii: true` but is not listed in "
         "`data.pii.columns`"]),
}


@pytest.mark.parametrize(("extra", "expected"), CASES.values(), ids=CASES.keys())
def test_privacy_findings_are_located(tmp_path: Path, extra: str, expected: list[str]) -> None:
    assert _found(tmp_path, extra) == expected


POLICY = """\
apiVersion: mlform/v1
kind: Policy
rules:
  - name: owned-features
    require:
      data.columns_meta.{feature}.owner: {present: true}
      data.columns_meta.*.status: {equals: approved}
"""


def test_a_policy_ranges_over_features_and_column_metadata(tmp_path: Path) -> None:
    extra = "  columns_meta:\n    amount: {owner: payments, status: approved}\n    tx: {owner: ops}"
    _found(tmp_path, extra + "\n  pii: {columns: [card_id], action: hash, allow_as_feature: [card_id]}")
    (tmp_path / "policy.yaml").write_text(POLICY)
    specs, _ = validate_file(tmp_path / "mlform.yaml")
    found = [str(d).removeprefix(f"{tmp_path / 'mlform.yaml'}:")
             for d in check_policy(load_policy(tmp_path / "policy.yaml"), specs)]
    assert found == [
        "11:3: error: data.columns_meta.card_id.owner: policy `owned-features`: required but not set",
        "13:5: error: data.columns_meta.tx.status: policy `owned-features`: expected `approved`, got string "
        "`proposed` (the default)",
    ]
