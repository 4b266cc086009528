"""Compile benchmark: `mlform compile` over 1 to 1,000 specs, and how fast real Airflow parses the DAGs it emits.

Part 1 times `mlform compile DIR` as a whole process in a temporary git repository holding N copies of
examples/iris (distinct `metadata.name`s, their own data): a fresh compile (no output yet), `compile --check`
of the current output, and `mlform validate DIR` as the reference (compile = validate + render + write).
The three are interleaved round by round. With `--before REF` (default `main`) the same rounds also run
`compile` and `compile --check` of that revision's sources (git archive, same interpreter and packages), each
`--check` against the other side's output, so a round also proves both write the same bytes. Then cProfile
runs one fresh compile of the largest tree in-process.

Part 2 compiles the Airflow target of 50 specs (100 DAG files: dev and prod) and parses the folder with
Airflow 3's `DagBag` in the test tooling's cached Airflow venv (tests/tools), after importing Airflow and the
operators the files use, so Airflow's own import is excluded. The peer is a folder of trivial hand-written
DAG files with the same number of DAGs and tasks, all `BashOperator`s in a chain. Passes are interleaved.
Writes benchmarks/results/compile.md. Run it alone with `python benchmarks/bench_compile.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import baseline as revision
from bench_cli import Timing, _run_once, _table, _version, children_cpu, load_average, machine_facts, make_tree

__all__ = ["ParseResult", "Scaling", "main", "parse_dags", "parse_worker", "profile_compile", "render",
           "time_compile"]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULT = HERE / "results" / "compile.md"
PARSE_GOAL_MS = 50.0
COMPILE_GOAL_S = 20.0  # 1,000 specs
CHECK_GOAL_S = 10.0
WORKER_FLAG = "--airflow-worker"
OPERATOR_MODULES = (  # everything a generated DAG file imports, so the first parse pays no Airflow import
    "airflow.sdk",
    "airflow.providers.standard.operators.bash",
    "airflow.providers.standard.operators.empty",
    "airflow.providers.standard.operators.python",
    "airflow.providers.standard.operators.trigger_dagrun",
)
BASELINE_HEAD = '''\
"""Hand-written baseline: {count} DAG(s) of plain BashOperator tasks in a chain."""

import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.bash import BashOperator
'''
BASELINE_DAG = '''

with DAG(
    dag_id="{dag_id}",
    schedule="@weekly",
    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
):
{tasks}
    {chain}
'''


ProfileRow = tuple[str, int, float, float]  # function, calls, own seconds, cumulative seconds
Profile = tuple[float, list[ProfileRow], list[ProfileRow]]  # total seconds, top by own time, top mlform by cumulative


@dataclass(frozen=True)
class Scaling:
    """One tree size: how many files a compile writes, and the timings of validate, compile and check."""

    size: int
    files: int
    timings: dict[str, Timing]
    user: dict[str, float]
    """Median user CPU seconds by label: mlform's own work, without the kernel's (creating files, directories)."""


@dataclass(frozen=True)
class ParseResult:
    """DagBag passes over one folder: its shape, the cold first pass and the warm passes, in seconds."""

    label: str
    files: int
    dags: int
    tasks: int
    cold_s: float
    warm: Timing
    per_file_median_s: float  # Airflow's own per-file duration (dagbag_stats), median over files and passes

    @property
    def per_file_ms(self) -> float:
        """Median warm DagBag wall time per file, in milliseconds."""
        return 1000 * self.warm.median / self.files


def _git_repo(root: Path) -> Path:
    """An empty git repository at `root`, so `mlform compile` takes it as the project root."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _clear_output(root: Path, trash: Path) -> None:
    """Move the output out of the way, to be deleted once the timed rounds are over.

    Deleting 35,000 files right before a run left the file system busy with the deletion during it (on one disk,
    the system time of the compile that followed went from 3.5 s to 25 s), which is the removal's cost, not the
    compile's.
    """
    trash.mkdir(exist_ok=True)
    for folder in (root / "deploy", root / ".github"):
        if folder.exists():
            folder.rename(trash / f"{len(list(trash.iterdir()))}-{folder.name}")


def _children_user() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime


