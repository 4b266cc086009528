"""Benchmark: mlform's per-feature drift statistics against Evidently's `DataDriftPreset`, on the same data.

Both read the same arrays (written once as .npy files): `--rows` reference rows and as many current rows,
`--features` numeric columns of four shapes (normal, log-normal, uniform, small integers with ties),
half of them shifted in the current data. mlform computes PSI, KS, Wasserstein and Jensen-Shannon for
every feature; Evidently runs its default preset (one test per column and its report). Each side runs
in a fresh process: mlform in this interpreter, Evidently in benchmarks/.venvs/evidently (installed on
first use, with `pandas<3` as Evidently 0.7 needs). Extra memory of mlform is the tracemalloc peak of
the call (numpy reports its buffers there), against the size of the input arrays.

Usage: python benchmarks/bench_drift.py [--rows N] [--features N] [--repeat N]  (writes results/drift.md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
RESULT = HERE / "results" / "drift.md"
GOAL_RATIO, STRETCH_RATIO, GOAL_SECONDS, GOAL_MEMORY = 25.0, 40.0, 2.0, 1.5

__all__ = ["ensure_venv", "machine_facts", "main"]

_OURS = """
import json, sys, time, tracemalloc
import numpy as np, pandas as pd
from mlform.runtime.monitoring.drift import detect_drift
from mlform.specs.model.lifecycle import Drift
folder, repeat = sys.argv[1], int(sys.argv[2])
ref, cur = np.load(f"{folder}/reference.npy"), np.load(f"{folder}/current.npy")
cols = [f"f{i}" for i in range(ref.shape[1])]
reference, current = pd.DataFrame(ref, columns=cols, copy=False), pd.DataFrame(cur, columns=cols, copy=False)
times, cpu = [], []
for _ in range(repeat):
    start, start_cpu = time.perf_counter(), time.process_time()
    report = detect_drift(reference, current, Drift(), cols)
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
tracemalloc.start()
detect_drift(reference, current, Drift(), cols)
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"times": times, "cpu": cpu, "peak_bytes": peak, "input_bytes": ref.nbytes + cur.nbytes,
                  "wasserstein": {f.feature: f.stats["wasserstein"] for f in report.features},
                  "drifted": report.drifted}))
"""

_EVIDENTLY = """
import json, sys, time
import numpy as np, pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
folder = sys.argv[1]
ref, cur = np.load(f"{folder}/reference.npy"), np.load(f"{folder}/current.npy")
cols = [f"f{i}" for i in range(ref.shape[1])]
reference, current = pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)
start, start_cpu = time.perf_counter(), time.process_time()
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
values = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("type", "").endswith("ValueDrift"):
        values[config["column"]] = {"method": config["method"], "value": float(metric["value"])}
print(json.dumps({"seconds": seconds, "cpu": cpu, "columns": values}))
"""


def ensure_venv(name: str, requirements: Sequence[str], module: str) -> Path:
    """The python of benchmarks/.venvs/NAME with `requirements` installed (only when `module` does not import)."""
    python = VENVS / name / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0:
        return python
    VENVS.mkdir(parents=True, exist_ok=True)
    print(f"installing {' '.join(requirements)} into {python.parent.parent.relative_to(HERE.parent)} ...", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / name)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
                   check=True)
    return python


def _cpu() -> str:
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor() or 'unknown'}, {os.cpu_count()} cores"


def _memory() -> str:
    try:
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        return "unknown"
    return f"{kib / 2**20:.0f} GiB"


def _peer_version(python: Path, package: str) -> str:
    code = f"from importlib.metadata import version; print(version({package!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def machine_facts(ours: Sequence[str], peer: Path, theirs: Sequence[str]) -> list[tuple[str, str]]:
    """Date, CPU, memory, OS, Python, versions of our packages and of the peer venv's packages."""
    facts = [("date", datetime.now(UTC).strftime("%Y-%m-%d")), ("CPU", _cpu()), ("memory", _memory()),
             ("OS", f"{platform.system()} {platform.release()}"), ("Python", platform.python_version()),
             ("load average at the end (1, 5, 15 min)", ", ".join(f"{x:.2f}" for x in os.getloadavg()))]
    facts += [(name, metadata.version(name)) for name in ours]
    facts += [(f"{name} (peer venv)", _peer_version(peer, name)) for name in theirs]
    return facts


