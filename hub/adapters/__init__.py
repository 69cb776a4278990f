"""Adapters: where the hub meets a foreign library, a file or a socket.

Each module wraps one outside thing once — paho-mqtt (``mqtt_bridge``), the time-series store
(``store/``: SQLite, InfluxDB), the relational registry (``registry/``: SQLAlchemy), bearer
tokens (``tokens``: PyJWT, JWKS over HTTP), Prometheus (``metrics``) — and translates its errors
into the hub's own at that one boundary. Foreign types never leave an adapter.

Adapters may import ``hub.core`` and ``hub.config``; never ``hub.services``, ``hub.runtime``,
``api`` or the simulator (``tests/unit/test_architecture.py``).
"""
