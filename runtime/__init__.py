"""mlform runtime."""
