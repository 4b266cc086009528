"""`mlform readiness`: the ML Test Score's tests judged from the spec and the code that enforces them."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlform.compiler.cli import main
from mlform.specs import validate_file
from mlform.specs.check.explain import keys_of
from mlform.specs.check.ml_test_score import TESTS
from mlform.specs.check.readiness import Readiness, ScoreTest, Spec, Verdict, assess, code_missing
from mlform.specs.model.pipeline import Pipeline

# The paper's order: 7 data, 7 model, 7 infrastructure and 7 monitoring tests
PAPER_IDS = [f"{group}{n}" for group in ("D", "M", "I", "Mo") for n in range(1, 8)]

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata: {name: shop}
data:
  sources:
    train: {type: csv, path: train.csv}
    live: {type: csv, path: live.csv}
  train_source: train
  target: churned
  features: [visits, basket]
validation:
  columns:
    visits: {min: 0}
model:
  estimator: sklearn.tree.DecisionTreeClassifier
  params: {max_depth: 3}
evaluation:
  metrics: [accuracy]
registry: {model_name: shop}
monitoring:
  schedule: "0 6 * * *"
  current: live
  drift: {threshold: 0.2}
environments:
  dev: {}
  prod:
    model:
      tuning: {method: grid, params: {max_depth: [2, 4]}, metric: accuracy, cv: 3}
    evaluation:
      gates: {accuracy: {min: 0.7}}
"""


def _project(folder: Path, spec: str = SPEC) -> Path:
    (folder / "mlform.yaml").write_text(spec)
    for name in ("train.csv", "live.csv"):
        (folder / name).write_text("visits,basket,churned\n1,2.5,0\n3,1.0,1\n")
    return folder / "mlform.yaml"


def _mlform(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: exit code, stdout, stderr."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _assess(path: Path, env: str) -> Readiness:
    specs, diagnostics = validate_file(path, [env])
    assert [d for d in diagnostics if d.severity == "error"] == []
    return assess(specs[0])


def test_the_28_tests_in_the_paper_s_order() -> None:
    assert [t.id for t in TESTS] == PAPER_IDS


@pytest.mark.parametrize("test", TESTS, ids=[t.id for t in TESTS])
def test_every_key_a_test_names_is_a_key_of_the_spec_format(test: ScoreTest) -> None:
    for key in test.keys:
        parts = key.split(".")
        for depth, part in enumerate(parts):
            allowed = keys_of(Pipeline, parts[:depth])
            assert allowed is None or part in allowed, f"{test.id}: `{key}` is not in the spec format"


@pytest.mark.parametrize("test", TESTS, ids=[t.id for t in TESTS])
def test_the_code_each_test_names_exists(test: ScoreTest) -> None:
    assert test.enforced_by and code_missing(test.enforced_by) == []


def _exported(module: str) -> list[str]:
    """The names in `module`'s `__all__`, read from its source."""
    origin = importlib.util.find_spec(module).origin  # type: ignore[union-attr]
    tree = ast.parse(Path(origin).read_text())  # type: ignore[arg-type]
    return next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets))


@pytest.mark.parametrize("test", TESTS, ids=[t.id for t in TESTS])
def test_the_code_each_test_names_is_public(test: ScoreTest) -> None:
    for path in test.enforced_by:
        module, _, name = path.partition(":")
        assert not name.startswith("_"), f"{test.id}: `{path}` is private"
        assert name in _exported(module), f"{test.id}: `{path}` is not in its module's `__all__`"


def test_a_test_whose_code_is_gone_is_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlform.specs.check import ml_test_score

    gone = ScoreTest("M3", "All hyperparameters have been tuned", ("model.tuning",),
                ("mlform.runtime.steps.tuning:no_such_search",), lambda spec: Verdict("enforced", "tuned"))
    monkeypatch.setattr(ml_test_score, "TESTS", (gone,))
    [finding] = _assess(_project(tmp_path), "prod").findings
    assert finding.status == "partial"
    assert finding.detail == ("tuned; but the code that enforces it is missing: "
                              "`mlform.runtime.steps.tuning:no_such_search`")


