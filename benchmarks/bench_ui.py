"""`mlform ui` at scale: time to first byte of every page and JSON twin with 10,000 runs and 100 model versions,
beside the MLflow UI (`mlflow server`) on the same 10,000 runs: its page shell and the runs search its runs page
sends first. Goal: every mlform page's first byte in <= 200 ms, the runs table paged.

Usage: python benchmarks/bench_ui.py [--runs N] [--versions N] [--rounds N] [--no-mlflow]; writes results/ui.md.
MLflow comes from mlform's test extras (`pip install -e '.[test]'`); without it the report says so.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_drift import machine_facts  # noqa: E402 - helpers shared by the benchmark scripts

GOAL_MS = 200.0
_SEARCH = "runs/search, newest 100 (the runs page's data)"
PAGES = ("/", "/runs", "/runs?page=100", "/runs?sort=-duration&q=dev", "/models", "/plans", "/monitoring",
         "/audit", "/api/pipelines", "/api/runs", "/api/models", "/api/monitoring", "/api/audit")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def first_byte(port: int, path: str, method: str = "GET", body: bytes | None = None) -> tuple[float, int]:
    """Seconds from sending the request to the status line and headers, and the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.connect()
        start = time.perf_counter()
        conn.request(method, path, body, {"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        took = time.perf_counter() - start
        response.read()
        return took, response.status
    finally:
        conn.close()


def _wait(port: int, path: str, proc: subprocess.Popen[bytes], limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if first_byte(port, path)[1] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def fill_mlform(project: Path, runs: int, versions: int) -> list[str]:
    """`runs` tracked runs (params, metrics, steps) and `versions` registered versions; the run IDs."""
    from sklearn.dummy import DummyClassifier

    from mlform.runtime.registry.models import registry_at
    from mlform.runtime.tracking.sqlite import SqliteTracker

    state = project / ".mlform"
    tracker = SqliteTracker(state / "tracking.db")
    ids = []
    for i in range(runs):
        run_id = f"2026{i:010d}-{uuid.uuid4().hex[:6]}"
        env = ("dev", "staging", "prod")[i % 3]
        tracker.start_run(run_id, "iris", env, str(project / "mlform.yaml"), "0" * 64,
                          {"model": {"params": {"max_depth": i % 7 + 1, "n_estimators": 100}}})
        tracker.log_step(run_id, "ingest.train", "cached", 0.01, f"{i:064x}", ["cached"])
        tracker.log_step(run_id, "evaluate", "ran", 0.2, f"{i + 1:064x}", ["config changed"],
                         metrics={"accuracy": 0.9 + (i % 10) / 100, "f1_macro": 0.88 + (i % 9) / 100})
        tracker.finish_run(run_id, "succeeded")
        ids.append(run_id)
    tracker.close()
    registry = registry_at(state, ("dev", "staging", "prod"))
    model = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    for v in range(versions):
        registry.register("iris-classifier", model, [{"name": "x", "dtype": "float64"}], {"accuracy": 0.9},
                          {"env": "dev", "fingerprints": {"train": f"{v:064x}"}, "spec_digest": "0" * 64})
    return ids


def fill_mlflow(db: Path, runs: int) -> str:
    """`runs` MLflow runs with the same params and metrics: a few logged through MLflow's own store, the rest
    copied from them row by row in its schema (logging 10,000 runs one by one takes MLflow about half an hour
    here). The experiment ID."""
    from mlflow.entities import Metric, Param, RunStatus
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", str(db.parent / "mlflow-artifacts"))
    experiment = store.create_experiment("iris")
    templates = []
    for i in range(7):
        run = store.create_run(experiment, "bench", int(time.time() * 1000), [], f"template-{i}")
        store.log_batch(run.info.run_id, metrics=[Metric("accuracy", 0.9 + i / 100, 0, 0),
                                                  Metric("f1_macro", 0.88 + i / 100, 0, 0)],
                        params=[Param("max_depth", str(i + 1)), Param("n_estimators", "100")], tags=[])
        store.update_run_info(run.info.run_id, RunStatus.FINISHED, int(time.time() * 1000), None)
        templates.append(run.info.run_id)
    store.engine.dispose()
    conn = sqlite3.connect(db)
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
              if any(c[1] == "run_uuid" for c in conn.execute(f"PRAGMA table_info({t})"))]
    with conn:
        for i in range(runs - len(templates)):
            source, new = templates[i % len(templates)], uuid.uuid4().hex
            for table in tables:
                columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
                picked = ", ".join("?" if c == "run_uuid" else ("? || name" if (table, c) == ("runs", "name")
                                                                  else c) for c in columns)
                args = [new, f"{i}-"] if table == "runs" and "name" in columns else [new]
                if table == "runs" and columns.index("name") < columns.index("run_uuid"):
                    args.reverse()
                conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picked} FROM {table} "
                             "WHERE run_uuid = ?", (*args, source))
    conn.close()
    return experiment


