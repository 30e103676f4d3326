"""Real parts for tests and benchmarks: a scripted LLM server and Cat launchers."""
