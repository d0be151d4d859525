"""Time-driven work: a small wrapper around APScheduler (only runner.py imports it) and the jobs."""
