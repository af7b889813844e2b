"""Image references, tags, version constraints and update strategies: decisions without I/O."""
