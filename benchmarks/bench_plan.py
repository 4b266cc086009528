"""Plan benchmark: `mlform plan DIR` over 1, 100 and 1,000 applied copies of the iris spec, no-op and one changed.

Each size gets its own temporary git repository holding N copies of examples/iris (distinct `metadata.name`s,
their own data). Setup applies every copy once (both environments) with `--artifacts-dir`, in one worker
process per core, each applying its share of the specs one by one in a loop; its time is reported. Then
`mlform plan DIR` is timed with nothing changed and with one spec's `dev` overlay edited, interleaved round
by round (the edit is written before each "changed" run and reverted before each no-op run).
Writes benchmarks/results/plan.md. Run it alone with `python benchmarks/bench_plan.py`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_cli import machine_facts, make_tree

__all__ = ["Scaling", "main", "render", "setup_tree", "time_plans"]

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "plan.md"
GOAL_S = 3.0
GOAL_SIZE = 1000
NOOP = "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run."
APPLY_WORKER = """\
import sys
from mlform.compiler.cli import main
out, *folders = sys.argv[1:]
for folder in folders:
    main(["apply", folder, "--yes", "--artifacts-dir", out])
"""


@dataclass(frozen=True)
class Scaling:
    """One tree size: setup seconds and the wall-clock samples of each plan scenario."""

    size: int
    setup_s: float
    noop: tuple[float, ...]
    changed: tuple[float, ...]


def setup_tree(root: Path, size: int, workers: int) -> float:
    """A git repo at `root` with `size` iris copies under `specs/`, each applied once; returns the setup seconds."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    folders = sorted(p for p in make_tree(root / "specs", size).iterdir() if p.is_dir())
    started = time.perf_counter()
    shares = [folders[index::workers] for index in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-c", APPLY_WORKER, "out", *map(str, share)], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for share in shares if share]
    failures = [proc.communicate()[1] for proc in procs if proc.wait() != 0]
    if failures:
        raise RuntimeError(f"apply failed: {' / '.join(failures[0].strip().splitlines()[-3:])}")
    return time.perf_counter() - started


def _plan_once(root: Path, mlform: str, expect_changed: int) -> float:
    argv = [mlform, "plan", "specs", "--artifacts-dir", "out", "--detailed-exitcode"]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    summaries = [line for line in done.stdout.splitlines() if line.startswith("Plan: ")]
    changed = sum(line != NOOP for line in summaries)
    if done.returncode != (2 if expect_changed else 0) or changed != expect_changed:
        tail = " / ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"`{' '.join(argv)}` exited {done.returncode} with {changed} changed plans "
                           f"(expected {expect_changed}): {tail}")
    return elapsed


def time_plans(root: Path, mlform: str, runs: int, warmup: int = 1) -> tuple[list[float], list[float]]:
    """No-op and one-spec-changed plan times, interleaved after `warmup` rounds."""
    spec = root / "specs" / "iris-0001" / "mlform.yaml"
    original = spec.read_text()
    edited = original.replace("n_estimators: 20", "n_estimators: 25")
    noop: list[float] = []
    changed: list[float] = []
    try:
        for round_number in range(warmup + runs):
            spec.write_text(original)
            seconds = _plan_once(root, mlform, 0)
            if round_number >= warmup:
                noop.append(seconds)
            spec.write_text(edited)
            seconds = _plan_once(root, mlform, 1)
            if round_number >= warmup:
                changed.append(seconds)
    finally:
        spec.write_text(original)
    return noop, changed


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render(results: Sequence[Scaling], facts: Sequence[tuple[str, str]], workers: int, warmup: int) -> str:
    """The Markdown report."""
    goal = next((r for r in results if r.size == GOAL_SIZE), None)
    verdict = (f"**{'met' if statistics.median(goal.noop) <= GOAL_S else 'NOT met'}** "
               f"(median {statistics.median(goal.noop):.2f} s)") if goal else "not measured"
    lines = ["## `mlform plan` over N applied specs (bench_plan)", "",
             f"Goal: the no-op plan of {GOAL_SIZE:,} specs <= {GOAL_S:.0f} s, growing linearly: {verdict}.", "",
             "Each spec is a copy of examples/iris with 2 environments (dev, prod), so N specs make 2N plans. "
             "Times are wall-clock seconds of `mlform plan specs --artifacts-dir out` as a whole process; "
             "\"one changed\" edits `n_estimators` in one spec's `dev` overlay. Median of the runs after "
             f"{warmup} warm-up round(s); no-op and changed runs interleaved.", ""]
    rows = []
    previous: Scaling | None = None
    for r in results:
        noop, changed = statistics.median(r.noop), statistics.median(r.changed)
        added = (f"{1000 * (noop - statistics.median(previous.noop)) / (r.size - previous.size):.2f}"
                 if previous and r.size > previous.size else "-")
        rows.append([f"{r.size:,}", str(len(r.noop)), f"{noop:.2f}", f"{min(r.noop):.2f}-{max(r.noop):.2f}", added,
                     f"{changed:.2f}", f"{min(r.changed):.2f}-{max(r.changed):.2f}", f"{r.setup_s:.0f}"])
        previous = r
    lines += _table(["specs", "runs", "no-op median s", "no-op range s", "no-op ms per added spec",
                     "one changed median s", "one changed range s", "setup s"], rows)
    lines += ["", f"Setup: `mlform apply` of every spec once, in {workers} worker processes, each applying its "
              "share one spec at a time in a loop (imports paid once per worker).", "", "### Machine", ""]
    lines += _table(["fact", "value"], [[key, value] for key, value in facts])
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1 and 10 with 3 runs, to check the script")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, metavar="N", help="tree sizes to measure")
    parser.add_argument("--runs", type=int, default=None, metavar="R", help="runs per scenario (default by size)")
    parser.add_argument("--warmup", type=int, default=1, metavar="W", help="warm-up rounds before timing")
    parser.add_argument("--out", type=Path, default=RESULT, metavar="FILE", help="where to write the report")
    args = parser.parse_args(argv)
    sizes = args.sizes or ((1, 10) if args.quick else (1, 100, 1000))
    workers = os.cpu_count() or 1
    mlform = str(Path(sys.executable).with_name("mlform"))
    results = []
    for size in sizes:
        runs = args.runs or (3 if args.quick else 10 if size <= 10 else 5)
        with tempfile.TemporaryDirectory(prefix="mlform-bench-plan-") as tmp:
            root = Path(tmp) / "repo"
            print(f"{size} specs: applying ...", flush=True)
            setup = setup_tree(root, size, workers)
            print(f"  setup {setup:.0f} s; timing plan ({runs} runs) ...", flush=True)
            noop, changed = time_plans(root, mlform, runs, args.warmup)
            results.append(Scaling(size, setup, tuple(noop), tuple(changed)))
            print(f"  no-op {statistics.median(noop):.2f} s, one changed {statistics.median(changed):.2f} s",
                  flush=True)
    facts = [fact for fact in machine_facts("") if not fact[0].startswith("mlflow")]
    report = render(results, facts, workers, args.warmup)
    from mlform.specs.fsutil import write_atomic

    write_atomic(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
