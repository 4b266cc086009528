"""mlform compiler."""
