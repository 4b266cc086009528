"""Benchmark: mlform's validation against pandera `validate(lazy=True)` on 10M rows, per rule type.

Each measurement is the first validation call in a fresh process, after the data is loaded: its wall
time and its peak extra memory (peak RSS during the call minus RSS before it; Arrow's pool releases
its unused memory and the kernel's peak counter is reset just before the call). pandera runs in its
own venv under benchmarks/.venvs/.

Usage: python benchmarks/bench_validation.py [--rows N] [--repeats N]   (writes benchmarks/results/validation.md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venvs" / "pandera"
RESULT = HERE / "results" / "validation.md"
ALLOWED = ["DE", "FR", "GB", "NL", "US"]
EMAIL = r"[a-z0-9]+@example\.(com|org)"
GOAL = 3.0

# rule type -> (mlform validation section, columns it needs)
RULES: dict[str, dict[str, Any]] = {
    "row_count": {"table": {"row_count": {"min": 1000, "max": 100_000_000}}},
    "range": {"columns": {"age": {"min": 0, "max": 120}, "income": {"min": 0}, "score": {"min": 0, "max": 1}}},
    "not_null": {"columns": {"score": {"nullable": False}, "country": {"nullable": False}}},
    "allowed": {"columns": {"country": {"allowed": ALLOWED}}},
    "regex": {"columns": {"email": {"regex": EMAIL}}},
    "unique": {"columns": {"id": {"unique": True}}},
    "null_fraction": {"columns": {"income": {"max_null_fraction": 0.05}}},
}


def all_rules() -> dict[str, Any]:
    """The 10 rules together: 1 row count, 4 ranges, 2 not-null, allowed, regex, unique, null fraction."""
    merged: dict[str, Any] = {"table": {}, "columns": {}}
    for section in RULES.values():
        merged["table"].update(section.get("table", {}))
        for column, rule in section.get("columns", {}).items():
            merged["columns"].setdefault(column, {}).update(rule)
    return merged


def make_data(rows: int, folder: Path, bad: bool) -> Path:
    """Write the benchmark table as Parquet; `bad` puts failing values in 0.1% of the rows for each rule."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    ids = rng.permutation(rows).astype("int64")
    income = rng.gamma(2.0, 20_000.0, rows)
    income[rng.random(rows) < 0.01] = np.nan
    score = rng.random(rows)
    country = pc.take(pa.array(ALLOWED), pa.array(rng.integers(0, len(ALLOWED), rows)))
    users = pa.array(rng.integers(0, 10**9, rows)).cast(pa.string())
    domains = pc.take(pa.array(["@example.com", "@example.org"]), pa.array(rng.integers(0, 2, rows)))
    email = pc.binary_join_element_wise(pa.array(np.full(rows, "u")), users, domains, "")
    table = {"id": ids, "age": rng.integers(0, 100, rows), "income": income, "score": score,
             "country": country, "email": email}
    if bad:
        hit = rng.choice(rows, max(rows // 1000, 1), replace=False)
        table["id"][hit] = 0
        table["age"][hit] = -1
        table["score"][hit] = np.nan
        mask = np.zeros(rows, dtype=bool)
        mask[hit] = True
        table["country"] = pc.if_else(pa.array(mask), pa.scalar("XX"), country)
        table["email"] = pc.if_else(pa.array(mask), pa.scalar("not an email"), email)
    path = folder / f"data-{'bad' if bad else 'good'}.parquet"
    pq.write_table(pa.table(table), path)
    return path


def pandera_schema(rules: dict[str, Any]) -> Any:
    """The pandera schema equivalent to mlform `rules` (nulls allowed unless a rule forbids them)."""
    import pandera.pandas as pa

    dtypes = {"id": "int64", "age": "int64", "income": "float64", "score": "float64", "country": None, "email": None}
    columns = {}
    for name, rule in rules.get("columns", {}).items():
        checks = []
        if "min" in rule:
            checks.append(pa.Check.ge(rule["min"]))
        if "max" in rule:
            checks.append(pa.Check.le(rule["max"]))
        if "allowed" in rule:
            checks.append(pa.Check.isin(rule["allowed"]))
        if "regex" in rule:
            checks.append(pa.Check.str_matches(f"^(?:{rule['regex']})$"))
        if "max_null_fraction" in rule:
            limit = rule["max_null_fraction"]
            checks.append(pa.Check(lambda s, limit=limit: s.isna().mean() <= limit, ignore_na=False,
                                   name="max_null_fraction"))
        columns[name] = pa.Column(dtypes[name], checks, nullable=rule.get("nullable", True),
                                  unique=rule.get("unique", False))
    table_checks = []
    if "row_count" in rules.get("table", {}):
        low, high = rules["table"]["row_count"]["min"], rules["table"]["row_count"]["max"]
        table_checks.append(pa.Check(lambda df: low <= len(df) <= high, name="row_count"))
    return pa.DataFrameSchema(columns, checks=table_checks)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def worker(tool: str, config: str, data: Path) -> dict[str, Any]:
    """One measurement in this fresh process: the first validation call's time, peak extra memory, failures."""
    import pandas as pd

    rules = all_rules() if config == "all" else RULES[config]
    frame = pd.read_parquet(data)
    if tool == "mlform":
        from mlform.runtime.steps.validation import validate_frame
        from mlform.specs.model.data import Validation

        validation = Validation.model_validate(rules)

        def call() -> int:
            return len(validate_frame(frame, validation).failures)
    else:
        import pandera.errors

        schema = pandera_schema(rules)

        def call() -> int:
            try:
                schema.validate(frame, lazy=True)
            except pandera.errors.SchemaErrors as exc:
                return len({(str(c), str(k)) for c, k in zip(exc.failure_cases["column"], exc.failure_cases["check"],
                                                                 strict=True)})
            return 0
    import pyarrow

    pyarrow.default_memory_pool().release_unused()  # else the pool may hand back memory freed earlier mid-call
    Path("/proc/self/clear_refs").write_text("5")
    before = _status("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    failures = call()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "extra_mb": (_status("VmHWM") - before) / 2**20, "failures": failures}


def ensure_venv() -> Path:
    """The pandera venv, created on first use with the same pandas, numpy and pyarrow as mlform's."""
    python = VENV / "bin" / "python"
    if not python.exists():
        import numpy
        import pandas
        import pyarrow

        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pandera[pandas]", f"pandas=={pandas.__version__}",
                        f"numpy=={numpy.__version__}", f"pyarrow=={pyarrow.__version__}"], check=True)
    return python


def measure(python: Path, tool: str, config: str, data: Path, repeats: int) -> dict[str, Any]:
    """The median time and memory of `repeats` worker processes."""
    runs = []
    for _ in range(repeats):
        done = subprocess.run([str(python), __file__, "--worker", tool, config, str(data)], capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"seconds": statistics.median(r["seconds"] for r in runs), "cpu": statistics.median(r["cpu"] for r in runs),
            "extra_mb": statistics.median(r["extra_mb"] for r in runs), "failures": runs[0]["failures"]}


def _versions(python: Path) -> str:
    code = ("import pandera, pandas, numpy, pyarrow; "
            "print(pandera.__version__, pandas.__version__, numpy.__version__, pyarrow.__version__)")
    pandera_version, *peer = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                                            check=True).stdout.split()
    import numpy
    import pandas
    import pyarrow

    ours = [pandas.__version__, numpy.__version__, pyarrow.__version__]
    differ = ", ".join(f"{name} {theirs}" for name, mine, theirs in zip(("pandas", "numpy", "pyarrow"), ours, peer,
                                                                         strict=True) if mine != theirs)
    return (f"python {platform.python_version()}, pandas {ours[0]}, numpy {ours[1]}, pyarrow {ours[2]}, "
            f"pandera {pandera_version}" + (f" (its venv differs: {differ})" if differ else ""))


