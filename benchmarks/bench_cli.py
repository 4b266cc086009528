"""CLI benchmark: start-up against a bare click CLI and MLflow, and `validate`/`graph` over 1 to 1,000 specs.

It also splits the cost of validating one spec into its stages (CPU time, in this process), so the
numbers say where a millisecond per spec goes. With `--before REF` (default `main`) it also times `validate` of
an earlier revision's sources (git archive, same interpreter and packages) in the same rounds, as before/after.
Writes benchmarks/results/cli.md. MLflow is installed on first use into benchmarks/.venvs/mlflow (gitignored).
Run it alone with `python benchmarks/bench_cli.py`, or every benchmark with `make bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import baseline

__all__ = [
    "Timing",
    "machine_facts",
    "main",
    "make_tree",
    "mlflow_command",
    "render",
    "stage_costs",
    "time_commands",
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULT = HERE / "results" / "cli.md"
IRIS = REPO / "examples" / "iris"
VALIDATE_ONE = "mlform validate examples/iris"
MLFLOW_VENV = HERE / ".venvs" / "mlflow"
MLFLOW_REQUIREMENT = "mlflow==3.17.*"
HELP_GOAL_S = 0.10
VALIDATE_ONE_GOAL_S = 0.30
VALIDATE_ONE_GOAL_RATIO = 0.15  # of `import sklearn.ensemble`
VALIDATE_MANY_GOAL_S = 3.0  # 1,000 specs
HELLO_CLI = '''\
import click


@click.group()
def cli():
    """A hello-world click CLI: the floor for any click-based tool."""


@cli.command()
def hello():
    """Say hello."""
    click.echo("hello")


cli()
'''


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one command."""

    label: str
    samples: tuple[float, ...]
    cpu: tuple[float, ...] = ()
    """CPU seconds (user + system) of each run, which hold when other processes load the machine."""

    @property
    def median(self) -> float:
        """The median run."""
        return statistics.median(self.samples)

    @property
    def cpu_median(self) -> float:
        """The median CPU seconds of a run (0 when not measured)."""
        return statistics.median(self.cpu) if self.cpu else 0.0


