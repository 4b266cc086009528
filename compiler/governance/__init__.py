"""Governance: the audit log of applies and model cards."""