def _count_output(root: Path) -> int:
    return sum(1 for folder in (root / "deploy", root / ".github") for path in folder.rglob("*") if path.is_file())


def time_compile(size: int, runs: int, warmup: int, mlform: str, before: Path | None = None) -> Scaling:
    """validate, fresh compile and `compile --check` of `size` iris copies, interleaved round by round.

    With `before` sources, each round also runs theirs: their `--check` right after our compile and ours right
    after theirs, so a round fails unless both sides write the same bytes.
    """
    commands = {"validate": [mlform, "validate", "specs"], "compile": [mlform, "compile", "specs"],
                "compile --check": [mlform, "compile", "specs", "--check"]}
    if before is not None:
        commands = {"validate": commands["validate"], "compile": commands["compile"],
                    "compile --check (before)": revision.command(before, ["compile", "specs", "--check"]),
                    "compile (before)": revision.command(before, ["compile", "specs"]),
                    "compile --check": commands["compile --check"]}
    samples: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    user: dict[str, list[float]] = {label: [] for label in commands}
    with tempfile.TemporaryDirectory(prefix="mlform-bench-compile-") as tmp:
        root = _git_repo(Path(tmp) / "repo")
        make_tree(root / "specs", size)
        with contextlib.chdir(root):
            for round_number in range(warmup + runs):
                for label, argv in commands.items():
                    if label in ("compile", "compile (before)"):
                        _clear_output(root, Path(tmp) / "trash")
                    os.sync()  # the runs before flushed to disk, so none pays for another's writes
                    used, used_user = children_cpu(), _children_user()
                    elapsed = _run_once(argv)
                    if round_number >= warmup:
                        samples[label].append(elapsed)
                        cpu[label].append(children_cpu() - used)
                        user[label].append(_children_user() - used_user)
        files = _count_output(root)
    if files == 0 or files % size:
        raise RuntimeError(f"compile of {size} specs wrote {files} files, not the same number for each spec")
    return Scaling(size, files, {label: Timing(label, tuple(values), tuple(cpu[label]))
                                 for label, values in samples.items()},
                   {label: statistics.median(values) for label, values in user.items()})


def _where(filename: str) -> str:
    """A profiled function's file, short: from the package folder on."""
    for marker in ("/mlform/", "/site-packages/"):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    return Path(filename).name


def profile_compile(size: int) -> Profile:
    """Profile of one fresh in-process compile and write of `size` specs: the top costs."""
    from mlform.compiler.artifacts import output
    from mlform.compiler.commands.common import spec_files

    with tempfile.TemporaryDirectory(prefix="mlform-bench-compile-") as tmp:
        root = _git_repo(Path(tmp) / "repo")
        make_tree(root / "specs", size)
        profiler = cProfile.Profile()
        profiler.enable()
        output.write(output.compile_specs(spec_files((root / "specs",)), None, None, cwd=root))
        profiler.disable()
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = [(name if file == "~" else f"{_where(file)}:{line}({name})", calls, own, cumulative)
            for (file, line, name), (_, calls, own, cumulative, _) in stats.items()]
    total = sum(row[2] for row in rows)
    own_top = sorted(rows, key=lambda row: row[2], reverse=True)[:12]
    mlform_rows = [row for (file, _, _), row in zip(stats, rows, strict=True) if "/mlform/" in file]
    cumulative_top = sorted(mlform_rows, key=lambda row: row[3], reverse=True)[:12]
    return total, own_top, cumulative_top


def _baseline_file(stem: str, task_counts: Sequence[int]) -> str:
    """A hand-written DAG file with one chained BashOperator DAG per entry of `task_counts`."""
    text = BASELINE_HEAD.format(count=len(task_counts))
    for number, count in enumerate(task_counts, start=1):
        tasks = "\n".join(f'    t{i} = BashOperator(task_id="t{i}", bash_command="echo {i}")'
                          for i in range(1, count + 1))
        chain = " >> ".join(f"t{i}" for i in range(1, count + 1))
        text += BASELINE_DAG.format(dag_id=f"baseline-{stem}-{number}", tasks=tasks, chain=chain)
    return text


