"""Tests; a package so that shared fakes import as `tests.fake_slack` (benchmarks use them too)."""
