"""Benchmarks of the bridge against the Cat's native endpoints (a tool, not a test)."""