def make_data(rows: int, features: int, folder: Path) -> None:
    """Reference and current arrays (rows x features, float64); every other feature shifts in the current."""
    import numpy as np

    rng = np.random.default_rng(0)
    ref, cur = np.empty((rows, features)), np.empty((rows, features))
    for j in range(features):
        shift = 0.1 if j % 2 else 0.0
        shape = j % 4
        for out, delta in ((ref, 0.0), (cur, shift)):
            if shape == 0:
                out[:, j] = rng.normal(delta, 1.0, rows)
            elif shape == 1:
                out[:, j] = rng.lognormal(delta, 0.5, rows)
            elif shape == 2:
                out[:, j] = rng.uniform(delta, 1.0 + delta, rows)
            else:
                out[:, j] = rng.integers(0, 12, rows) + np.round(delta * 10)
    np.save(folder / "reference.npy", ref)
    np.save(folder / "current.npy", cur)


def _run(python: Path | str, code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode != 0:
        sys.exit(f"benchmark process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def render(args: argparse.Namespace, ours: dict[str, Any], theirs: dict[str, Any],
           facts: list[tuple[str, str]]) -> str:
    """The Markdown report."""
    best = min(ours["times"])
    ratio = theirs["seconds"] / best
    cpu_ratio = theirs["cpu"] / min(ours["cpu"])
    memory = ours["peak_bytes"] / ours["input_bytes"]
    diffs = [abs(ours["wasserstein"][c] - v["value"]) / max(abs(v["value"]), 1e-12)
             for c, v in theirs["columns"].items() if v["method"].startswith("Wasserstein")]
    verdict = "met" if ratio >= GOAL_RATIO else "MISSED"
    stretch = "met" if ratio >= STRETCH_RATIO else "missed"
    lines = [
        "## Drift detection vs Evidently DataDriftPreset (bench_drift)", "",
        f"Goals: >= {GOAL_RATIO:.0f}x faster than Evidently: **{verdict}** ({ratio:.1f}x; stretch {STRETCH_RATIO:.0f}x "
        f"{stretch}); <= {GOAL_SECONDS:.0f} s: **{'met' if best <= GOAL_SECONDS else 'MISSED'}** ({best:.2f} s); "
        f"extra memory <= {GOAL_MEMORY}x the input arrays: **{'met' if memory <= GOAL_MEMORY else 'MISSED'}** "
        f"({memory:.2f}x).", "",
        f"Data: {args.rows:,} reference rows and {args.rows:,} current rows x {args.features} numeric features "
        "(normal, log-normal, uniform, integers with ties; every other feature shifted), seed 0.", "",
        "| tool | computes per feature | wall time s | CPU time s |",
        "|---|---|---|---|",
        f"| mlform `detect_drift` | PSI, KS, Wasserstein, Jensen-Shannon | {best:.3f} (best of {len(ours['times'])}: "
        f"{', '.join(f'{t:.3f}' for t in ours['times'])}) | {min(ours['cpu']):.3f} (least) |",
        f"| Evidently `DataDriftPreset()` | its default test (normed Wasserstein above 1,000 rows) | "
        f"{theirs['seconds']:.1f} (one run) | {theirs['cpu']:.1f} |", "",
        f"Ratio (Evidently / mlform): **{ratio:.1f}x** in wall time, {cpu_ratio:.1f}x in CPU time (mlform uses a "
        "thread per core; CPU time is the sum over threads, and it suffers less from other processes on the "
        f"machine: load average {args.load_before} before the run).", "",
        f"mlform's extra memory: peak {ours['peak_bytes'] / 2**20:.0f} MiB during the call, input arrays "
        f"{ours['input_bytes'] / 2**20:.0f} MiB ({memory:.2f}x).", "",
        f"Agreement: mlform's normed Wasserstein matches Evidently's on {len(diffs)} columns, largest relative "
        f"difference {max(diffs, default=float('nan')):.1e}. Drifted by mlform's defaults (PSI > 0.2): "
        f"{len(ours['drifted'])} of {args.features}.", "",
        "### Machine", "", "| fact | value |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in facts), "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run both sides once on the same data and write results/drift.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs of mlform (Evidently runs once)")
    args = parser.parse_args(argv)
    args.load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    peer = ensure_venv("evidently", ["evidently==0.7.*", "pandas<3"], "evidently")
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        folder = Path(tmp)
        make_data(args.rows, args.features, folder)
        print("mlform ...", flush=True)
        ours = _run(sys.executable, _OURS, tmp, str(args.repeat))
        print(f"mlform best {min(ours['times']):.3f} s; Evidently ...", flush=True)
        theirs = _run(peer, _EVIDENTLY, tmp)
    facts = machine_facts(["mlform", "numpy", "pandas", "scipy"], peer, ["evidently", "pandas", "numpy", "scipy"])
    from mlform.specs.fsutil import write_atomic

    write_atomic(RESULT, render(args, ours, theirs, facts))
    print(RESULT.read_text())


if __name__ == "__main__":
    main()
