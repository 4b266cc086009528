"""Run every benchmarks/bench_*.py, then gather benchmarks/results/*.md into benchmarks/RESULTS.md.

Usage: python benchmarks/run.py [NAME ...]    NAME selects bench_NAME.py (default: every benchmark)
       python benchmarks/run.py --gather     only rebuild RESULTS.md from the reports already there
Each benchmark writes benchmarks/results/<name>.md; a failed one is named at the top of RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SUMMARY = HERE / "RESULTS.md"

__all__ = ["benchmarks", "gather", "main"]


def benchmarks(names: Sequence[str]) -> list[Path]:
    """The bench_*.py scripts, all or those named; exit with a message naming an unknown one."""
    found = {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}
    unknown = [name for name in names if name not in found]
    if unknown:
        sys.exit(f"error: no benchmark `{unknown[0]}` (known: {', '.join(found) or 'none'})")
    return [found[name] for name in names] if names else list(found.values())


def gather(failed: Sequence[str]) -> str:
    """RESULTS.md: a header, the failures of this run, then every results/*.md in name order."""
    parts = ["# Benchmark results", "",
             "Made by `make bench` (benchmarks/run.py) from benchmarks/results/*.md; do not edit by hand.", ""]
    if failed:
        parts += [f"**Failed in the last run:** {', '.join(f'`{name}`' for name in failed)} "
                  "(their sections below, if any, are from an earlier run).", ""]
    sections = [path.read_text().strip() for path in sorted(RESULTS.glob("*.md"))]
    return "\n".join(parts) + "\n" + "\n\n".join(sections or ["No results yet."]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks one after another and write RESULTS.md; 1 when any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run, e.g. `cli` for bench_cli.py")
    parser.add_argument("--gather", action="store_true", help="run nothing; only rebuild RESULTS.md")
    args = parser.parse_args(argv)
    failed = []
    for script in [] if args.gather else benchmarks(args.names):
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False).returncode
        print(f"== {script.name}: {'ok' if code == 0 else f'FAILED (exit {code})'} "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        if code != 0:
            failed.append(script.stem)
    from mlform.specs.fsutil import write_atomic

    write_atomic(SUMMARY, gather(failed))
    print(f"wrote {SUMMARY.relative_to(HERE.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
