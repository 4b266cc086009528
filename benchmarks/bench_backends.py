"""Backend benchmark: a no-op `mlform plan` of 1 and 1,000 applied specs on PostgreSQL and S3 beside the local backend.

Each size gets one temporary git repository holding N copies of examples/iris (distinct names, their own data).
Setup applies every copy once on the local backend (one `$MLFORM_HOME`, one worker process per core), then `mlform
state migrate` copies that state into a fresh PostgreSQL database (a throwaway cluster, as the tests start) and a
bucket of moto's S3 server, and a no-op `mlform apply` per remote kind, from its own `$MLFORM_HOME` holding a copy
of the step-output cache, writes that kind's plan receipts (in parallel workers too). Then `mlform plan specs` is
timed on each kind (`$MLFORM_BACKEND`), interleaved round by round. Goals: 1 spec <= 0.5 s, 1,000 specs <= 5 s on
PostgreSQL. Writes benchmarks/results/backends.md. Run it alone with `python benchmarks/bench_backends.py`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_cli import machine_facts, make_tree
from bench_plan import APPLY_WORKER

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from tools import postgres_server, s3_server  # noqa: E402 - the test services

__all__ = ["main", "render"]

RESULT = HERE / "results" / "backends.md"
GOALS = {1: 0.5, 1000: 5.0}  # no-op plan seconds on postgres, by number of specs
KINDS = ("local", "postgres", "s3")
NOOP = "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run."


def _run(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " / ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise RuntimeError(f"`{' '.join(argv[1:4])} ...` exited {done.returncode}: {tail}")
    return done


def _apply_all(root: Path, env: dict[str, str], workers: int) -> float:
    """Apply every spec under `root/specs` in `workers` processes; the seconds it took."""
    folders = sorted(str(p) for p in (root / "specs").iterdir() if p.is_dir())
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", APPLY_WORKER, "out", *folders[index::workers]], cwd=root,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for index in range(workers) if folders[index::workers]]
    failures = [proc.communicate()[1] for proc in procs if proc.wait() != 0]
    if failures:
        raise RuntimeError(f"apply failed: {' / '.join(failures[0].strip().splitlines()[-3:])}")
    return time.perf_counter() - started


def setup(root: Path, size: int, envs: dict[str, dict[str, str]], mlform: str, workers: int) -> dict[str, float]:
    """The repository with `size` applied specs on every kind; setup seconds per step."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    make_tree(root / "specs", size)
    took = {"apply (local)": _apply_all(root, envs["local"], workers)}
    home = Path(envs["local"]["MLFORM_HOME"])
    for kind in KINDS[1:]:
        env = envs[kind]
        shutil.copytree(home / "store", Path(env["MLFORM_HOME"]) / "store")  # the local step-output cache
        started = time.perf_counter()
        _run([mlform, "state", "migrate", "--from", str(home), "--to", env["MLFORM_BACKEND"]], root, env)
        took[f"migrate to {kind}"] = time.perf_counter() - started
        took[f"no-op apply ({kind})"] = _apply_all(root, env, workers)
    return took


def _plan_once(root: Path, mlform: str, env: dict[str, str], size: int) -> float:
    started = time.perf_counter()
    done = _run([mlform, "plan", "specs", "--artifacts-dir", "out", "--detailed-exitcode"], root, env)
    elapsed = time.perf_counter() - started
    noops = sum(line == NOOP for line in done.stdout.splitlines())
    if noops != 2 * size:
        raise RuntimeError(f"expected {2 * size} no-op plans, got {noops}")
    return elapsed


