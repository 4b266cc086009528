"""Run tracking: the embedded SQLite tracker and the MLflow backend."""
