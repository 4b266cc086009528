"""Reading specs: YAML with positions, discovery, environment overlays and round-trip edits."""