def children_cpu() -> float:
    """CPU seconds used so far by this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_once(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"`{' '.join(argv)}` exited {done.returncode}: {' / '.join(tail)}")
    return elapsed


def time_commands(commands: dict[str, list[str]], runs: int, warmup: int) -> list[Timing]:
    """Time each command `runs` times after `warmup` runs, interleaved so background load hits all alike."""
    samples: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    for round_number in range(warmup + runs):
        for label, argv in commands.items():
            before = children_cpu()
            elapsed = _run_once(argv)
            if round_number >= warmup:
                samples[label].append(elapsed)
                cpu[label].append(children_cpu() - before)
    return [Timing(label, tuple(values), tuple(cpu[label])) for label, values in samples.items()]


def mlflow_command() -> tuple[Path | None, str]:
    """The `mlflow` executable of the benchmark venv (installed when missing), or None and why not."""
    exe = MLFLOW_VENV / "bin" / "mlflow"
    if not exe.exists():
        print(f"installing {MLFLOW_REQUIREMENT} into {MLFLOW_VENV.relative_to(REPO)} (first run only) ...", flush=True)
        steps = [[sys.executable, "-m", "venv", "--clear", str(MLFLOW_VENV)],
                 [str(MLFLOW_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  MLFLOW_REQUIREMENT]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                return None, f"install failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
    done = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None, "`mlflow --version` failed"
    return exe, done.stdout.strip().rsplit(" ", 1)[-1]


def make_tree(root: Path, count: int) -> Path:
    """`count` copies of the iris example under `root`, each with its own pipeline and model name."""
    spec = (IRIS / "mlform.yaml").read_text()
    for index in range(1, count + 1):
        name = f"iris-{index:04d}"
        folder = root / name
        shutil.copytree(IRIS / "data", folder / "data")
        text = re.sub(r"(?m)^  name: iris$", f"  name: {name}", spec)
        (folder / "mlform.yaml").write_text(text.replace("model_name: iris-classifier", f"model_name: {name}"))
    return root


def scale_timings(sizes: Sequence[int], runs_for: dict[int, int], mlform: str,
                  before: Path | None = None) -> dict[int, list[Timing]]:
    """validate and graph times over trees of each size (and validate of the `before` sources, if given)."""
    found = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="mlform-bench-") as tmp:
            tree = str(make_tree(Path(tmp), size))
            commands = {"validate": [mlform, "validate", tree], "graph": [mlform, "graph", tree]}
            if before is not None:
                commands["validate (before)"] = baseline.command(before, ["validate", tree])
            found[size] = time_commands(commands, runs=runs_for[size], warmup=1)
            print(f"  {size} specs: " + ", ".join(f"{t.label} {t.median:.2f}s" for t in found[size]), flush=True)
    return found


def stage_costs(tree: Path, passes: int) -> list[tuple[str, float]]:
    """CPU seconds per spec of each stage of validating every spec under `tree`: the best of `passes` passes."""
    import gc

    import yaml

    from mlform.specs.check.semantic import check_sections, sections_of
    from mlform.specs.loader import discover, validate_file
    from mlform.specs.model.pipeline import Pipeline
    from mlform.specs.read.overlays import BASE, environment_names, resolve
    from mlform.specs.read.source import _Loader, read_document  # the reader's own PyYAML loader, to split its cost

    files = discover([tree])
    validate_file(files[0])  # imports the estimator's module once, as the CLI does for its first spec
    raw = [path.read_bytes() for path in files]
    docs = [read_document(path) for path in files]
    envs = [(doc, env) for doc in docs for env in [BASE, *environment_names(doc)]]
    merged = [resolve(doc, env).data for doc, env in envs]
    roots = [path.parent for path, doc in zip(files, docs, strict=True) for _ in [BASE, *environment_names(doc)]]
    valid = list(zip(roots, (Pipeline.model_validate(data) for data in merged), strict=True))
    # each stage runs once per item and keeps nothing, as the CLI does spec by spec
    stages: dict[str, tuple[Sequence[Any], Callable[[Any], object]]] = {
        "read the file and build data (mlform reader)": (files, read_document),
        "- of which PyYAML composes nodes (C loader)": (raw, lambda text: yaml.compose(text, _Loader)),
        "merge each environment's overlay": (envs, lambda pair: resolve(*pair)),
        "schema validation of each environment (pydantic)": (merged, Pipeline.model_validate),
        "semantic checks of each environment": (valid, lambda pair: check_sections(sections_of(pair[1]), pair[0])),
        "validate_file: all of the above and the rest": (files, validate_file),
    }
    gc.freeze()  # the inputs above live through every pass: spare each garbage collection a scan of them
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(passes):
        for label, (items, stage) in stages.items():
            start = time.process_time()
            for item in items:
                stage(item)
            best[label] = min(best[label], time.process_time() - start)
    return [(label, seconds / len(files)) for label, seconds in best.items()]


def _meminfo_gib() -> str:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return "unknown"
    match = re.search(r"MemTotal:\s+(\d+) kB", text)
    return f"{int(match[1]) / 2**20:.0f} GiB" if match else "unknown"


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"model name\s*:\s*(.+)", text)
    return match[1].strip() if match else platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def machine_facts(mlflow_version: str) -> list[tuple[str, str]]:
    """What the numbers were measured on."""
    packages = ["mlform", "click", "pydantic", "PyYAML", "networkx", "scikit-learn"]
    return [
        ("date", datetime.date.today().isoformat()),
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} cores"),
        ("memory", _meminfo_gib()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("load average (1, 5, 15 min) at the end", load_average()),
        ("Python", platform.python_version()),
        *((package, _version(package)) for package in packages),
        ("mlflow (separate venv)", mlflow_version),
    ]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _validate_goals(by_label: dict[str, Timing], scale: dict[int, list[Timing]]) -> list[str]:
    """The goals of `validate`: one spec against `import sklearn.ensemble` in the same run, and 1,000 specs."""
    one, sklearn = by_label[VALIDATE_ONE].median, by_label["python -c 'import sklearn.ensemble'"].median
    met = one <= VALIDATE_ONE_GOAL_S and one <= VALIDATE_ONE_GOAL_RATIO * sklearn
    cpu, sklearn_cpu = by_label[VALIDATE_ONE].cpu_median, by_label["python -c 'import sklearn.ensemble'"].cpu_median
    lines = [f"Goal: `{VALIDATE_ONE}` <= {VALIDATE_ONE_GOAL_S:.2f} s and <= {VALIDATE_ONE_GOAL_RATIO:.2f}x "
             f"`import sklearn.ensemble`: **{'met' if met else 'NOT met'}** (median {one:.3f} s, "
             f"{one / sklearn:.2f}x of {sklearn:.3f} s; CPU {cpu:.3f} s, {cpu / sklearn_cpu:.2f}x of "
             f"{sklearn_cpu:.3f} s)."]
    before = by_label.get(f"{VALIDATE_ONE} (before)")
    if before is not None:
        lines[-1] += (f" Before: {before.median:.3f} s ({before.median / sklearn:.2f}x; CPU {before.cpu_median:.3f} s, "
                      f"{before.cpu_median / sklearn_cpu:.2f}x).")
    many = {t.label: t for t in scale.get(1000, [])}
    if "validate" in many:
        median = many["validate"].median
        lines += ["", f"Goal: `validate` of 1,000 specs <= {VALIDATE_MANY_GOAL_S:.1f} s: "
                      f"**{'met' if median <= VALIDATE_MANY_GOAL_S else 'NOT met'}** (median {median:.2f} s, CPU "
                      f"{many['validate'].cpu_median:.2f} s" +
                  (f"; before: {many['validate (before)'].median:.2f} s, CPU "
                   f"{many['validate (before)'].cpu_median:.2f} s)." if "validate (before)" in many else ").")]
    return lines


def render(startup: list[Timing], scale: dict[int, list[Timing]], stages: tuple[int, list[tuple[str, float]]],
           facts: list[tuple[str, str]], runs: int) -> str:
    """The Markdown report."""
    by_label = {t.label: t for t in startup}
    floor = by_label["click hello --help"].median
    help_median = by_label["mlform --help"].median
    verdict = "met" if help_median <= HELP_GOAL_S else "NOT met"
    lines = ["## CLI start-up and spec throughput (bench_cli)", "",
             f"Goal: `mlform --help` <= {HELP_GOAL_S:.2f} s: **{verdict}** (median {help_median:.3f} s).", "",
             *_validate_goals(by_label, scale), "",
             f"### Start-up: median of {runs} runs, interleaved, after warm-up", ""]
    rows = [[f"`{t.label}`", f"{t.median:.3f}", f"{min(t.samples):.3f}", f"{max(t.samples):.3f}",
             f"{t.cpu_median:.3f}", f"{t.median / floor:.2f}x", f"{t.median / help_median:.2f}x"] for t in startup]
    lines += _table(["command", "median s", "min s", "max s", "CPU s", "vs click hello", "vs mlform --help"], rows)
    lines += ["", "CPU s is the user and system time of the command (what other processes on the machine do not "
              "inflate); every command runs with bytecode caches on, as an installed package does. `(before)` rows run "
              "the earlier revision's sources with the same interpreter and packages, in the same rounds.", ""]
    lines += ["", "### validate and graph over N copies of the iris spec (3 environments each)", ""]
    rows = []
    for size, timings in scale.items():
        found = {t.label: t for t in timings}
        validate, graph, before = found["validate"], found["graph"], found.get("validate (before)")
        rows.append([str(size), str(len(validate.samples)),
                     f"{validate.median:.2f}", f"{validate.cpu_median:.2f}", f"{1000 * validate.median / size:.1f}",
                     f"{before.median:.2f} ({before.cpu_median:.2f})" if before else "-",
                     f"{graph.median:.2f}", f"{1000 * graph.median / size:.1f}"])
    lines += _table(["specs", "runs", "validate median s", "validate CPU s", "validate ms/spec",
                     "validate before s (CPU s)", "graph median s", "graph ms/spec"], rows)
    lines += ["", "`validate` checks the base spec and every environment; `graph` resolves the base spec.", ""]
    count, costs = stages
    estimator = by_label["python -c 'import sklearn.ensemble'"].median - by_label["python -c pass"].median
    lines += [f"### Where validating a spec goes: CPU ms per spec over {count} iris specs, best pass, in-process", "",
              f"Once per process, importing the estimator's module (`sklearn.ensemble`) costs {estimator:.2f} s "
              "of wall time (median of the start-up runs, less `python -c pass`).", ""]
    total = costs[-1][1]
    lines += _table(["stage", "ms/spec", "share of validate_file"],
                    [[label, f"{1000 * seconds:.3f}", f"{seconds / total:.0%}"] for label, seconds in costs])
    lines += ["", "### Machine", ""]
    lines += _table(["fact", "value"], [[key, value] for key, value in facts])
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and write results/cli.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few runs and small trees, to check the script")
    parser.add_argument("--no-mlflow", action="store_true", help="skip timing MLflow's CLI (installed on first use)")
    parser.add_argument("--before", default="main", metavar="REF",
                        help="also time `validate` of this git revision's sources (default: main; `` for none)")
    args = parser.parse_args(argv)
    started = load_average()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # time commands as installed packages run: with bytecode caches
    runs = 5 if args.quick else 20
    sizes = (1, 10) if args.quick else (1, 100, 1000)
    runs_for = {1: 3 if args.quick else 10, 10: 3, 100: 5, 1000: 3}
    mlform = str(Path(sys.executable).with_name("mlform"))
    with contextlib.ExitStack() as stack:
        before = None
        if args.before:
            before = baseline.checkout(args.before, Path(stack.enter_context(tempfile.TemporaryDirectory())))
            print(f"before: {args.before} ({baseline.resolve(args.before)})", flush=True)
        _measure(args, runs, sizes, runs_for, mlform, before, started)


def _measure(args: argparse.Namespace, runs: int, sizes: Sequence[int], runs_for: dict[int, int], mlform: str,
             before: Path | None, started: str) -> None:
    """Time everything, write results/cli.md."""
    with tempfile.TemporaryDirectory(prefix="mlform-bench-") as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO_CLI)
        commands = {"python -c pass": [sys.executable, "-c", "pass"],
                    "python -c 'import sklearn.ensemble'": [sys.executable, "-c", "import sklearn.ensemble"],
                    "click hello --help": [sys.executable, str(hello), "--help"],
                    "mlform --help": [mlform, "--help"],
                    "mlform --version": [mlform, "--version"],
                    VALIDATE_ONE: [mlform, "validate", str(IRIS)]}
        if before is not None:
            commands[f"{VALIDATE_ONE} (before)"] = baseline.command(before, ["validate", str(IRIS)])
        mlflow, mlflow_version = (None, "skipped (--no-mlflow)") if args.no_mlflow else mlflow_command()
        if mlflow is not None:
            commands |= {"mlflow --help": [str(mlflow), "--help"], "mlflow --version": [str(mlflow), "--version"]}
        print("timing start-up ...", flush=True)
        startup = time_commands(commands, runs=runs, warmup=3)
    print("timing validate and graph ...", flush=True)
    scale = scale_timings(sizes, runs_for, mlform, before)
    print("timing the stages of validation ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="mlform-bench-") as tmp:
        stages = (sizes[-1], stage_costs(make_tree(Path(tmp), sizes[-1]), passes=3))
    facts = machine_facts(mlflow_version if mlflow else f"not measured ({mlflow_version})")
    facts.insert(4, ("load average (1, 5, 15 min) at the start", started))
    if before is not None:
        facts.append(("before", f"`{args.before}` ({baseline.resolve(args.before)})"))
    report = render(startup, scale, stages, facts, runs)
    from mlform.specs.fsutil import write_atomic

    write_atomic(RESULT, report)
    print(report)


if __name__ == "__main__":
    main()
