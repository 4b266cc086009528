"""The pydantic models of a spec's sections."""
