"""The hub's pure core: values in, values out.

Nothing in this package does IO, reads a clock, sleeps, logs, or imports an adapter (paho,
bleak, SQLAlchemy, httpx, FastAPI) or ``hub.config``: callers pass time, settings and data in
as arguments. ``tests/unit/test_architecture.py`` enforces the rule on every module here.
"""