def _parse_pass(folder: Path) -> tuple[float, Any]:
    """One DagBag over `folder`: wall seconds and the bag, failing on any import error."""
    from airflow.dag_processing.dagbag import DagBag  # type: ignore[import-not-found]

    gc.collect()
    started = time.perf_counter()
    bag = DagBag(dag_folder=str(folder))
    elapsed = time.perf_counter() - started
    if bag.import_errors:
        path, error = next(iter(bag.import_errors.items()))
        raise RuntimeError(f"Airflow could not import {path}: {str(error).strip().splitlines()[-1]}")
    return elapsed, bag


def parse_worker(generated: Path, baseline: Path, warm: Path, rounds: int, report: Path) -> None:
    """In Airflow's venv: write hand-written peers of `generated`'s DAG files, time DagBag over both, save JSON."""
    import importlib

    started = time.perf_counter()
    for module in ("airflow", "airflow.dag_processing.dagbag", *OPERATOR_MODULES):
        importlib.import_module(module)
    import_s = time.perf_counter() - started
    sources = sorted(generated.rglob("*.py"))
    warm.mkdir(parents=True, exist_ok=True)
    for source in sources[:2]:  # a dev file and a prod file: the first DagBag's set-up is not charged to either
        shutil.copy(source, warm / source.name)
    _parse_pass(warm)
    cold: dict[str, float] = {}
    shape: dict[str, tuple[int, int, int]] = {}
    cold["generated"], bag = _parse_pass(generated)
    by_file: dict[str, list[int]] = {}
    for dag in bag.dags.values():
        by_file.setdefault(str(Path(dag.fileloc).resolve()), []).append(len(dag.tasks))
    baseline.mkdir(parents=True, exist_ok=True)
    for number, counts in enumerate(by_file[str(path.resolve())] for path in sources):
        (baseline / f"baseline_{number:04d}.py").write_text(_baseline_file(f"{number:04d}", counts))
    cold["baseline"], _ = _parse_pass(baseline)
    folders = {"generated": generated, "baseline": baseline}
    walls: dict[str, list[float]] = {label: [] for label in folders}
    per_file: dict[str, list[float]] = {label: [] for label in folders}
    for round_number in range(rounds):
        order = list(folders) if round_number % 2 == 0 else list(reversed(folders))
        for label in order:
            elapsed, bag = _parse_pass(folders[label])
            walls[label].append(elapsed)
            per_file[label] += [stat.duration.total_seconds() for stat in bag.dagbag_stats]
            shape[label] = (len(bag.dagbag_stats), len(bag.dags), sum(len(dag.tasks) for dag in bag.dags.values()))
    import airflow  # type: ignore[import-not-found]

    report.write_text(json.dumps({
        "airflow": airflow.__version__, "import_s": import_s, "cold": cold, "walls": walls,
        "per_file_median": {label: statistics.median(values) for label, values in per_file.items()},
        "shape": shape,
    }))


