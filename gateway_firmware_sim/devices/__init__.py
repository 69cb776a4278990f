"""Simulated devices: BLE GATT servers (bytes from the ``device_profiles`` encoders) and
MQTT-native devices (the hub's canonical JSON, or a catalog vendor profile's JSON)."""
