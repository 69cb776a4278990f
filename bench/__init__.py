"""Benchmarks: run apart from the tests (``make bench``); they print ratios, never assert."""
