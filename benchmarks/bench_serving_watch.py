"""Benchmark: what `serving.validate_inputs` and `serving.log` cost `mlform serve`, side by side with a plain server.

Three servers of the same iris pipeline run at once, one worker each, started the same way (uvicorn with
uvloop and httptools): plain; with `validate_inputs: reject` and a `min`/`max` rule on each of the four
features; and with those rules plus `log: {sample: 0.1}`. The client of bench_serving loads them in
alternating turns with 1- and 100-record bodies, and a single connection with one record. The goal: the
checks cost at most 10 % of the plain server's requests per second.

Usage: python benchmarks/bench_serving_watch.py [--seconds S] [--rounds N] [--clients N]
       (writes results/serving_watch.md)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_drift import machine_facts  # helpers shared by the benchmark scripts
from bench_serving import _SAVE_OURS, FEATURES, IRIS, free_port, measure, serve, stop

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "serving_watch.md"
GOAL_COST = 0.10

__all__ = ["main"]

_SERVE = """
import json, sys
from pathlib import Path
import uvicorn
from mlform.runtime.registry.models import Registry
from mlform.runtime.serving.app import create_app
from mlform.runtime.serving.watch import watch_parts
folder, port, watch = Path(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
loaded = Registry(folder / "registry").load("bench", 1)
guard, log = watch_parts(watch, loaded)
app = create_app(loaded, max_batch_size=1000, guard=guard, request_log=log)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on",
            server_header=False)
"""


_IN_PROCESS = """
import asyncio, json, statistics, sys, time
from pathlib import Path
from mlform.runtime.registry.models import Registry
from mlform.runtime.serving.app import create_app
from mlform.runtime.serving.watch import watch_parts
folder, watch, rows = Path(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
loaded = Registry(folder / "registry").load("bench", 1)
apps = {"plain": create_app(loaded, max_batch_size=1000),
        "validate": create_app(loaded, max_batch_size=1000, guard=watch_parts(watch, loaded)[0])}

async def main():
    out = {}
    for size in (1, 100):
        body = json.dumps({"records": rows[:size]}).encode()
        ratios = []
        for turn in range(40):
            took = {}
            for name in list(apps)[:: 1 if turn % 2 == 0 else -1]:
                start = time.perf_counter()
                for _ in range(10):  # 8 concurrent requests: one batch, as under load
                    await asyncio.gather(*(apps[name].predict(body) for _ in range(8)))
                took[name] = time.perf_counter() - start
            ratios.append(took["validate"] / took["plain"])
        out[str(size)] = statistics.median(ratios[4:])
    print(json.dumps(out))

asyncio.run(main())
"""


def in_process(folder: Path, watch: dict[str, Any], rows: list[dict[str, float]]) -> dict[str, float]:
    """Median time ratio (validate / plain) of the app's predict path without HTTP, in alternating turns."""
    import json

    done = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(folder), json.dumps(watch), json.dumps(rows)],
                          check=True, capture_output=True, text=True)
    return {k: float(v) for k, v in json.loads(done.stdout).items()}


def render(args: argparse.Namespace, results: dict[str, dict[str, Any]], facts: list[tuple[str, str]],
           ratios: dict[str, float]) -> str:
    """The Markdown report."""
    plain = results["plain"]
    rows, costs = [], []
    for name in ("validate", "validate + log"):
        for size in ("1", "100", "single"):
            cost = 1 - results[name][size]["rps"] / plain[size]["rps"]
            if name == "validate" and size != "single":
                costs.append(cost)
            rows.append(f"| {name} | {size} | {results[name][size]['rps']:.0f} | {plain[size]['rps']:.0f} | "
                        f"**{cost * 100:+.1f} %** | {results[name][size]['p99'] * 1e3:.2f} / "
                        f"{plain[size]['p99'] * 1e3:.2f} |")
    met = "met" if max(costs) <= GOAL_COST else "MISSED"
    return "\n".join([
        "## Serving input validation and request log cost (bench_serving_watch)", "",
        f"Goal: `validate_inputs: reject` (a `min`/`max` rule on each of 4 features) costs <= {GOAL_COST:.0%} of the "
        f"plain server's requests/s for 1- and 100-record bodies: **{met}** (worst {max(costs) * 100:.1f} %).", "",
        f"One worker each, {args.clients} keep-alive loopback clients ('single': one connection, one record), "
        f"{args.seconds:.0f} s per server and body size in {args.rounds} alternating turns after a 1 s warm-up; "
        "every answer was 200.", "",
        "| server | records per body | req/s | plain req/s | cost | p99 ms (this / plain) |",
        "|---|---|---|---|---|---|",
        *rows, "",
        "Without HTTP, in one process (the app's `predict` path: JSON, signature, batch, rules, model; 8 concurrent "
        "requests per batch, 40 alternating turns, median of the time ratios): validation adds "
        + ", ".join(f"**{(ratios[size] - 1) * 100:+.1f} %** for {size}-record bodies" for size in ("1", "100"))
        + ". This figure is the steadier one on a loaded machine: both apps share the process and its load.", "",
        "### Machine", "", "| fact | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in facts), "",
    ])


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the same model three ways, load them in turns, and write results/serving_watch.md."""
    import json

    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per server and body size")
    parser.add_argument("--rounds", type=int, default=6, help="turns the measured time is split into")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    frame = pd.read_csv(IRIS)[FEATURES]
    rows = [{str(k): float(v) for k, v in r.items()} for r in frame.to_dict("records")][:100]
    rules = {"columns": {c: {"min": 0.0, "max": 100.0} for c in FEATURES}}
    env = {k: v for k, v in os.environ.items() if k != "MLFORM_HOME"}
    with tempfile.TemporaryDirectory(prefix="bench-serving-watch-") as tmp:
        folder = Path(tmp)
        subprocess.run([sys.executable, "-c", _SAVE_OURS, str(IRIS), tmp], check=True)
        watches = {"plain": {}, "validate": {"validate_inputs": "reject", "validation": rules},
                   "validate + log": {"validate_inputs": "reject", "validation": rules,
                                      "log": {"path": str(folder / "log"), "sample": 0.1, "buffer_rows": 10_000}}}
        ports = {name: free_port() for name in watches}
        procs = []
        try:
            for name, watch in watches.items():
                procs.append(serve([sys.executable, "-c", _SERVE, tmp, str(ports[name]), json.dumps(watch)], env,
                                   ports[name], "/ready", folder / f"{name}.log"))
            print("measuring the three servers in turns ...", flush=True)
            results = measure({name: (port, "/predict", "records") for name, port in ports.items()}, rows,
                              args.clients, args.seconds, args.rounds)
            ratios = in_process(folder, watches["validate"], rows)
        finally:
            for proc in procs:
                stop(proc)
    for name, result in results.items():
        for size, summary in result.items():
            if set(summary["statuses"]) != {200}:
                sys.exit(f"{name} answered {summary['statuses']} for {size}-record bodies")
    from mlform.specs.fsutil import write_atomic

    facts = machine_facts(["mlform", "uvicorn", "uvloop", "scikit-learn"], Path(sys.executable), [])
    write_atomic(RESULT, render(args, results, facts, ratios))
    print(RESULT.read_text())


if __name__ == "__main__":
    main()
