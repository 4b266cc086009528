"""`state.backend`: validated like every other key, per environment, its URL a secret reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.runtime.storage.backends.url import BACKEND_ENV, backend_url
from mlform.specs import load_spec, validate_file
from mlform.specs.errors import StateError

BASE = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: demo
data:
  sources:
    train: {type: csv, path: train.csv}
  target: y
  features: [a, b]
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy]
registry:
  model_name: demo
secrets:
  STATE_DB: {env: DEMO_STATE_URL}
"""


def _spec(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "mlform.yaml"
    path.write_text(BASE + extra)
    (tmp_path / "train.csv").write_text("a,b,y\n1,2,0\n")
    return path


@pytest.mark.parametrize(("extra", "message"), [
    ("state:\n  backend: {kind: postgress}\n",
     "19:12: error: state.backend: unknown kind `postgress`; expected one of `local`, `postgres`, `s3`; "
     "did you mean `postgres`?"),
    ("state:\n  backend: {kind: postgres, url: 'postgresql://me:hunter22@db/ml'}\n",
     "19:34: error: state.backend.url: expected a mapping, got a string; refer to a secret declared under "
     "`secrets` as `{secret: NAME}`, never by value"),
    ("state:\n  backend: {kind: postgres, url: {secret: STATE_BD}}\n",
     "19:43: error: state.backend.url.secret: secret `STATE_BD` is not declared under `secrets`; "
     "did you mean `STATE_DB`?"),
    ("state:\n  backend: {kind: s3, bucket: ml-state, prefx: team}\n",
     "19:41: error: state.backend.prefx: unknown key `prefx`; did you mean `prefix`?"),
    ("state:\n  backend: {kind: s3}\n",
     "19:3: error: state.backend: missing required key `bucket`"),
    ("state:\n  backend: {kind: local}\nenvironments:\n  prod:\n    state:\n      backnd: {kind: s3}\n",
     "23:7: error: environments.prod.state.backnd: unknown key `backnd`; did you mean `backend`? "
     "(in environment `prod`)"),
])
def test_bad_settings_are_located_and_explained(tmp_path: Path, extra: str, message: str) -> None:
    _, diagnostics = validate_file(_spec(tmp_path, extra))
    shown = [str(d).split(":", 1)[1] for d in diagnostics]
    assert shown == [message]
    assert "hunter22" not in "\n".join(shown)


def test_each_environment_names_its_backend_and_the_variable_overrides_all(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = _spec(tmp_path, "state:\n  backend: {kind: local}\nenvironments:\n  dev: {}\n  prod:\n    state:\n"
                           "      backend: {kind: postgres, url: {secret: STATE_DB}}\n  ci:\n    state:\n"
                           "      backend: {kind: s3, bucket: ml-state, prefix: teams/risk}\n"
                           "  shared:\n    state:\n      backend: {kind: local, path: ../team-state}\n")
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    monkeypatch.setenv("DEMO_STATE_URL", "postgresql://me:pw@db:5432/ml")
    assert backend_url(load_spec(path, "dev")) == str(tmp_path / ".mlform")
    assert backend_url(load_spec(path, "prod")) == "postgresql://me:pw@db:5432/ml"
    assert backend_url(load_spec(path, "ci")) == "s3://ml-state/teams/risk"
    assert backend_url(load_spec(path, "shared")) == str(tmp_path.parent / "team-state")
    monkeypatch.setenv(BACKEND_ENV, "s3://other/x")
    assert backend_url(load_spec(path, "prod")) == "s3://other/x"
    monkeypatch.delenv(BACKEND_ENV)
    monkeypatch.delenv("DEMO_STATE_URL")
    with pytest.raises(StateError, match="^`state.backend.url`: secret `STATE_DB` is read from environment "
                                         "variable `DEMO_STATE_URL`, which is not set$"):
        backend_url(load_spec(path, "prod"))


def test_a_spec_without_the_setting_keeps_its_digest(tmp_path: Path) -> None:
    plain = load_spec(_spec(tmp_path, ""))
    explicit = load_spec(_spec(tmp_path, "state:\n  backend: {kind: local}\n"))
    assert "state" not in plain.config
    assert plain.digest == explicit.digest
