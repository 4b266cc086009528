"""`mlform ui`: a local, read-only web UI over runs, models, plans, drift reports and the audit log."""

__all__ = ["PROBE_PATH"]

PROBE_PATH = "/api"  # the list of JSON twins: static, so a probe costs no state read
