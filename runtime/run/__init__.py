"""Run a spec's steps: the executor, step context, reasons to run, progress and fast path."""
