"""The gateway's Bluetooth Low Energy side, on bleak and bleak-retry-connector (BlueZ).

* :mod:`~hub.adapters.ble.scanner` — scanning; only allow-listed addresses are kept;
* :mod:`~hub.adapters.ble.link` — one connection (bleak-retry-connector, slots, service
  cache) and its GATT operations;
* :mod:`~hub.adapters.ble.errors` — failures by class, and the backoff of each;
* :mod:`~hub.adapters.ble.session` — what one connection does, per the device's catalog
  profile (``hub.core.gatt_procedure``), including :mod:`~hub.adapters.ble.racp`;
* :mod:`~hub.adapters.ble.worker` — one device: find it, connect, run sessions, back off.

Rules: bleak and dbus types never leave this package; decisions (which request, what a
response means, which characteristic does what) are pure code in ``hub.core``; what a session
captures goes to a :class:`~hub.adapters.ble.journal.DeviceJournal` (the gateway's outbox)
before anything else happens to it; nothing here blocks the event loop.
"""
