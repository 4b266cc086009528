"""Benchmark: what the evaluation review (baseline, slices, fairness, staleness, features) costs on the fraud example.

Two private copies of examples/fraud-detection, environments left out (prod reads a warehouse): `plain`, the base
spec as it is, and `review`, the base spec with the `evaluation` blocks its prod overlay turns on. Each round, in
turn, removes the copy's state and times `mlform apply --yes` as a fresh process (a full first apply: ingest,
validate, split, train, evaluate, register, monitor and every artifact), then reads the `train` and `evaluate` step
seconds from the tracked run. Medians over the rounds, the variants interleaved.

Usage: python benchmarks/bench_review.py [--rounds N]   (writes benchmarks/results/review.md)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_validation import load_average, machine

HERE = Path(__file__).resolve().parent
FRAUD = HERE.parent / "examples" / "fraud-detection"
RESULT = HERE / "results" / "review.md"
GOAL = 2.0  # apply with the review at most this many times the apply without it
MLFORM = str(Path(sys.executable).with_name("mlform"))

__all__ = ["main"]


def _copy(root: Path, name: str, review: bool) -> Path:
    """A copy of the fraud example: the base spec, with the prod overlay's review blocks when `review`."""
    target = root / name
    shutil.copytree(FRAUD, target, ignore=shutil.ignore_patterns(".mlform", "__pycache__", "deploy"))
    spec = target / "mlform.yaml"
    doc = yaml.safe_load(spec.read_text())
    if review:
        doc["evaluation"].update(doc["environments"]["prod"]["evaluation"])
    del doc["environments"]
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


def _round(folder: Path) -> dict[str, float]:
    """One first apply from no state: its wall seconds and the train and evaluate step seconds."""
    shutil.rmtree(folder / ".mlform", ignore_errors=True)
    started = time.perf_counter()
    argv = [MLFORM, "apply", str(folder), "--yes", "--artifacts-dir", str(folder / "build")]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mlform apply {folder} failed:\n{done.stdout}\n{done.stderr}")
    listed = subprocess.run([MLFORM, "runs", "list", str(folder), "--format", "json"], capture_output=True,
                            text=True, check=True)
    run_id = json.loads(listed.stdout)[0]["id"]
    shown = subprocess.run([MLFORM, "runs", "show", str(folder), run_id, "--format", "json"], capture_output=True,
                           text=True, check=True)
    steps = {s["step"]: s["seconds"] for s in json.loads(shown.stdout)["steps"]}
    return {"apply": wall, "train": steps["train"], "evaluate": steps["evaluate"]}


def _row(name: str, cells: list[dict[str, float]], reference: dict[str, float]) -> tuple[str, dict[str, float]]:
    med = {key: statistics.median(c[key] for c in cells) for key in ("apply", "train", "evaluate")}
    spread = f"{min(c['apply'] for c in cells):.2f}-{max(c['apply'] for c in cells):.2f}"
    ratio = med["apply"] / reference["apply"] if reference else 1.0
    return (f"| {name} | {len(cells)} | {med['apply']:.2f} | {spread} | {ratio:.2f}x | {med['train']:.2f} | "
            f"{med['evaluate']:.2f} |"), med


def main() -> None:
    """Measure both variants, interleaved, and write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    started = load_average()
    with tempfile.TemporaryDirectory(prefix="mlform-bench-review-") as tmp:
        folders = {"plain": _copy(Path(tmp), "plain", False), "review": _copy(Path(tmp), "review", True)}
        for folder in folders.values():
            _round(folder)  # warm-up: caches and compiled bytecode
        cells: dict[str, list[dict[str, float]]] = {name: [] for name in folders}
        for _ in range(args.rounds):
            for name, folder in folders.items():
                cells[name].append(_round(folder))
    plain_line, plain = _row("without review (`plain`)", cells["plain"], {})
    review_line, review = _row("with review (`review`)", cells["review"], plain)
    ratio = review["apply"] / plain["apply"]
    added = review["evaluate"] - plain["evaluate"]
    verdict = "met" if ratio <= GOAL else "**NOT met**"
    text = [
        "## The evaluation review on the fraud example (bench_review)", "",
        f"Goal: a first `mlform apply` with the review at most {GOAL:g}x the apply without it: {verdict} "
        f"({ratio:.2f}x).", "",
        "Two copies of examples/fraud-detection (6,000 rows, LogisticRegression): the base spec, and the base spec "
        "with the `evaluation` blocks of its prod overlay (a baseline on two metrics, slices by country and by a "
        "filter, fairness by country, staleness over 4 windows, permutation importance with 3 repeats and a cost). "
        "Each round removes the state and times `mlform apply --yes` as a fresh process (imports included); step "
        "seconds come from the tracked run. Medians over the rounds, the copies interleaved, after one warm-up "
        "apply each.", "",
        "| spec | rounds | apply s (median) | apply range s | vs plain | train step s | evaluate step s |",
        "|---|---|---|---|---|---|---|",
        plain_line, review_line, "",
        f"The review adds {added:.2f} s to the evaluate step, {added / plain['train']:.1f}x the train step "
        f"({plain['train']:.2f} s): one more fit for `staleness` (on a quarter of the rows), the dummy baseline, and "
        "one prediction per feature for the importances (slices and groups reuse the test rows' predictions).", "",
        f"Machine: {machine(started)}.",
    ]
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
