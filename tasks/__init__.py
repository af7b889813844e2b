"""Thin Prefect tasks over the ferry core: open clients, make one call, return ferry's models."""
