"""The world's people and devices, made from its plan (``world.py``): a :class:`Person` per
patient, and a device per device spec — BLE devices with their clocks (and clock faults),
MQTT-native devices with the vendor payload shape of their kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway_firmware_sim.devices.base import BleDevice, DeviceClock
from gateway_firmware_sim.devices.cgm import ContinuousGlucoseMonitor
from gateway_firmware_sim.devices.cuff import BloodPressureCuff
from gateway_firmware_sim.devices.glucose_meter import GlucoseMeter
from gateway_firmware_sim.devices.hr_strap import HeartRateStrap
from gateway_firmware_sim.devices.native import (
    AcmeCuff,
    CanonicalCgm,
    CanonicalCuff,
    CanonicalOximeter,
    CanonicalScale,
    GlucoCloudMeter,
    NativeDevice,
    NimbusScale,
)
from gateway_firmware_sim.devices.oximeter import PulseOximeter
from gateway_firmware_sim.devices.scale import WeightScale
from gateway_firmware_sim.devices.thermometer import Thermometer
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.physiology.glucose import CgmSensor
from gateway_firmware_sim.physiology.person import Person
from gateway_firmware_sim.timebase import Zone
from gateway_firmware_sim.world import DeviceSpec, World

BLE_DEVICES: dict[str, type[BleDevice]] = {
    "cgm": ContinuousGlucoseMonitor,
    "glucose-meter": GlucoseMeter,
    "bp-cuff": BloodPressureCuff,
    "scale": WeightScale,
    "thermometer": Thermometer,
    "oximeter": PulseOximeter,
    "hr-strap": HeartRateStrap,
}
NATIVE_DEVICES: dict[str, type[NativeDevice]] = {
    "canonical-cgm": CanonicalCgm,
    "canonical-bp": CanonicalCuff,
    "canonical-scale": CanonicalScale,
    "canonical-oximeter": CanonicalOximeter,
    "acme-bp": AcmeCuff,
    "glucocloud": GlucoCloudMeter,
    "nimbus-scale": NimbusScale,
}


@dataclass(slots=True)
class Population:
    """Everyone and everything that measures, by id."""

    people: dict[str, Person] = field(default_factory=dict)
    ble: dict[str, BleDevice] = field(default_factory=dict)
    native: dict[str, NativeDevice] = field(default_factory=dict)

    @classmethod
    def of(cls, world: World, seed: int) -> Population:
        population = cls()
        for patient in world.patients:
            population.people[patient.patient_id] = Person.create(
                seed, patient.patient_id, patient.zone, patient.conditions, patient.planned
            )
        zones = {gateway.gateway_id: gateway.zone for gateway in world.gateways}
        for spec in world.devices:
            person = population.people[spec.patient_id]
            if spec.ble:
                zone = zones.get(spec.gateway_id or "", person.zone)
                population.ble[spec.device_id] = _ble_device(spec, person, zone, world.start, seed)
            else:
                native = NATIVE_DEVICES[spec.kind](spec.device_id, person, world.start)
                population.native[spec.device_id] = native
        return population

    def device(self, spec: DeviceSpec) -> BleDevice | NativeDevice:
        return self.ble[spec.device_id] if spec.ble else self.native[spec.device_id]

    def cgm_sensors(self, world: World) -> list[CgmSensor]:
        """The sensors of the world's CGMs (a sensor expires between simulation steps)."""
        return [
            self.people[spec.patient_id].cgm_sensor for spec in world.devices if spec.kind == "cgm"
        ]

    def readings_delivered(self) -> int:
        devices: list[BleDevice | NativeDevice] = [*self.ble.values(), *self.native.values()]
        return sum(device.stats.readings_delivered for device in devices)

    def readings_lost(self) -> int:
        """Readings BLE devices measured that no gateway received."""
        return sum(device.stats.readings_lost for device in self.ble.values())


def _ble_device(spec: DeviceSpec, person: Person, zone: Zone, start: float, seed: int) -> BleDevice:
    fault = spec.clock
    rng = generator(seed, spec.device_id, "clock")
    clock = DeviceClock(
        zone,
        error_s=fault.error_s or float(rng.uniform(-30, 30)),
        drift_ppm=fault.drift_ppm or float(rng.uniform(-20, 20)),
        set_at=start,
        settable=fault.settable,
    )
    if fault.reset_to_year is not None:
        clock.reset_to(start, datetime(fault.reset_to_year, 1, 1))
    kind = BLE_DEVICES[spec.kind]
    if kind is GlucoseMeter:
        return GlucoseMeter(
            spec.device_id, spec.address, person, clock, start, first_seq=spec.first_seq
        )
    return kind(spec.device_id, spec.address, person, clock, start)
