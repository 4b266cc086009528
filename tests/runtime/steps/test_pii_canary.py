"""`data.pii`: a canary value in a PII column reaches no stored file, log line or generated artifact."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

CANARY = "CANARY-4929-0000-5555"
SALT = "pepper-for-tests"
SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: canary
data:
  sources:
    train: {type: csv, path: train.csv}
  target: y
  features: [amount]
  id_columns: [tx]
  pii: %s
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy]
registry:
  model_name: canary
targets:
  github_actions: {}
secrets:
  pii_salt: {env: CANARY_PII_SALT}
"""


def _project(tmp_path: Path, pii: str) -> Path:
    rows = [{"tx": f"t{i}", "card": f"card-{i}", "email": f"user{i}@example.com", "amount": float(i % 7),
             "y": i % 2} for i in range(40)]
    rows[3]["card"] = rows[5]["email"] = CANARY
    pd.DataFrame(rows).to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "mlform.yaml").write_text(SPEC % pii)
    return tmp_path


def _holders(root: Path, skip: Path) -> list[str]:
    """Files under `root` (the data file `skip` aside) holding the canary, as bytes or as a Parquet value."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p != skip):
        held = CANARY.encode() in path.read_bytes()
        if not held and path.suffix == ".parquet":
            held = pd.read_parquet(path).astype(str).isin([CANARY]).any().any()
        if held:
            found.append(str(path.relative_to(root)))
    return found


@pytest.mark.parametrize("pii", [
    "{columns: [card, email]}",
    "{columns: [card, email, tx], action: hash, salt: {secret: pii_salt}}",
], ids=["drop", "hash"])
def test_the_canary_is_stored_nowhere(tmp_path: Path, pii: str, run_mlform: Callable[..., Any],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARY_PII_SALT", SALT)
    root = _project(tmp_path, pii)
    result = run_mlform("apply", root, "--yes", "--artifacts-dir", root / "build", cwd=root)
    assert result.code == 0, result.err
    assert CANARY not in result.out + result.err
    assert (root / ".mlform").is_dir() and list((root / "build").rglob("*.yml"))
    assert _holders(root, root / "train.csv") == []
    ingested = pd.concat(pd.read_parquet(p) for p in (root / ".mlform").rglob("data.parquet"))
    if "hash" in pii:
        keyed = hmac.new(SALT.encode(), CANARY.encode(), hashlib.sha256).hexdigest()[:16]
        assert keyed in set(ingested["card"]) and keyed in set(ingested["email"])
    else:
        assert {"card", "email"}.isdisjoint(ingested.columns)


def test_without_pii_the_canary_is_stored(tmp_path: Path, run_mlform: Callable[..., Any],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe itself works: an unprotected column does reach the state."""
    root = _project(tmp_path, "null")
    result = run_mlform("apply", root, "--yes", "--artifacts-dir", root / "build", cwd=root)
    assert result.code == 0, result.err
    assert any(path.endswith("data.parquet") for path in _holders(root, root / "train.csv"))
