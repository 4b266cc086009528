"""Scoring a registered model: the HTTP app, its request schema and batch prediction."""
