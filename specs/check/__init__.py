"""Checks beyond the schema: semantic checks, located diagnostics and organisation policy."""
