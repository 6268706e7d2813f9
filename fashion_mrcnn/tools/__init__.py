"""Developer tools (CI checks)."""
