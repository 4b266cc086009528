"""Subcommands of the `mlform` CLI, one module each."""
