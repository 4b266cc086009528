"""The plan core as units: plan data and its file format, artifact and step changes, the saved-plan check and the
writes apply makes from a plan. Fast: no spec is compiled and nothing runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlform.compiler.artifacts.output import Build
from mlform.compiler.plan import planner
from mlform.compiler.plan.apply import _StateReporter, _write_artifacts, check_saved_plan, read_plan
from mlform.compiler.plan.planner import artifact_changes, digest_text, step_changes
from mlform.compiler.plan.plans import Action, Change, Plan, alias_notes, applied_aliases
from mlform.compiler.plan.state import State, StateStore
from mlform.runtime.run.preview import Preview
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.specs.errors import PlanError

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def _plan(**fields: Any) -> Plan:
    changes = [Change("artifact", "deploy/iris/dev/k8s.yaml", Action.CREATE, None, A, "new file"),
               Change("artifact", "deploy/iris/dev/old.yaml", Action.DELETE, B, None, "no longer generated"),
               Change("step", "train", Action.RUN, None, "fp-train", "no cached output"),
               Change("step", "ingest", Action.NOOP, "fp-in", "fp-in", "skip (cached): fingerprint unchanged"),
               Change("alias", "iris@production", Action.UPDATE, "v1", "v2", "v1 -> v2: pinned")]
    base = Plan("models/iris.yaml", "dev", "digest-1", "lineage-1", 3, {"data/iris.csv": "sha256:1"}, changes)
    return replace(base, **fields)


def test_summary_counts_every_row_by_its_action() -> None:
    plan = _plan()
    plan.changes += [Change("artifact", "x", Action.UPDATE, A, B), Change("step", "y", Action.RUN),
                     Change("alias", "iris@staging", Action.CREATE, None, "new version")]
    assert plan.summary() == "Plan: 2 to add, 2 to change, 1 to destroy; 2 steps to run."


def test_has_changes_is_false_only_when_every_row_is_a_noop() -> None:
    assert _plan().has_changes is True
    assert _plan(changes=[Change("step", "ingest", Action.NOOP, "f", "f")]).has_changes is False
    assert _plan(changes=[]).has_changes is False
    assert _plan(changes=[Change("step", "a", Action.NOOP), Change("alias", "b", Action.DELETE)]).has_changes is True


def test_of_selects_by_kind_and_actions() -> None:
    plan = _plan()
    assert [c.address for c in plan.of("artifact")] == ["deploy/iris/dev/k8s.yaml", "deploy/iris/dev/old.yaml"]
    assert [c.address for c in plan.of("step", Action.RUN)] == ["train"]
    assert [c.address for c in plan.of("step", Action.RUN, Action.NOOP)] == ["train", "ingest"]
    assert plan.of("alias", Action.NOOP) == []


def test_the_plan_file_round_trips_and_names_actions_in_words() -> None:
    plan = _plan(problems=["refused"], notes=["moved"])
    text = plan.to_json()
    data = json.loads(text)
    assert data["format_version"] == 1
    assert [c["action"] for c in data["changes"]] == ["create", "delete", "run", "noop", "update"]
    assert data["summary"] == "Plan: 1 to add, 1 to change, 1 to destroy; 1 steps to run."
    assert list(data) == sorted(data) and text.endswith("}\n")
    assert text.startswith('{\n  "changes": [\n    {\n      "action": "create",\n      "address": ')
    assert data["changes"][0] == {"action": "create", "address": "deploy/iris/dev/k8s.yaml", "after": A,
                                  "before": None, "diff": "", "evidence": [], "header_only": False,
                                  "kind": "artifact", "reason": "new file"}
    assert Plan.from_json(text) == plan


@pytest.mark.parametrize(("text", "message"), [
    ("{", "not an mlform plan file: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("[1]", "not an mlform plan file: cannot convert dictionary update sequence element #0 to a sequence"),
    ("{}", "not an mlform plan file: 'format_version'"),
    ('{"format_version": 2}', "plan format_version 2 is not supported (expected 1)"),
    ('{"format_version": 1, "spec": "a"}', "plan file has unexpected content: 'changes'"),
    ('{"format_version": 1, "changes": [{"action": "jump"}]}', "plan file has unexpected content: 'JUMP'"),
])
def test_a_file_that_is_not_a_plan_is_refused_with_why(text: str, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        Plan.from_json(text)
    assert str(caught.value) == message


def test_read_plan_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        read_plan(tmp_path / "gone.plan")
    assert str(caught.value) == f"cannot read plan file {tmp_path / 'gone.plan'}: No such file or directory"
    (tmp_path / "saved.plan").write_text(_plan().to_json())
    assert read_plan(tmp_path / "saved.plan") == _plan()


def test_applied_aliases_keeps_the_model_named_only() -> None:
    recorded = {"iris@production": 3, "iris@staging": 2, "wine@production": 1, "iris-v2@production": 9}
    assert applied_aliases(recorded, "iris") == {"production": 3, "staging": 2}
    assert applied_aliases(recorded, "nope") == {}


def test_alias_notes_say_where_each_moved_alias_is_and_was() -> None:
    tail = " (moved outside `mlform apply`; `mlform audit` shows by what)"
    now, applied = {"production": 4, "staging": 2, "canary": 1}, {"production": 3, "staging": 2, "shadow": 5}
    assert alias_notes(now, applied) == [
        "alias `canary` is at v1, this environment's last apply left it unset" + tail,
        "alias `production` is at v4, this environment's last apply set v3" + tail,
        "alias `shadow` is unset, this environment's last apply set v5" + tail,
    ]
    assert alias_notes(applied, applied) == []


def test_artifact_changes_create_keep_update_and_say_why(tmp_path: Path) -> None:
    (tmp_path / "same.yaml").write_text("a: 1\n")
    (tmp_path / "changed.yaml").write_text("a: 1\nb: 2\n")
    (tmp_path / "edited.yaml").write_text("a: 1\n")
    build = Build(tmp_path, {"same.yaml": "a: 1\n", "new.yaml": "n: 1\n", "changed.yaml": "a: 1\nb: 3\n",
                             "edited.yaml": "a: 2\n"})
    state = State("l", artifacts={"changed.yaml": digest_text("a: 1\nb: 2\n"), "edited.yaml": digest_text("a: 0\n")})
    rows = {c.address: c for c in artifact_changes(build, state)}
    assert list(rows) == ["changed.yaml", "edited.yaml", "new.yaml", "same.yaml"]
    assert rows["new.yaml"] == Change("artifact", "new.yaml", Action.CREATE, None, digest_text("n: 1\n"), "new file")
    assert rows["same.yaml"] == Change("artifact", "same.yaml", Action.NOOP, digest_text("a: 1\n"),
                                       digest_text("a: 1\n"))
    assert rows["changed.yaml"].action is Action.UPDATE
    assert (rows["changed.yaml"].before, rows["changed.yaml"].after) == (digest_text("a: 1\nb: 2\n"),
                                                                         digest_text("a: 1\nb: 3\n"))
    assert rows["changed.yaml"].reason == "spec or mlform changed"
    assert rows["changed.yaml"].diff == ("--- a/changed.yaml\n+++ b/changed.yaml\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n"
                                         "+b: 3")
    assert rows["changed.yaml"].header_only is False
    assert rows["edited.yaml"].reason == "hand-edited since the last apply"
    assert artifact_changes(build, None)[1].reason == "spec or mlform changed"


def test_digest_text_is_the_sha256_of_the_text() -> None:
    assert digest_text("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_a_long_diff_is_cut_with_the_count_of_lines_left(monkeypatch: pytest.MonkeyPatch) -> None:
    before = "\n".join(f"{i}" for i in range(10))
    after = "\n".join(f"{i}!" for i in range(10))
    whole = planner._diff(before, after, "f")
    assert len(whole.splitlines()) == 23  # two file lines, one hunk header, ten removed, ten added
    monkeypatch.setattr(planner, "DIFF_LINES", 5)
    cut = planner._diff(before, after, "f").splitlines()
    assert cut == [*whole.splitlines()[:5], "... 18 more lines"]
    monkeypatch.setattr(planner, "DIFF_LINES", 23)
    assert planner._diff(before, after, "f") == whole


def test_step_changes_run_record_or_skip_each_step() -> None:
    seen = Preview({"ingest": ("f-in", []), "train": ("f-tr", ["code changed", "data changed"]),
                    "evaluate": ("f-ev", []), "register": ("f-re", [])}, {"data/iris.csv": "sha256:1"})
    state = State("l", steps={"ingest": {"fingerprint": "f-in"}, "train": {"fingerprint": "f-old"},
                              "evaluate": {"fingerprint": "f-other"}})
    changes, data = step_changes(seen, state)
    assert data == {"data/iris.csv": "sha256:1"}
    assert changes == [
        Change("step", "ingest", Action.NOOP, "f-in", "f-in", "skip (cached): fingerprint unchanged"),
        Change("step", "train", Action.RUN, "f-old", "f-tr", "code changed; data changed"),
        Change("step", "evaluate", Action.UPDATE, "f-other", "f-ev",
               "record the cached output: state holds another fingerprint"),
        Change("step", "register", Action.NOOP, "f-re", "f-re", "skip (cached): fingerprint unchanged"),
    ]
    assert [c.before for c in step_changes(seen, None)[0]] == ["f-in", None, "f-ev", "f-re"]


def _drop_alias(plan: Plan) -> None:
    plan.changes = [c for c in plan.changes if c.kind != "alias"]


def _train_cached(plan: Plan) -> None:
    plan.changes[2] = Change("step", "train", Action.NOOP, "fp-train", "fp-train")


WHERE = "`models/iris.yaml` (dev)"
STALE = [
    ({"spec": "models/wine.yaml"}, None, f"the plan is for {WHERE}, not for `models/wine.yaml` (dev)"),
    ({"env": "prod"}, None, f"the plan is for {WHERE}, not for `models/iris.yaml` (prod)"),
    ({"lineage": "lineage-2"}, None, f"the plan does not match the state of {WHERE}: it was made for lineage "
                                     "lineage-1, the state has lineage lineage-2"),
    ({"lineage": None}, None, f"the plan does not match the state of {WHERE}: it was made for lineage "
                              "lineage-1, the state has lineage none"),
    ({"serial": 4}, None, f"saved plan is stale: the state of {WHERE} moved from serial 3 to 4 since the plan was "
                          "made; run `mlform plan` again"),
    ({"spec_digest": "digest-2"}, None, f"the spec {WHERE} changed since the plan was made; run `mlform plan` again"),
    ({"data": {"data/iris.csv": "sha256:2"}}, None,
     "data file `data/iris.csv` changed since the plan was made; run `mlform plan` again"),
    ({"data": {}}, None, "data file `data/iris.csv` changed since the plan was made; run `mlform plan` again"),
    ({}, _drop_alias, "alias `iris@production` no longer moves as planned (v1 -> v2): the registry changed since "
                      "the plan was made; run `mlform plan` again"),
    ({}, _train_cached, "step `train` would no longer change as planned (mlform, templates or files changed since "
                        "the plan was made); run `mlform plan` again"),
]


@pytest.mark.parametrize(("fresh_fields", "edit", "message"), STALE)
def test_a_saved_plan_that_no_longer_holds_is_refused(fresh_fields: dict[str, Any], edit: Any, message: str) -> None:
    fresh = _plan(**fresh_fields)
    if edit is not None:
        edit(fresh)
    with pytest.raises(PlanError) as caught:
        check_saved_plan(_plan(), fresh)
    assert str(caught.value) == message


def test_a_plan_made_without_state_is_refused_once_state_exists() -> None:
    with pytest.raises(PlanError) as caught:
        check_saved_plan(_plan(lineage=None, serial=None), _plan())
    assert str(caught.value) == (f"the plan was made when {WHERE} had no state, but state now exists (serial 3); "
                                 "run `mlform plan` again")


def test_a_saved_plan_that_still_holds_passes() -> None:
    check_saved_plan(_plan(), _plan())
    fresh = _plan(data={"data/iris.csv": "sha256:1", "data/extra.csv": "sha256:9"})
    fresh.changes.append(Change("alias", "iris@staging", Action.CREATE, None, "new version"))
    fresh.changes[3] = replace(fresh.changes[3], reason="another reason")
    check_saved_plan(_plan(), fresh)
    check_saved_plan(_plan(lineage=None, serial=None), _plan(lineage=None, serial=None))


def test_apply_writes_creates_and_updates_deletes_orphans_and_records_digests(tmp_path: Path) -> None:
    (tmp_path / "old.yaml").write_text("old\n")
    (tmp_path / "kept.yaml").write_text("kept\n")
    (tmp_path / "changed.yaml").write_text("was\n")
    build = Build(tmp_path, {"new.yaml": "new\n", "kept.yaml": "kept\n", "changed.yaml": "now\n"})
    plan = _plan(changes=[Change("artifact", "new.yaml", Action.CREATE, None, "d-new"),
                          Change("artifact", "kept.yaml", Action.NOOP, "d-kept", "d-kept"),
                          Change("artifact", "changed.yaml", Action.UPDATE, "d-was", "d-now"),
                          Change("artifact", "old.yaml", Action.DELETE, "d-old", None),
                          Change("step", "train", Action.RUN, None, "fp")])
    state = State("l", artifacts={"old.yaml": "d-old", "kept.yaml": "d-kept"})
    (tmp_path / "kept.yaml").write_text("hand edit the plan keeps\n")
    _write_artifacts(plan, build, state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changed.yaml", "kept.yaml", "new.yaml"]
    assert (tmp_path / "new.yaml").read_text() == "new\n"
    assert (tmp_path / "changed.yaml").read_text() == "now\n"
    assert (tmp_path / "kept.yaml").read_text() == "hand edit the plan keeps\n"
    assert state.artifacts == {"new.yaml": "d-new", "kept.yaml": "d-kept", "changed.yaml": "d-now"}


class _Console:
    """Collects what apply prints, as the terminal console would show it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def start(self, step_id: str, reasons: list[str]) -> None:
        self.lines.append(f"start {step_id}: {', '.join(reasons)}")

    def finish(self, outcome: Any) -> None:
        self.lines.append(f"finish {outcome.id}: {outcome.status}")


