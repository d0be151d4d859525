"""Repositories: one module per domain, each taking the session of one unit of work."""
