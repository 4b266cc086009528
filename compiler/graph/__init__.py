"""The step graph of a resolved spec and its views."""
