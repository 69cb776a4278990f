"""The simulated world: physiology, devices, gateway firmware and the fleet that drives them.

A simulated device is real code of this project that speaks the real wire contract to a real
broker; nothing here is a mock.
"""