def machine(started: str | None = None) -> str:
    """CPU model, cores, memory, OS, and the load average when the measurements began (if given) and ended."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) / 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    load = load_average()
    return (f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, {platform.system()} {platform.release()}; "
            f"load average {f'{started} at the start, {load} at the end' if started else load}")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    """Generate the data, measure every rule type with both tools, write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per cell; the median is kept")
    parser.add_argument("--worker", nargs=3, metavar=("TOOL", "CONFIG", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], Path(args.worker[2]))))
        return
    python = ensure_venv()
    started = load_average()
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlform-bench-") as tmp:
        good, bad = make_data(args.rows, Path(tmp), False), make_data(args.rows, Path(tmp), True)
        for config, data in [*((c, good) for c in RULES), ("all", good), ("all", bad)]:
            ours = measure(Path(sys.executable), "mlform", config, data, args.repeats)
            theirs = measure(python, "pandera", config, data, args.repeats)
            label = f"{config} ({'failing' if data == bad else 'passing'} data)"
            ratio = theirs["seconds"] / ours["seconds"]
            cpu_ratio = theirs["cpu"] / ours["cpu"] if ours["cpu"] else float("inf")
            rows.append(f"| {label} | {ours['seconds']:.3f} | {theirs['seconds']:.3f} | {ratio:.1f}x | "
                        f"{ours['cpu']:.3f} | {theirs['cpu']:.3f} | {cpu_ratio:.1f}x | "
                        f"{ours['extra_mb']:.0f} | {theirs['extra_mb']:.0f} | {ours['failures']} | "
                        f"{theirs['failures']} |")
            print(rows[-1], flush=True)
    text = "\n".join([
        "## Validation: mlform vs pandera `validate(lazy=True)`", "",
        f"- rows: {args.rows:,}; 10 rules (1 row count, 4 ranges, 2 not-null, allowed values, regex, unique id, "
        f"null fraction); each cell is the median of {args.repeats} fresh processes, each timing its first "
        "validation call after loading the data",
        f"- machine: {machine(started)}", f"- versions: {_versions(python)}",
        f"- goal: >= {GOAL:.0f}x faster than pandera on all rules, never slower per rule type, less extra memory", "",
        "| rules | mlform s | pandera s | speed-up | mlform CPU s | pandera CPU s | CPU ratio | mlform extra MiB "
        "| pandera extra MiB | mlform failing rules | pandera failing checks |",
        "|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        "`failing data` puts bad values in 0.1% of the rows for every rule but row count and null fraction. "
        "Peak extra memory is the peak RSS during the call minus the RSS before it. CPU seconds add up every "
        "thread (mlform checks allowed values of large columns in one thread per core, and regexes whose shape "
        "its numpy matcher does not cover), so the CPU ratio is the work saved and holds even when other "
        "processes load the machine. Arrow's memory pool returns the memory it holds unused before the call: it "
        "hands it back lazily, and doing so during the call would hide part of the call's own peak.", ""])
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text)
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
