"""The image update cycle: read the deploy repo, ask the registry, decide, and write back."""
