"""``hub ble-gateway``: the gateway at a patient's home, composed from its adapters.

* :mod:`~hub.services.ble_gateway.config` — its configuration (a TOML file);
* :mod:`~hub.services.ble_gateway.journal` — what device sessions capture, into the outbox,
  and what the gateway knows of each device (its status);
* :mod:`~hub.services.ble_gateway.uplink` — the outbox to the hub: frames messages, acks,
  the retained status;
* :mod:`~hub.services.ble_gateway.gateway` — all of it running in one event loop.

docs/ble-gateway.md describes the product.
"""