def test_code_missing_reads_sources_without_importing_them() -> None:
    assert code_missing(["mlform.runtime.steps.tuning:search", "mlform.runtime.steps.tuning:nope",
                         "mlform.no_such_module:x"]) == ["mlform.runtime.steps.tuning:nope", "mlform.no_such_module:x"]
    done = subprocess.run([sys.executable, "-c", "import sys; from mlform.specs.check.readiness import code_missing; "
                           "code_missing(['mlform.runtime.steps.tuning:search']); print('sklearn' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_an_overlay_turning_lines_on_raises_the_score(tmp_path: Path) -> None:
    path = _project(tmp_path)
    dev, prod = _assess(path, "dev"), _assess(path, "prod")
    assert prod.enforced - dev.enforced == {"M3", "I4"}
    assert dev.enforced - prod.enforced == set()
    assert prod.score == dev.score + 2
    by_id = {f.id: f for f in dev.findings}
    assert by_id["M3"].status == "off" and by_id["M3"].detail.startswith("set `model.tuning:")
    assert by_id["D1"].status == "partial"
    assert by_id["D1"].detail == "1 of 2 features have no rule in `validation.columns`: `basket`"


@pytest.mark.parametrize(("edit", "test_id", "status", "moved"), [
    (("    visits: {min: 0}\n", "    visits: {min: 0}\n    basket: {nullable: false}\n"), "D1", "enforced", {"D1"}),
    (("validation:\n  columns:\n    visits: {min: 0}\n", ""), "D1", "off", {"D1"}),
    (("  drift: {threshold: 0.2}\n", "  drift: {threshold: 0.2}\n  performance: {accuracy: {min: 0.5}}\n"),
     "Mo7", "enforced", {"Mo7"}),
    # the pull-request workflow plans features (D6), fits the spec (I2) and runs the pipeline (I3) in review
    (("  drift: {threshold: 0.2}\n", "  drift: {threshold: 0.2}\ntargets:\n  github_actions: {}\n"),
     "I3", "enforced", {"D6", "I2", "I3"}),
    # a slice without a gate is scored and shown, never failed
    (("  metrics: [accuracy]\n", "  metrics: [accuracy]\n  slices: {big: {filter: 'visits > 2'}}\n"), "M6",
     "partial", {"M6"}),
    (("  metrics: [accuracy]\n", "  metrics: [accuracy]\n  slices: {big: {filter: 'visits > 2', metrics: "
      "{accuracy: {min: 0.5}}}}\n"), "M6", "enforced", {"M6"}),
    # a canary is a traffic split only the Kubernetes target renders
    (("  drift: {threshold: 0.2}\n", "  drift: {threshold: 0.2}\nserving:\n  canary: {traffic_percent: 10}\n"),
     "I6", "partial", {"I6"}),
    (("  drift: {threshold: 0.2}\n", "  drift: {threshold: 0.2}\nserving:\n  canary: {traffic_percent: 10}\n"
      "targets:\n  kubernetes: {}\n"), "I6", "enforced", {"I6"}),
    # zero is a threshold, not `false`: a feature with a negative importance fails
    (("  metrics: [accuracy]\n", "  metrics: [accuracy]\n  features: {min_importance: 0}\n"), "D2", "enforced",
     {"D2"}),
])
def test_spec_lines_flip_their_tests(tmp_path: Path, edit: tuple[str, str], test_id: str, status: str,
                                     moved: set[str]) -> None:
    before = {f.id: f.status for f in _assess(_project(tmp_path), "dev").findings}
    assert before[test_id] != status
    changed = SPEC.replace(*edit)
    assert changed != SPEC
    after = {f.id: f.status for f in _assess(_project(tmp_path, changed), "dev").findings}
    assert after[test_id] == status
    assert {k for k in after if after[k] != before[k]} == moved


def test_a_covered_feature_set_reads_as_english(tmp_path: Path) -> None:
    owners = SPEC.replace("  features: [visits, basket]\n", "  features: [visits, basket]\n  columns_meta:\n"
                          "    visits: {owner: web}\n    basket: {owner: web}\n")
    by_id = {f.id: f for f in _assess(_project(tmp_path, owners), "dev").findings}
    assert (by_id["D4"].status, by_id["D4"].detail) == ("enforced", "every feature has an owner in `data.columns_meta`")


@pytest.mark.parametrize(("pii", "detail"), [
    ("{columns: [email]}", "1 PII column is dropped before anything is stored"),
    ("{columns: [email, phone], action: hash}", "2 PII columns are hashed before anything is stored"),
])
def test_the_privacy_detail_reads_as_english(tmp_path: Path, pii: str, detail: str) -> None:
    spec = SPEC.replace("  features: [visits, basket]\n", f"  features: [visits, basket]\n  pii: {pii}\n")
    path = _project(tmp_path, spec)
    (tmp_path / "train.csv").write_text("visits,basket,email,phone,churned\n1,2.5,a@b,1,0\n3,1.0,c@d,2,1\n")
    by_id = {f.id: f for f in _assess(path, "dev").findings}
    assert (by_id["D5"].status, by_id["D5"].detail) == ("enforced", detail)


def test_json_has_every_test_and_the_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _mlform(capsys, "readiness", str(_project(tmp_path)), "--env", "prod", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["format_version"] == 1 and doc["env"] == "prod" and doc["total"] == 28
    assert [t["id"] for t in doc["tests"]] == PAPER_IDS
    assert doc["score"] == sum(t["status"] == "enforced" for t in doc["tests"])
    assert {t["status"] for t in doc["tests"]} <= {"enforced", "partial", "off"}
    assert next(t for t in doc["tests"] if t["id"] == "M3")["keys"] == ["model.tuning"]


def test_text_without_env_scores_every_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _mlform(capsys, "readiness", str(_project(tmp_path)))
    assert code == 0, err
    heads = re.findall(r"^mlform readiness: .*\((\w+)\): (\d+)/28 enforced$", out, re.M)
    assert [env for env, _ in heads] == ["default", "dev", "prod"]
    assert int(heads[2][1]) == int(heads[1][1]) + 2


def test_an_invalid_spec_is_an_error_not_a_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path, SPEC.replace("max_depth: 3", "max_dept: 3"))
    code, out, err = _mlform(capsys, "readiness", str(path))
    assert (code, out) == (1, "")
    assert ":16:12: error: model.params.max_dept: " in err and "did you mean `max_depth`" in err
    assert "Traceback" not in err


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=folder,
                   check=True, capture_output=True)


def test_base_says_what_a_pull_request_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path)
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    path.write_text(SPEC.replace("evaluation:\n  metrics: [accuracy]\n",
                                 "evaluation:\n  metrics: [accuracy]\n  gates: {accuracy: {min: 0.6}}\n"))
    code, out, err = _mlform(capsys, "readiness", str(path), "--env", "dev", "--base", "main", "--format", "markdown")
    assert code == 0, err
    first = out.splitlines()[0]
    assert re.fullmatch(r"### ML Test Score: `.*mlform.yaml` \(dev\): \*\*(\d+)/28 enforced \(\+1 since the base: "
                        r"(\d+)/28\)\*\*", first)
    assert "Changed: `I4 off -> enforced`" in out
    as_json = json.loads(_mlform(capsys, "readiness", str(path), "--env", "dev", "--base", "main", "--format",
                                 "json")[1])
    assert as_json["changed"] == ["I4 off -> enforced"] and as_json["base_score"] == as_json["score"] - 1


def test_base_without_the_spec_says_it_is_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README").write_text("no spec yet\n")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    path = _project(tmp_path)  # the pull request adds the spec
    code, out, err = _mlform(capsys, "readiness", str(path), "--env", "dev", "--base", "main")
    assert code == 0, err
    headline = re.fullmatch(r"mlform readiness: .*mlform.yaml \(dev\): (\d+)/28 enforced \(new since the base\)",
                            out.splitlines()[0])
    as_json = json.loads(_mlform(capsys, "readiness", str(path), "--env", "dev", "--base", "main", "--format",
                                 "json")[1])
    assert headline and int(headline.group(1)) == as_json["score"]
    assert as_json["base_score"] is None
    assert len([line for line in as_json["changed"] if line.endswith("-> enforced")]) == as_json["score"]


def test_spec_view_reads_key_paths(tmp_path: Path) -> None:
    specs, _ = validate_file(_project(tmp_path), ["prod"])
    view = Spec(specs[0])
    assert view.get("model.tuning.method") == "grid"
    assert view.get("model.nothing.here") is None
    assert view.on("evaluation.gates") and not view.on("serving")
    assert view.features == ["visits", "basket"]