def measure(port: int, requests: list[tuple[str, str, bytes | None]], rounds: int) -> dict[str, list[float]]:
    """Milliseconds to first byte of each request, `rounds` times after one warm-up, interleaved."""
    times: dict[str, list[float]] = {label: [] for label, _, _ in requests}
    for label, path, body in requests:
        took, status = first_byte(port, path, "POST" if body else "GET", body)
        if status != 200:
            raise RuntimeError(f"{label}: status {status}")
    for _ in range(rounds):
        for label, path, body in requests:
            times[label].append(first_byte(port, path, "POST" if body else "GET", body)[0] * 1000)
    return times


def _row(label: str, values: list[float]) -> str:
    median = statistics.median(values)
    verdict = "yes" if median <= GOAL_MS else "**no**"
    return f"| `{label}` | {median:.1f} | {min(values):.1f} | {max(values):.1f} | {verdict} |"


def main() -> None:
    """Fill, serve, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    lines = [f"## mlform ui ({args.runs:,} runs, {args.versions} model versions)", "",
             f"Milliseconds from request to the response's first byte, median of {args.rounds} (after a warm-up), "
             f"min, max; goal <= {GOAL_MS:.0f} ms. The runs table shows 50 runs a page.", ""]
    try:
        project = work / "iris"
        shutil.copytree(REPO / "examples" / "iris", project, ignore=shutil.ignore_patterns(".mlform"))
        started = time.perf_counter()
        ids = fill_mlform(project, args.runs, args.versions)
        print(f"filled mlform in {time.perf_counter() - started:.0f} s", flush=True)
        port = _free_port()
        proc = subprocess.Popen([str(Path(sys.executable).parent / "mlform"), "ui", str(work), "--port", str(port)])
        try:
            _wait(port, "/api", proc)
            requests = [(p, p, None) for p in PAGES] + [("/compare (2 runs)", f"/compare?run={ids[0]}&run={ids[-1]}",
                                                         None)]
            ours = measure(port, requests, args.rounds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        lines += ["| mlform ui | median | min | max | <= 200 ms |", "|---|---|---|---|---|"]
        lines += [_row(label, values) for label, values in ours.items()]
        section, theirs = _mlflow_section(work, args)
        if theirs:
            ratio = statistics.median(theirs[_SEARCH]) / statistics.median(ours["/runs"])
            lines += ["", f"Runs page, first byte of its rows: mlform `/runs` is **{ratio:.1f}x** faster than MLflow's "
                          "`runs/search` (same runs, same run of this script).", ""]
        lines += ["", *section]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    facts = machine_facts(["mlform"], Path(sys.executable), ["mlflow"])
    lines += ["", "| machine | |", "|---|---|", *(f"| {k} | {v} |" for k, v in facts)]
    out = HERE / "results" / "ui.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _mlflow_section(work: Path, args: Any) -> tuple[list[str], dict[str, list[float]]]:
    """The MLflow UI on the same number of runs (report lines, timings), or why it was not measured."""
    if args.no_mlflow:
        return ["MLflow not measured (`--no-mlflow`)."], {}
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return ["MLflow not measured: it is not installed (`pip install -e '.[test]'` installs it)."], {}
    db = work / "mlflow.db"
    started = time.perf_counter()
    experiment = fill_mlflow(db, args.runs)
    print(f"filled MLflow in {time.perf_counter() - started:.0f} s", flush=True)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(port, "/", proc)
        search = json.dumps({"experiment_ids": [experiment], "max_results": 100,
                             "order_by": ["attributes.start_time DESC"]}).encode()
        theirs = measure(port, [("GET / (the UI's page shell)", "/", None),
                                (_SEARCH, "/ajax-api/2.0/mlflow/runs/search", search)], args.rounds)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return (["| MLflow UI (`mlflow server`, sqlite, same runs) | median | min | max | <= 200 ms |",
            "|---|---|---|---|---|", *(_row(label, values) for label, values in theirs.items()), "",
            "The MLflow runs page is a script that fetches `runs/search` after loading its shell: its first "
            "rows need both answers, and the script's start-up, which is not counted here."], theirs)


if __name__ == "__main__":
    main()