def parse_dags(specs: int, rounds: int, mlform: str) -> tuple[str, float, list[ParseResult]]:
    """DagBag over the Airflow target of `specs` iris copies and its peers: (Airflow version, import s, results)."""
    sys.path.insert(0, str(REPO / "tests"))
    from tools import AIRFLOW

    python = AIRFLOW.bin("python")
    with tempfile.TemporaryDirectory(prefix="mlform-bench-dags-") as tmp:
        scratch = Path(tmp)
        root = _git_repo(scratch / "repo")
        make_tree(root / "specs", specs)
        with contextlib.chdir(root):
            _run_once([mlform, "compile", "specs", "--target", "airflow"])
        env = {**os.environ, "AIRFLOW_HOME": str(scratch / "airflow-home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        argv = [str(python), str(Path(__file__).resolve()), WORKER_FLAG, str(root / "deploy"),
                str(scratch / "baseline"), str(scratch / "warm"), str(rounds), str(scratch / "report.json")]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the DagBag worker exited {done.returncode}: {done.stderr.strip()[-2000:]}")
        found = json.loads((scratch / "report.json").read_text())
    results = []
    for label in ("generated", "baseline"):
        files, dags, tasks = found["shape"][label]
        results.append(ParseResult(label, files, dags, tasks, found["cold"][label],
                                   Timing(label, tuple(found["walls"][label])), found["per_file_median"][label]))
    return found["airflow"], found["import_s"], results


def _compile_rows(scale: Sequence[Scaling]) -> list[list[str]]:
    rows = []
    for s in scale:
        for side in ("", " (before)"):
            if f"compile{side}" not in s.timings:
                continue
            validate, fresh, check = (s.timings[label] for label in ("validate", f"compile{side}",
                                                                      f"compile --check{side}"))
            rows.append([f"{s.size:,}{side}", f"{s.files:,}", str(len(fresh.samples)), f"{validate.median:.2f}",
                         f"{fresh.median:.2f} ({min(fresh.samples):.2f}-{max(fresh.samples):.2f})",
                         f"{fresh.cpu_median:.2f}", f"{s.user[f'compile{side}']:.2f}",
                         f"{1000 * fresh.median / s.size:.1f}", f"{check.median:.2f}",
                         f"{check.cpu_median:.2f}", f"{1000 * check.median / s.size:.1f}",
                         f"{fresh.median / validate.median:.1f}x", f"{check.median / validate.median:.1f}x"])
    return rows


def _goal_lines(scale: Sequence[Scaling], reference: Timing | None) -> list[str]:
    """The compile goals at 1,000 specs, with `import sklearn.ensemble` timed in the same run as the reference."""
    large = scale[-1]
    fresh, check = large.timings["compile"].median, large.timings["compile --check"].median
    met = large.size >= 1000 and fresh <= COMPILE_GOAL_S and check <= CHECK_GOAL_S
    line = (f"Goal: `compile` of 1,000 specs <= {COMPILE_GOAL_S:.0f} s and `compile --check` <= {CHECK_GOAL_S:.0f} s: "
            f"**{'met' if met else 'NOT met'}** ({large.size:,} specs: compile {fresh:.2f} s (CPU "
            f"{large.timings['compile'].cpu_median:.2f} s, of which user {large.user['compile']:.2f} s), "
            f"check {check:.2f} s (CPU "
            f"{large.timings['compile --check'].cpu_median:.2f} s)")
    if "compile (before)" in large.timings:
        line += (f"; before: compile {large.timings['compile (before)'].median:.2f} s, "
                 f"check {large.timings['compile --check (before)'].median:.2f} s")
    if reference is not None:
        line += f"; `python -c 'import sklearn.ensemble'` {reference.median:.2f} s in the same run"
    return [line + ")."]


def _marginal_ms(scale: Sequence[Scaling], label: str) -> float:
    """Milliseconds each further spec adds: the slope between the smallest and the largest tree."""
    small, large = scale[0], scale[-1]
    return 1000 * (large.timings[label].median - small.timings[label].median) / (large.size - small.size)


def _profile_lines(size: int, profile: Profile) -> list[str]:
    total, own_top, cumulative_top = profile
    lines = [f"### Where a fresh compile of {size:,} specs goes: cProfile, in-process", "",
             f"Profiled total {total:.1f} s (profiling inflates every call; read the shares). "
             "Top functions by own time:", ""]
    rows = [[f"`{name}`", f"{calls:,}", f"{own:.2f}", f"{own / total:.0%}"] for name, calls, own, _ in own_top]
    lines += _table(["function", "calls", "own s", "share"], rows)
    lines += ["", "mlform's functions by cumulative time (including what they call):", ""]
    rows = [[f"`{name}`", f"{calls:,}", f"{cumulative:.2f}", f"{cumulative / total:.0%}"]
            for name, calls, _, cumulative in cumulative_top]
    return lines + _table(["function", "calls", "cumulative s", "share"], rows)


def render(scale: Sequence[Scaling], profile: Profile | None, parse: tuple[str, float, list[ParseResult]] | None,
           facts: Sequence[tuple[str, str]], reference: Timing | None = None, kept: str = "") -> str:
    """The Markdown report."""
    lines = ["## `mlform compile` over N specs, and Airflow parsing its DAGs (bench_compile)", "",
             *_goal_lines(scale, reference), ""]
    if parse is not None:
        version, _, (generated, baseline) = parse
        verdict = "met" if generated.per_file_ms <= PARSE_GOAL_MS else "NOT met"
        ratio = generated.per_file_ms / baseline.per_file_ms
        lines += [f"Goal: a generated DAG file parses in Airflow {version} in <= {PARSE_GOAL_MS:.0f} ms, Airflow's "
                  f"own import excluded: **{verdict}** ({generated.per_file_ms:.1f} ms per file, {ratio:.2f}x a "
                  "hand-written DAG file of the same DAGs and tasks).", ""]
    lines += ["### compile over N copies of the iris spec (2 environments each, all four targets)", "",
             "Wall-clock seconds of whole processes run in a temporary git repository; median (range) of the runs "
             "after warm-up, interleaved round by round, each after a `sync`. `compile` starts with no output "
             "(moved away before each run and deleted after the last, untimed) and writes every file; "
             "`compile --check` renders everything again and compares it with the files on disk; `validate` is "
             "the reference, as compile validates every spec "
             "first. Rows marked (before) ran the earlier revision's sources in the same rounds (each side's "
             "`--check` ran against the other side's output and passed: the same bytes). CPU s is user and system "
             "time, which other processes on the machine do not inflate; user s is the part spent in mlform's own "
             "code, the rest is the kernel's (creating the files and folders); commands run with bytecode caches "
             "on.", ""]
    lines += _table(["specs", "files written", "runs", "validate s", "compile s", "compile CPU s", "compile user s",
                     "compile ms/spec", "check s", "check CPU s", "check ms/spec", "compile vs validate",
                     "check vs validate"],
                    _compile_rows(scale))
    if len(scale) > 1:
        lines += ["", f"Each further spec adds {_marginal_ms(scale, 'compile'):.1f} ms to `compile`, "
                  f"{_marginal_ms(scale, 'compile --check'):.1f} ms to `compile --check` and "
                  f"{_marginal_ms(scale, 'validate'):.1f} ms to `validate` (slope from {scale[0].size:,} to "
                  f"{scale[-1].size:,} specs); the rest is start-up."]
    if profile is not None:
        lines += ["", *_profile_lines(scale[-1].size, profile)]
    if parse is not None:
        lines += _parse_lines(parse)
    elif kept:
        lines += ["", kept]
    lines += ["", "### Machine", ""]
    lines += _table(["fact", "value"], [[key, value] for key, value in facts])
    return "\n".join(lines) + "\n"


def _earlier_airflow(report: Path) -> str:
    """The Airflow section of an earlier report, marked as such, when this run skipped Airflow."""
    try:
        text = report.read_text()
    except OSError:
        return ""
    start, end = text.find("### Airflow"), text.find("### Machine")
    if start < 0 or end < start:
        return ""
    section = text[start:end].strip()
    if "(from an earlier run" not in section:
        title, _, rest = section.partition("\n")
        section = f"{title} (from an earlier run, not re-measured by this one)\n{rest}"
    return section


def _parse_lines(parse: tuple[str, float, list[ParseResult]]) -> list[str]:
    version, import_s, (generated, baseline) = parse
    lines = ["", f"### Airflow {version} parsing the generated DAG files (`DagBag`)", "",
              f"The Airflow target of {generated.files // 2} iris copies: {generated.files} files (dev and prod), "
              f"each a training DAG plus a monitoring DAG. The peer: {baseline.files} hand-written files with the "
              "same DAGs and task counts, all `BashOperator`s in a chain. Airflow and the operators' modules are "
              f"imported first ({import_s:.2f} s, excluded), then one DagBag over two copied files warms it up. "
              "The cold pass is the first over each folder (no `.pyc` yet); then "
              f"{len(generated.warm.samples)} warm passes per folder, interleaved. \"Airflow's per file\" is the "
              "median of DagBag's own per-file durations (its `dagbag_stats`), which leave out listing the folder.",
              ""]
    rows = [[r.label, str(r.files), str(r.dags), str(r.tasks), f"{1000 * r.cold_s / r.files:.1f}",
             f"{r.warm.median:.2f} ({min(r.warm.samples):.2f}-{max(r.warm.samples):.2f})", f"{r.per_file_ms:.1f}",
             f"{1000 * r.per_file_median_s:.1f}", f"{r.per_file_ms / baseline.per_file_ms:.2f}x"]
            for r in (generated, baseline)]
    return lines + _table(["DAG files", "files", "DAGs", "tasks", "cold ms/file", "warm DagBag s", "warm ms/file",
                           "Airflow's per file ms", "vs hand-written"], rows)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and write results/compile.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1 and 10, 10 DAG files, to check the script")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile run of the largest tree")
    parser.add_argument("--out", type=Path, default=RESULT, metavar="FILE", help="where to write the report")
    parser.add_argument("--before", default="main", metavar="REF",
                        help="also time this git revision's compile in the same rounds (default: main; `` for none)")
    parser.add_argument("--before-max", type=int, default=1000, metavar="N",
                        help="time the earlier revision only up to N specs (it may be slow)")
    parser.add_argument("--sizes", type=int, nargs="+", metavar="N", help="spec counts (default: 1 100 1000)")
    parser.add_argument("--runs", type=int, metavar="N", help="runs per size (default: 7, 5 and 3 by size)")
    parser.add_argument("--no-airflow", action="store_true", help="skip parsing the DAGs with Airflow")
    args = parser.parse_args(argv)
    load_before = load_average()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # time commands as installed packages run: with bytecode caches
    with contextlib.ExitStack() as stack:
        before = None
        if args.before:
            before = revision.checkout(args.before, Path(stack.enter_context(tempfile.TemporaryDirectory())))
            print(f"before: {args.before} ({revision.resolve(args.before)})", flush=True)
        _measure(args, before, load_before)


