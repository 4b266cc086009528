"""The pydantic models of a spec's sections.

Their modules evaluate annotations where they are written (no `from __future__ import annotations`): pydantic
would otherwise compile and evaluate each annotation's text again at every start-up.
"""
