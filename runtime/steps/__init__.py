"""What each step kind does: ingest, validate, split, train, evaluate and metrics."""
