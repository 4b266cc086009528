"""The steps a resolved spec implies and their fingerprints."""
