"""Importers of other tools' pipeline definitions into mlform specs."""
