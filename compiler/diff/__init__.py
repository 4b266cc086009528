"""Compare the artifacts two git refs compile to, by meaning."""