def test_each_completed_step_is_recorded_in_state_at_once(tmp_path: Path) -> None:
    store = StateStore(LocalBackend(tmp_path), "iris", "dev")
    state = store.new_state("models/iris.yaml", "dev")
    console = _Console()
    reporter = _StateReporter(store, state, console)
    reporter.start("train", ["code changed"])
    values = {"model": "m", "rows": 150, "secret": "x", "ok": True}
    reporter.finish(SimpleNamespace(id="train", status="ran", fingerprint="fp", values=values))
    entry = {"fingerprint": "fp", "outputs": {"model": "m", "rows": 150, "ok": True}}
    written = store.read()
    assert written is not None and written.serial == 1 and written.steps == {"train": entry}
    reporter.finish(SimpleNamespace(id="train", status="cached", fingerprint="fp", values=values))
    assert store.read().serial == 1  # type: ignore[union-attr]  # the same entry is not written again
    reporter.finish(SimpleNamespace(id="evaluate", status="failed", fingerprint="fe", values={}))
    reporter.finish(SimpleNamespace(id="ingest", status="cached", fingerprint="fi", values={}))
    final = store.read()
    assert final is not None and final.serial == 2
    assert final.steps == {"train": entry, "ingest": {"fingerprint": "fi", "outputs": {}}}
    assert console.lines == ["start train: code changed", "finish train: ran", "finish train: cached",
                             "finish evaluate: failed", "finish ingest: cached"]