def _measure(args: argparse.Namespace, before: Path | None, load_before: str) -> None:
    """Time everything, write the report."""
    sizes = tuple(args.sizes) if args.sizes else (1, 10) if args.quick else (1, 100, 1000)
    default_runs = {1: 3, 10: 2} if args.quick else {1: 7, 100: 5, 1000: 3}
    runs_for = {size: args.runs or default_runs.get(size, 3) for size in sizes}
    dag_specs, rounds = (5, 3) if args.quick else (50, 7)
    mlform = str(Path(sys.executable).with_name("mlform"))
    reference = None
    scale = []
    for size in sizes:
        print(f"{size} specs: timing validate, compile and compile --check ({runs_for[size]} runs) ...", flush=True)
        scale.append(time_compile(size, runs_for[size], warmup=1 if size < 1000 else 0, mlform=mlform,
                                  before=before if size <= args.before_max else None))
        print("  " + ", ".join(f"{t.label} {t.median:.2f}s" for t in scale[-1].timings.values()), flush=True)
    profile = None
    if not args.no_profile:
        print(f"profiling a compile of {sizes[-1]} specs ...", flush=True)
        profile = profile_compile(sizes[-1])
    reference = Timing("import sklearn.ensemble", tuple(_run_once([sys.executable, "-c", "import sklearn.ensemble"])
                                                         for _ in range(5)))
    parse = None
    if not args.no_airflow:
        print(f"timing Airflow's DagBag over the DAGs of {dag_specs} specs ({rounds} rounds) ...", flush=True)
        parse = parse_dags(dag_specs, rounds, mlform)
    facts = [fact for fact in machine_facts("") if not fact[0].startswith("mlflow")]
    facts += [("load average (1, 5, 15 min) at the start", load_before), ("Jinja2", _version("Jinja2")),
              ("apache-airflow (test tooling's venv)", parse[0] if parse else "not measured")]
    if before is not None:
        facts.append(("before", f"`{args.before}` ({revision.resolve(args.before)})"))
    report = render(scale, profile, parse, facts, reference, "" if parse else _earlier_airflow(args.out))
    from mlform.specs.fsutil import write_atomic

    write_atomic(args.out, report)
    print(report)


if __name__ == "__main__":
    if sys.argv[1:2] == [WORKER_FLAG]:
        generated_dir, baseline_dir, warm_dir, rounds_arg, report_file = sys.argv[2:]
        parse_worker(Path(generated_dir), Path(baseline_dir), Path(warm_dir), int(rounds_arg), Path(report_file))
    else:
        main()
