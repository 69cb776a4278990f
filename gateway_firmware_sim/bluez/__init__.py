"""A simulated BlueZ: the parts of ``org.bluez`` that bleak's BlueZ backend uses, served on a
private D-Bus, in front of the simulated health devices of ``gateway_firmware_sim.devices``
— so unmodified bleak (and bleak-retry-connector) talk to them as to a real Linux adapter.

Usage::

    async with simulated_bluez([meter, cuff], clock=clock) as bluez:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bluez.bus_address
        bluez.faults(cuff.address).link_loss_after = 3
        ...  # BleakScanner, BleakClient

Rules of the package:

* Behaviour follows bluetoothd (BlueZ ``src/``) and its D-Bus API documents (``doc/org.bluez.*
  .rst``): object paths, property presence, signal order, error names and texts. Each module
  says which part it implements; what is not implemented is listed there and in
  docs/simulator.md ("Simulated BlueZ").
* Two clocks: devices live in simulated time from an injected ``clock`` (UTC epoch seconds,
  default the real clock) and only see it; real time paces the radio tick and fault delays.
* The event loop never runs device model code (one worker thread does, a call at a time) and
  never blocks; every background task is owned and ended on stop.
* Everything a client sends is checked (types, ranges, lengths) and refused with the error
  bluetoothd would send; nothing a client sends can stop the service.
* Imports: ``device_profiles``, ``gateway_firmware_sim``, dbus-fast. Never ``hub``.
"""

from gateway_firmware_sim.bluez.errors import DisconnectReason, LeConnectError
from gateway_firmware_sim.bluez.faults import Faults
from gateway_firmware_sim.bluez.peripheral import DeviceInformation, Peripheral, Radio
from gateway_firmware_sim.bluez.runner import simulated_bluez, simulated_bluez_thread
from gateway_firmware_sim.bluez.service import SimulatedBluez

__all__ = [
    "DeviceInformation",
    "DisconnectReason",
    "Faults",
    "LeConnectError",
    "Peripheral",
    "Radio",
    "SimulatedBluez",
    "simulated_bluez",
    "simulated_bluez_thread",
]