def test_a_long_diff_is_cut_at_200_lines() -> None:
    before = "\n".join(f"{i}" for i in range(150))
    after = "\n".join(f"{i}!" for i in range(150))
    lines = planner._diff(before, after, "f").splitlines()
    assert len(lines) == 201 and lines[-1] == "... 103 more lines"  # 3 header lines, 150 removed, 150 added


def test_the_first_plan_of_a_spec_creates_every_file_runs_every_step_and_adds_its_alias(iris_project: Path) -> None:
    from mlform.compiler.graph.stepgraph import view
    from mlform.compiler.plan.planner import build_for, make_plan
    from mlform.compiler.plan.plans import PlanInputs
    from mlform.runtime.run.preview import current_graph
    from mlform.specs import load_spec

    (iris_project.parent / ".git").mkdir()
    spec = load_spec(iris_project, "dev")
    inputs = PlanInputs(out=iris_project.parent, targets=("kubernetes",))
    plan = make_plan(spec, inputs)
    assert (plan.spec, plan.env, plan.spec_digest, plan.lineage, plan.serial) == (spec.display, "dev", spec.digest,
                                                                                  None, None)
    assert (plan.problems, plan.notes) == ([], [])
    expected = build_for(spec, inputs, current_graph(spec)).files
    # the iris example's dev resources, as the Kubernetes target documents them (dev has no autoscaling)
    assert sorted(expected) == [f"deploy/iris/dev/kubernetes/{name}.yaml" for name in (
        "configmap", "cronjob", "deployment", "job", "kustomization", "persistentvolumeclaim", "poddisruptionbudget",
        "service", "serviceaccount")]
    assert [(c.address, c.action, c.after, c.reason) for c in plan.of("artifact")] == [
        (address, Action.CREATE, f"sha256:{hashlib.sha256(text.encode()).hexdigest()}", "new file")
        for address, text in sorted(expected.items())]
    steps = plan.of("step")
    assert sorted(c.address for c in steps) == sorted(view(spec, current_graph(spec)).steps)
    assert {c.action for c in steps} == {Action.RUN}
    assert plan.of("alias") == [Change("alias", "iris-classifier@staging", Action.CREATE, None, "new version",
                                       "none -> the new version, if it passes its gates")]
    assert not (iris_project.parent / "deploy").exists()  # a plan writes nothing