def time_plans(root: Path, mlform: str, envs: dict[str, dict[str, str]], size: int, runs: int,
               warmup: int = 1) -> dict[str, list[float]]:
    """No-op plan seconds per kind, interleaved round by round after `warmup` rounds."""
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for round_number in range(warmup + runs):
        for kind in KINDS:
            seconds = _plan_once(root, mlform, envs[kind], size)
            if round_number >= warmup:
                samples[kind].append(seconds)
    return samples


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render(results: dict[int, dict[str, list[float]]], setups: dict[int, dict[str, float]],
           facts: Sequence[tuple[str, str]], warmup: int) -> str:
    """The Markdown report."""
    verdicts = []
    for size, goal in GOALS.items():
        label = f"{size:,} spec{'s' if size > 1 else ''} <= {goal} s"
        if size not in results:
            verdicts.append(f"{label}: not measured in this run")
            continue
        median = statistics.median(results[size]["postgres"])
        verdicts.append(f"{label}: **{'met' if median <= goal else 'NOT met'}** (median {median:.2f} s)")
    lines = ["## A no-op `mlform plan` on the PostgreSQL and S3 backends (bench_backends)", "",
             "Goals on PostgreSQL: " + ("; ".join(verdicts) or "not measured") + ".", "",
             "Each spec is a copy of examples/iris with 2 environments, so N specs make 2N plans, every one a "
             "no-op answered from its plan receipt after one batched read (`read_many`) of the states per backend. "
             "Wall-clock seconds of `mlform plan specs --artifacts-dir out` as a whole process; median of the runs "
             f"after {warmup} warm-up round(s), the kinds interleaved round by round. PostgreSQL is a local throwaway "
             "cluster over TCP; S3 is moto's server (an in-memory stand-in, for reference only). On one spec, "
             "PostgreSQL's extra time is mostly importing its client (`import psycopg`: about 0.2 s here, most of it "
             "asyncio and logging that psycopg imports); the connection and the batched read take about 0.05 s.", ""]
    rows = []
    for size, samples in results.items():
        local = statistics.median(samples["local"])
        for kind in KINDS:
            median = statistics.median(samples[kind])
            rows.append([f"{size:,}", kind, str(len(samples[kind])), f"{median:.2f}",
                         f"{min(samples[kind]):.2f}-{max(samples[kind]):.2f}", f"{median / local:.2f}x"])
    lines += _table(["specs", "backend", "runs", "median s", "range s", "vs local"], rows)
    lines += ["", "Setup seconds (untimed in the table): "
              + "; ".join(f"{size:,} specs: " + ", ".join(f"{step} {sec:.0f}" for step, sec in took.items())
                          for size, took in setups.items()) + ".", "", "### Machine", ""]
    lines += _table(["fact", "value"], [[key, value] for key, value in facts])
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Start the services, run the benchmark and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1 and 10 with 3 runs, to check the script")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, metavar="N", help="tree sizes to measure")
    parser.add_argument("--runs", type=int, default=None, metavar="R", help="runs per kind (default by size)")
    parser.add_argument("--warmup", type=int, default=1, metavar="W", help="warm-up rounds before timing")
    parser.add_argument("--out", type=Path, default=RESULT, metavar="FILE", help="where to write the report")
    args = parser.parse_args(argv)
    sizes = args.sizes or ((1, 10) if args.quick else (1, 1000))
    workers = os.cpu_count() or 1  # applies in parallel: they share one state folder and step-output store
    mlform = str(Path(sys.executable).with_name("mlform"))
    cluster, endpoint = postgres_server.start(), s3_server.start()
    results, setups = {}, {}
    try:
        for size in sizes:
            runs = args.runs or (3 if args.quick else 10 if size <= 10 else 5)
            with tempfile.TemporaryDirectory(prefix="mlform-bench-backends-") as tmp:
                base = {key: value for key, value in os.environ.items() if key != "MLFORM_BACKEND"}
                aws = endpoint.environment(Path(tmp))
                urls = {"postgres": cluster.url(cluster.new_database("bench")),
                        "s3": f"s3://{endpoint.new_bucket()}/team"}
                envs = {kind: {**base, **aws, "MLFORM_HOME": str(Path(tmp) / f"home-{kind}"),
                               **({"MLFORM_BACKEND": urls[kind]} if kind in urls else {})} for kind in KINDS}
                print(f"{size} specs: setting up ...", flush=True)
                setups[size] = setup(Path(tmp) / "repo", size, envs, mlform, workers)
                print(f"  setup {sum(setups[size].values()):.0f} s; timing plan ({runs} runs) ...", flush=True)
                results[size] = time_plans(Path(tmp) / "repo", mlform, envs, size, runs, args.warmup)
                print("  " + ", ".join(f"{kind} {statistics.median(s):.2f} s" for kind, s in results[size].items()),
                      flush=True)
    finally:
        endpoint.stop()
        cluster.stop()
    facts = [fact for fact in machine_facts("") if not fact[0].startswith("mlflow")]
    report = render(results, setups, facts, args.warmup)
    from mlform.specs.fsutil import write_atomic

    write_atomic(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
