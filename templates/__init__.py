"""mlform templates."""
