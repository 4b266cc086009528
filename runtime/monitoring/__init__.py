"""Monitoring: drift, live performance and the HTML report."""
