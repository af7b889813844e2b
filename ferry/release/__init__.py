"""Releases with human gates: validation, canary providers, holds and rollback (no Prefect here)."""
