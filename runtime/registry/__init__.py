"""The local model registry and promotion."""
