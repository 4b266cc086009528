"""Plan-states benchmark: a no-op `mlform plan` of one spec in each state a user reaches, and one training nothing.

One copy of examples/iris (2 environments; refits give new bytes, any version passes, the live data drifts, so a
monitor retrains) goes through the states in order: applied; `prod` pinned with `mlform promote --version 1` and
applied (after a promotion); `mlform monitor --env prod` retrained it (after a monitoring retrain, no apply since);
`dev` edited and applied, which moves `dev`'s alias in the shared aliases file (after another environment's apply).
In each state `mlform plan . --artifacts-dir out` is timed as a whole process (wall clock and CPU time, user+sys:
on a shared machine CPU time is what the code costs), and once more with `prod`'s Kubernetes namespace edited
(artifacts change, no step runs), and `mlform validate .` of that edited spec: the floor of any plan that has to
validate a changed spec before it can tell that nothing trains; and a process that only imports what such a plan needs
and the no-op does not (pydantic, the spec's models, Jinja), the floor of any plan with today's validator and
templates. With `--baseline PYTHON`, an mlform installed
elsewhere (e.g. the commit before a change) goes through the same states in its own copy, interleaved run by run.
Goals (issue 17): no-op <= 0.4 s in every state; the plan that trains nothing <= 2x the no-op one (the import
floor alone is 1.5-2x the no-op, see RESULTS.md).
Writes benchmarks/results/plan_states.md. Run it alone with `python benchmarks/bench_plan_states.py`.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench_cli import machine_facts

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "iris"
RESULT = HERE / "results" / "plan_states.md"
GOAL_S, GOAL_RATIO = 0.4, 2.0
FLOOR = "import pydantic, jinja2, mlform.specs.model.pipeline"
NOOP = "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run."
DRIFT = """\
import pandas as pd
live = pd.read_csv("data/live.csv")
live["petal_length"] += 2.0
live["sepal_width"] *= 1.5
live.to_csv("data/live.csv", index=False)
"""


class Copy:
    """One project copy driven by one mlform installation."""

    def __init__(self, root: Path, python: str, label: str) -> None:
        self.root, self.python, self.label = root, python, label
        self.mlform = str(Path(python).with_name("mlform"))
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        spec = root / "mlform.yaml"
        text = spec.read_text().replace("    random_state: 42\n", "").replace(
            "  champion:\n    metric: f1_macro\n    min_improvement: 0.0\n", "")
        spec.write_text(text.replace("{min: 0.9}", "{min: 0.3}"))
        subprocess.run([python, "-c", DRIFT], cwd=root, check=True)

    def mlform_run(self, *args: str, codes: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run([self.mlform, *args], cwd=self.root, capture_output=True, text=True, check=False)
        if done.returncode not in codes:
            raise RuntimeError(f"{self.label}: `mlform {' '.join(args)}` exited {done.returncode}: "
                               + " / ".join(done.stderr.strip().splitlines()[-3:]))
        return done.stdout

    def plan(self, noop: bool) -> tuple[float, float]:
        """(wall-clock, CPU) seconds of one `mlform plan`, checked to be a no-op or to run no step."""
        started, cpu = time.perf_counter(), _children_cpu()
        out = self.mlform_run("plan", ".", "--artifacts-dir", "out", "--detailed-exitcode", codes=(0, 2))
        elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu
        summaries = [line for line in out.splitlines() if line.startswith("Plan: ")]
        if all(line == NOOP for line in summaries) != noop or not all(
                line.endswith("; 0 steps to run.") for line in summaries):
            raise RuntimeError(f"{self.label}: unexpected plan: {summaries}")
        return elapsed, cpu

    def validate(self) -> tuple[float, float]:
        """(wall-clock, CPU) seconds of one `mlform validate .`."""
        started, cpu = time.perf_counter(), _children_cpu()
        self.mlform_run("validate", ".")
        return time.perf_counter() - started, _children_cpu() - cpu

    def floor(self) -> tuple[float, float]:
        """(wall-clock, CPU) seconds of a process importing what a changed-spec plan needs beyond the no-op."""
        started, cpu = time.perf_counter(), _children_cpu()
        subprocess.run([self.python, "-c", FLOOR], cwd=self.root, check=True)
        return time.perf_counter() - started, _children_cpu() - cpu

    def edit_namespace(self, undo: bool = False) -> None:
        spec = self.root / "mlform.yaml"
        before, after = "namespace: ml-prod\n", "namespace: ml-prod-2\n"
        spec.write_text(spec.read_text().replace(*((after, before) if undo else (before, after))))


STATES: list[tuple[str, Callable[[Copy], object]]] = [
    ("applied", lambda c: c.mlform_run("apply", ".", "--artifacts-dir", "out", "--yes")),
    ("after a promotion (pinned, applied)", lambda c: (
        c.mlform_run("promote", ".", "--env", "prod", "--version", "1"),
        c.mlform_run("apply", ".", "--artifacts-dir", "out", "--yes"))[-1]),
    ("after a monitoring retrain", lambda c: c.mlform_run("monitor", ".", "--env", "prod")),
    ("after another environment's apply", lambda c: (
        (c.root / "mlform.yaml").write_text((c.root / "mlform.yaml").read_text().replace(
            "n_estimators: 20", "n_estimators: 21")),
        c.mlform_run("apply", ".", "--env", "dev", "--artifacts-dir", "out", "--yes"))[-1]),
]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# (no-op, trains nothing, validate alone, import floor) (wall, CPU) pairs
Samples = tuple[list[tuple[float, float]], ...]


def measure(copies: Sequence[Copy], runs: int) -> dict[str, dict[str, Samples]]:
    """State -> label -> (no-op, trains-nothing, validate, import floor) samples, interleaved after a warm-up."""
    results: dict[str, dict[str, Samples]] = {}
    for state, reach in STATES:
        print(f"{state} ...", flush=True)
        for copy in copies:
            reach(copy)
        samples: dict[str, Samples] = {c.label: ([], [], [], []) for c in copies}
        for round_number in range(runs + 1):
            for copy in copies:
                noop = copy.plan(noop=True)
                copy.edit_namespace()
                try:
                    changed = copy.plan(noop=False)
                    validated = copy.validate()
                finally:
                    copy.edit_namespace(undo=True)
                if round_number:
                    for kept, sample in zip(samples[copy.label], (noop, changed, validated, copy.floor()), strict=True):
                        kept.append(sample)
        results[state] = samples
    return results


def render(results: dict[str, dict[str, Samples]], runs: int, facts: Sequence[tuple[str, str]],
           load: tuple[str, str]) -> str:
    """The Markdown report."""
    rows, met = [], []
    for state, by_label in results.items():
        for label, (noop, changed, validated, floor) in by_label.items():
            a, b = (statistics.median(w for w, _ in noop), statistics.median(w for w, _ in changed))
            ca, cb = (statistics.median(c for _, c in noop), statistics.median(c for _, c in changed))
            cv, cf = statistics.median(c for _, c in validated), statistics.median(c for _, c in floor)
            rows.append(f"| {state} | {label} | {a:.2f} | {b:.2f} | {b / a:.1f}x | {ca:.2f} | {cb:.2f} | "
                        f"{cb / ca:.1f}x | {cv:.2f} | {cv / ca:.1f}x | {cb - cv:.2f} | {cf:.2f} | {cf / ca:.1f}x |")
            if label == "this tree":
                met.append((a <= GOAL_S, cb / ca <= GOAL_RATIO))
    noop_ok, ratio_ok = all(m[0] for m in met), all(m[1] for m in met)
    lines = ["## A no-op `mlform plan` in every state a user reaches (bench_plan_states)", "",
             f"Goals: no-op <= {GOAL_S} s in every state: **{'met' if noop_ok else 'NOT met'}**; a plan that trains "
             f"nothing <= {GOAL_RATIO:.0f}x the no-op one: **{'met' if ratio_ok else 'NOT met'}**.", "",
             "One iris spec, 2 environments, states reached in order (see the script). Wall-clock and CPU (user+sys) "
             "seconds of `mlform plan . --artifacts-dir out` as a whole process, median of "
             f"{runs} runs after 1 warm-up round, the installations interleaved; \"trains nothing\" edits `prod`'s "
             "Kubernetes namespace (artifacts change, no step runs); \"validate\" is `mlform validate .` of that "
             "edited spec, the floor of any plan that must validate it before it can tell that nothing trains; "
             f"\"import floor\" is `python -c '{FLOOR}'`, what such a plan imports and the no-op does not. "
             "`baseline` is "
             "the mlform the run was given with `--baseline`, in its own copy. The no-op goal is judged on wall "
             "clock, the ratio on CPU time.", "",
             "| state | mlform | no-op wall s | trains nothing wall s | ratio | no-op CPU s | trains nothing CPU s "
             "| CPU ratio | validate CPU s | validate / no-op CPU | plan - validate CPU s | import floor CPU s "
             "| floor / no-op CPU |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
             *rows, "",
             f"Load average (1 min) at start {load[0]}, at end {load[1]}.", "", "### Machine", "",
             "| fact | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in facts]]
    return "\n".join(lines) + "\n"


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, metavar="R", help="runs per state and plan kind")
    parser.add_argument("--baseline", default=None, metavar="PYTHON", help="the python of another mlform install")
    parser.add_argument("--out", type=Path, default=RESULT, metavar="FILE", help="where to write the report")
    args = parser.parse_args(argv)
    start_load = _load()
    with tempfile.TemporaryDirectory(prefix="mlform-bench-states-") as tmp:
        copies = [Copy(Path(tmp) / "this", sys.executable, "this tree")]
        if args.baseline:
            copies.append(Copy(Path(tmp) / "baseline", args.baseline, "baseline"))
        results = measure(copies, args.runs)
    facts = [fact for fact in machine_facts("") if not fact[0].startswith("mlflow")]
    report = render(results, args.runs, facts, (start_load, _load()))
    from mlform.specs.fsutil import write_atomic

    write_atomic(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
