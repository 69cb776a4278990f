"""The simulated world: physiology, devices, gateway firmware and the fleet that drives them.

A simulated device is real code of this project that speaks the real wire contract to a real
broker; nothing here is a mock. Layout (docs/simulator.md):

* pure — ``physiology/`` (seeded signals), ``devices/`` (GATT servers and JSON devices),
  ``world`` (who has what, which faults), ``firmware`` (what a gateway does with its devices),
  ``outbox`` (durable, SQLite), ``delivery`` and ``backoff`` (what to send when);
* IO — ``mqtt_link`` (paho, wrapped once), ``uplink`` (outbox + link), ``fleet`` (the loop
  behind ``hub sim``), ``report`` (progress line and summary).

Imports: ``device_profiles``, and from the hub only ``hub.core.wire`` and ``hub.config``.
"""
