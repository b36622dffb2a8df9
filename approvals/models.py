"""Configuration models (see approvals/models.py docstring)."""
