"""mlform specs: load, validate and resolve `mlform/v1` pipeline specs."""
