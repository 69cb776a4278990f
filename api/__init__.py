"""The hub's HTTP API (FastAPI): routes, authentication, problem details."""
