"""Speed and memory figures (not tests): `python -m benchmarks` runs every `bench_*.py` here."""
