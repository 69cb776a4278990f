"""Services: the hub's use cases, composed from the pure core and the adapters.

``ingest`` turns a batch of raw messages into a durable commit (the transport-independent heart
of ingestion); ``ble_gateway`` is the gateway at a patient's home (``hub ble-gateway``). A
service decides nothing itself — the decisions are ``hub.core``'s — and owns no connection of
its own: adapters are handed to it. Services import ``hub.core``, ``hub.config``
and ``hub.adapters``; never ``hub.runtime``, ``api`` or the simulator.
"""
