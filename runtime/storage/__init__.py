"""Where runtime state and step outputs live on disk."""
