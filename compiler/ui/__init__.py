"""`mlform ui`: a local, read-only web UI over runs, models, plans, drift reports and the audit log."""