def test_apply_of_a_saved_plan_writes_its_files_runs_its_steps_and_records_them(iris_project: Path) -> None:
    from mlform.compiler.plan.apply import apply_plan
    from mlform.compiler.plan.planner import make_plan, state_store
    from mlform.compiler.plan.plans import PlanInputs
    from mlform.specs import load_spec

    (iris_project.parent / ".git").mkdir()
    spec = load_spec(iris_project, "dev")
    inputs = PlanInputs(out=iris_project.parent, targets=("kubernetes",))
    saved = make_plan(spec, inputs)
    stale = replace(saved, serial=7)
    with pytest.raises(PlanError, match=r"^saved plan is stale: "):
        apply_plan(spec, inputs, stale, _Console())
    assert state_store(spec).read() is None  # refused before anything is written
    applied, state, notes = apply_plan(spec, inputs, saved, _Console())
    assert (applied, notes) == (saved, [])
    files = {c.address: c.after for c in saved.of("artifact")}
    assert state.artifacts == files
    assert {a: digest_text((iris_project.parent / a).read_text()) for a in files} == files
    assert {k: v["fingerprint"] for k, v in state.steps.items()} == {c.address: c.after for c in saved.of("step")}
    assert state.aliases == {"iris-classifier@staging": 1}
    assert state_store(spec).read() == state
    again = make_plan(spec, inputs)
    assert (again.has_changes, again.lineage, again.serial) == (False, state.lineage, state.serial)


def test_a_file_that_differs_only_in_its_header_says_so_unless_it_was_hand_edited(tmp_path: Path) -> None:
    from mlform.compiler.artifacts.output import HEADER_MARK

    def generated(version: str) -> str:
        return (f"# {HEADER_MARK}\n# mlform {version}\n# spec: \"models/iris.yaml\"\n# env: dev\n"
                "# spec digest: sha256:abc\nkind: Service\n")

    (tmp_path / "svc.yaml").write_text(generated("0.0.9"))
    build = Build(tmp_path, {"svc.yaml": generated("0.1.0")})
    [change] = artifact_changes(build, State("l", artifacts={"svc.yaml": digest_text(generated("0.0.9"))}))
    assert (change.action, change.header_only) == (Action.UPDATE, True)
    assert change.reason == "differs only in the provenance header (`mlform`)"
    [edited] = artifact_changes(build, State("l", artifacts={"svc.yaml": digest_text("something else")}))
    assert (edited.header_only, edited.reason) == (True, "hand-edited since the last apply")
