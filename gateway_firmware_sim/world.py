"""The simulated world, planned from a seed (pure): patients, their kits, gateways, faults.

:func:`build_world` decides everything that does not depend on the network: who the patients
are (conditions drawn from a documented mix), which devices each uses (the kit follows the
conditions), which gateway hears them, and when each requested fault happens. The same seed,
counts, scenarios and window give the same world.

Patient 1 (``pat-demo-0001``) is the demonstration patient of ``hub up``: four MQTT-native
devices speaking the canonical JSON (``sim-cgm-0001``, ``sim-bp-0001``, ``sim-scale-0001``,
``sim-oxi-0001``), so readings show within seconds of start-up. Every other patient gets a
kit from their conditions: BLE devices behind a gateway (``gw-NNNN``), and for some, a
vendor-JSON device of the catalog's example profiles.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from gateway_firmware_sim.physiology._episodes import Episode
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.physiology.glucose import GlucoseScenario
from gateway_firmware_sim.physiology.person import Conditions, PlannedEpisodes
from gateway_firmware_sim.physiology.pressure import BpVariant
from gateway_firmware_sim.physiology.temperature import draw_fever
from gateway_firmware_sim.physiology.weight import FluidEpisode
from gateway_firmware_sim.timebase import DAY, HOUR, iso_utc

T = TypeVar("T")


class Scenario(enum.StrEnum):
    """Fault switches (``hub sim --scenario``); docs/simulator.md says what each does."""

    CLOCK_YEARS = "clock-years"
    CLOCK_DRIFT = "clock-drift"
    DUPLICATES = "duplicates"
    MALFORMED = "malformed"
    OFFLINE_DAYS = "offline-days"
    TWO_GATEWAYS = "two-gateways"
    POWER_LOSS = "power-loss"
    DEVICE_MOVE = "device-move"


ALL_SCENARIOS = frozenset(Scenario)

# IANA zones of the gateways' homes: mainland France, then overseas.
ZONES: tuple[tuple[float, str], ...] = (
    (0.80, "Europe/Paris"),
    (0.05, "Indian/Reunion"),
    (0.05, "America/Guadeloupe"),  # Guadeloupe, Martinique
    (0.04, "America/Cayenne"),  # Guyane
    (0.03, "Indian/Mayotte"),
    (0.03, "Pacific/Noumea"),  # Nouvelle-Calédonie
)
DEMO_ZONE = "Europe/Paris"  # patient 1's

BLE_KINDS = ("cgm", "glucose-meter", "bp-cuff", "scale", "thermometer", "oximeter", "hr-strap")
# Devices with no time of their own (their readings take the gateway's time): never given a
# second gateway, which would store their readings twice (docs/wire.md).
NO_DEVICE_TIME = frozenset({"oximeter", "hr-strap"})


@dataclass(frozen=True, slots=True)
class ClockFault:
    error_s: float = 0.0
    drift_ppm: float = 0.0
    settable: bool = True
    reset_to_year: int | None = None  # the clock restarted at Jan 1st of that year


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    device_id: str
    kind: str  # a BLE kind, or a native kind (canonical-cgm, acme-bp...)
    patient_id: str
    ble: bool
    address: str = ""
    gateway_id: str | None = None
    clock: ClockFault = ClockFault()
    first_seq: int = 1


@dataclass(frozen=True, slots=True)
class PatientSpec:
    patient_id: str
    index: int
    zone: str  # IANA
    conditions: Conditions
    planned: PlannedEpisodes = field(default_factory=PlannedEpisodes)


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    gateway_id: str
    zone: str  # IANA
    patients: tuple[str, ...]
    listens_to: tuple[str, ...] = ()  # devices of another gateway it also hears
    malformed_rate: float = 0.0
    duplicate_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Window:
    """A fault in time: ``target`` is off (or away) over ``[start, end)``."""

    target: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Move:
    device_id: str
    to_patient: str
    to_gateway: str
    at: float


@dataclass(frozen=True, slots=True)
class World:
    seed: int
    start: float
    end: float
    patients: tuple[PatientSpec, ...]
    devices: tuple[DeviceSpec, ...]
    gateways: tuple[GatewaySpec, ...]
    power_losses: tuple[Window, ...] = ()
    offline: tuple[Window, ...] = ()
    moves: tuple[Move, ...] = ()
    scenarios: frozenset[Scenario] = frozenset()
    notes: tuple[str, ...] = field(default=())

    def boundaries(self) -> list[float]:
        """Times at which some gateway or device changes state (steps end there)."""
        times = [w.start for w in self.power_losses + self.offline]
        times += [w.end for w in self.power_losses + self.offline]
        times += [m.at for m in self.moves]
        return sorted(times)


def patient_id(index: int) -> str:
    return f"pat-demo-{index:04d}"


def _pick(rng: np.random.Generator, table: Sequence[tuple[float, T]]) -> T:
    weights = np.array([w for w, _ in table], dtype=np.float64)
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][1]


def draw_conditions(seed: int, index: int) -> Conditions:
    """The documented cohort mix (docs/simulator.md)."""
    if index == 1:
        return Conditions(GlucoseScenario.T2D_CONTROLLED, BpVariant.MORNING_SURGE)
    rng = generator(seed, "cohort", index)
    glucose = GlucoseScenario.NON_DIABETIC
    if rng.random() < 0.55:
        glucose = _pick(
            rng,
            (
                (0.15, GlucoseScenario.T1D),
                (0.15, GlucoseScenario.T1D_HYPO_PRONE),
                (0.42, GlucoseScenario.T2D_CONTROLLED),
                (0.28, GlucoseScenario.T2D_UNCONTROLLED),
            ),
        )
    pressure = BpVariant.NORMOTENSIVE
    if rng.random() < 0.40:
        pressure = _pick(
            rng,
            (
                (0.5, BpVariant.HYPERTENSIVE),
                (0.25, BpVariant.MORNING_SURGE),
                (0.25, BpVariant.WHITE_COAT),
            ),
        )
    flags = rng.random(4)
    conditions = Conditions(
        glucose,
        pressure,
        heart_failure=bool(flags[0] < 0.20),
        copd=bool(flags[1] < 0.12),
        cardiac_rehab=bool(flags[2] < 0.12),
        fever_prone=bool(flags[3] < 0.15),
    )
    if not (
        conditions.diabetic
        or conditions.hypertensive
        or conditions.heart_failure
        or conditions.copd
        or conditions.cardiac_rehab
        or conditions.fever_prone
    ):
        conditions = Conditions(GlucoseScenario.T2D_CONTROLLED, pressure)
    return conditions


def _address(seed: int, device_id: str) -> str:
    rng = generator(seed, device_id, "address")
    tail = ":".join(f"{int(b):02X}" for b in rng.integers(0, 256, 3))
    return f"C0:26:DA:{tail}"


def _kit(seed: int, index: int, conditions: Conditions) -> list[tuple[str, str, bool]]:
    """(device id, kind, BLE?) of a patient's devices."""
    number = f"{index:04d}"
    if index == 1:
        return [
            (f"sim-cgm-{number}", "canonical-cgm", False),
            (f"sim-bp-{number}", "canonical-bp", False),
            (f"sim-scale-{number}", "canonical-scale", False),
            (f"sim-oxi-{number}", "canonical-oximeter", False),
        ]
    rng = generator(seed, "kit", index)
    kit: list[tuple[str, str, bool]] = []
    glucose = conditions.glucose
    if glucose in (GlucoseScenario.T1D, GlucoseScenario.T1D_HYPO_PRONE):
        kit.append((f"ble-cgm-{number}", "cgm", True))
    elif conditions.diabetic:
        choice = rng.random()
        if choice < 0.4:
            kit.append((f"ble-cgm-{number}", "cgm", True))
        elif choice < 0.8:
            kit.append((f"ble-gm-{number}", "glucose-meter", True))
        else:
            kit.append((f"gc-{number}", "glucocloud", False))
    if conditions.hypertensive or conditions.heart_failure:
        if rng.random() < 0.75:
            kit.append((f"ble-bp-{number}", "bp-cuff", True))
        else:
            kit.append((f"acme-bp-{number}", "acme-bp", False))
    if conditions.heart_failure:
        if rng.random() < 0.75:
            kit.append((f"ble-scale-{number}", "scale", True))
        else:
            kit.append((f"nimbus-{number}", "nimbus-scale", False))
    if conditions.copd:
        kit.append((f"ble-oxi-{number}", "oximeter", True))
    if conditions.copd or conditions.fever_prone:
        kit.append((f"ble-therm-{number}", "thermometer", True))
    if conditions.cardiac_rehab:
        kit.append((f"ble-hr-{number}", "hr-strap", True))
    return kit


def _zone(seed: int, key: str) -> str:
    rng = generator(seed, "zone", key)
    return _pick(rng, ZONES)


def build_world(
    *,
    seed: int,
    patients: int,
    gateways: int | None = None,
    scenarios: frozenset[Scenario] = frozenset(),
    start: float,
    end: float,
) -> World:
    """Plan the world for the window ``[start, end)`` of simulated time."""
    conditions = {i: draw_conditions(seed, i) for i in range(1, patients + 1)}
    kits = {i: _kit(seed, i, conditions[i]) for i in range(1, patients + 1)}
    ble_patients = [i for i in kits if any(ble for _, _, ble in kits[i])]
    count = len(ble_patients) if gateways is None else max(0, min(gateways, len(ble_patients)))
    if ble_patients and count == 0:
        count = 1
    gateway_of = {i: f"gw-{(k % count) + 1:04d}" for k, i in enumerate(ble_patients)}
    gateway_ids = sorted(set(gateway_of.values()))
    gateway_zone = {g: _zone(seed, g) for g in gateway_ids}
    zones = {
        i: gateway_zone[gateway_of[i]] if i in gateway_of else _zone(seed, patient_id(i))
        for i in kits
    }
    if 1 in zones:
        zones[1] = DEMO_ZONE
    rng = generator(seed, "scenarios", *sorted(s.value for s in scenarios))
    span = end - start

    devices: list[DeviceSpec] = []
    for i, kit in kits.items():
        for device_id, kind, ble in kit:
            devices.append(
                DeviceSpec(
                    device_id,
                    kind,
                    patient_id(i),
                    ble,
                    _address(seed, device_id) if ble else "",
                    gateway_of.get(i) if ble else None,
                    first_seq=int(generator(seed, device_id, "seq").integers(1, 400)),
                )
            )

    def chosen(candidates: list[int], fraction: float) -> list[int]:
        if not candidates:
            return []
        k = max(1, round(fraction * len(candidates)))
        picked = rng.choice(len(candidates), size=min(k, len(candidates)), replace=False)
        return sorted(candidates[int(j)] for j in picked)

    notes: list[str] = []
    timed = [
        k
        for k, d in enumerate(devices)
        if d.ble and d.kind in ("bp-cuff", "scale", "thermometer", "glucose-meter")
    ]
    if Scenario.CLOCK_YEARS in scenarios:
        for k in chosen(timed, 0.1):
            device = devices[k]
            devices[k] = _with_clock(device, ClockFault(settable=False, reset_to_year=2015))
            notes.append(f"{device.device_id}: clock reset to 2015-01-01, cannot be set")
        timed = [k for k in timed if devices[k].clock == ClockFault()]
    if Scenario.CLOCK_DRIFT in scenarios:
        for k in chosen(timed, 0.1):
            device = devices[k]
            devices[k] = _with_clock(device, ClockFault(error_s=240, drift_ppm=300, settable=False))
            notes.append(f"{device.device_id}: clock 4 min fast, gaining 26 s a day, cannot be set")

    rates = {g: (0.0, 0.0) for g in gateway_ids}
    if Scenario.MALFORMED in scenarios:
        for k in chosen(list(range(len(gateway_ids))), 0.2):
            rates[gateway_ids[k]] = (0.02, rates[gateway_ids[k]][1])
            notes.append(
                f"{gateway_ids[k]}: forwards damaged frames (2 %) and one non-JSON message"
            )
    if Scenario.DUPLICATES in scenarios:
        for k in chosen(list(range(len(gateway_ids))), 0.2):
            rates[gateway_ids[k]] = (rates[gateway_ids[k]][0], 0.05)
            notes.append(f"{gateway_ids[k]}: publishes 5 % of its messages twice")

    power: list[Window] = []
    offline: list[Window] = []
    if Scenario.OFFLINE_DAYS in scenarios:
        for k in chosen(list(range(len(gateway_ids))), 0.1):
            length = min(2.5 * DAY, 0.4 * span)
            begin = start + 0.2 * span + float(rng.uniform(0, 0.1)) * span
            offline.append(Window(gateway_ids[k], begin, begin + length))
            notes.append(f"{gateway_ids[k]}: no internet for {length / HOUR:.0f} h")
    if Scenario.POWER_LOSS in scenarios:
        for k in chosen(list(range(len(gateway_ids))), 0.1):
            length = min(2 * HOUR, 0.1 * span)
            begin = start + float(rng.uniform(0.3, 0.7)) * span
            power.append(Window(gateway_ids[k], begin, begin + length))
            notes.append(f"{gateway_ids[k]}: power cut mid-publish for {length / 60:.0f} min")

    gateway_specs = [
        GatewaySpec(
            g,
            gateway_zone[g],
            tuple(patient_id(i) for i in ble_patients if gateway_of[i] == g),
            malformed_rate=rates[g][0],
            duplicate_rate=rates[g][1],
        )
        for g in gateway_ids
    ]
    if Scenario.TWO_GATEWAYS in scenarios:
        for i in chosen(ble_patients, 0.1):
            heard = tuple(
                d.device_id
                for d in devices
                if d.patient_id == patient_id(i) and d.ble and d.kind not in NO_DEVICE_TIME
            )
            if heard:
                second = f"{gateway_of[i]}-b{i:04d}"
                gateway_specs.append(
                    GatewaySpec(second, gateway_zone[gateway_of[i]], (), listens_to=heard)
                )
                notes.append(f"{second}: also hears {', '.join(heard)}")

    moves: list[Move] = []
    if Scenario.DEVICE_MOVE in scenarios and len(ble_patients) >= 2:
        movable = [
            k
            for k, d in enumerate(devices)
            if d.ble and d.kind in ("bp-cuff", "scale", "thermometer") and d.clock.settable
        ]
        if movable:
            k = chosen(movable, 0.0)[0]
            device = devices[k]
            owner = int(device.patient_id.rsplit("-", 1)[1])
            others = [i for i in ble_patients if i != owner]
            to = others[int(rng.integers(0, len(others)))]
            at = start + 0.5 * span
            moves.append(Move(device.device_id, patient_id(to), gateway_of[to], at))
            notes.append(
                f"{device.device_id}: moves from {device.patient_id} to {patient_id(to)}"
                f" at {iso_utc(at)}"
            )

    patient_specs = [
        PatientSpec(
            patient_id(i),
            i,
            zones[i],
            conditions[i],
            _planned(seed, i, conditions[i], start, end),
        )
        for i in kits
    ]
    return World(
        seed,
        start,
        end,
        tuple(patient_specs),
        tuple(devices),
        tuple(gateway_specs),
        tuple(power),
        tuple(offline),
        tuple(moves),
        frozenset(scenarios),
        tuple(notes),
    )


def _with_clock(device: DeviceSpec, clock: ClockFault) -> DeviceSpec:
    return DeviceSpec(
        device.device_id,
        device.kind,
        device.patient_id,
        device.ble,
        device.address,
        device.gateway_id,
        clock,
        device.first_seq,
    )


def _planned(
    seed: int, index: int, conditions: Conditions, start: float, end: float
) -> PlannedEpisodes:
    """Episodes the run should show: a fluid gain for half the heart-failure patients, a
    fever for a third of the fever-prone (inside the window when it is long enough)."""
    if end - start < 4 * DAY:
        return PlannedEpisodes()
    rng = generator(seed, "planned", index)
    fluid: tuple[FluidEpisode, ...] = ()
    fevers: tuple[Episode, ...] = ()
    if conditions.heart_failure and rng.random() < 0.5:
        at = start + float(rng.uniform(0.5 * DAY, end - start - 3.5 * DAY))
        fluid = (FluidEpisode(at, float(rng.uniform(2.3, 2.8))),)
    if (conditions.fever_prone or conditions.copd) and rng.random() < 0.33:
        at = start + float(rng.uniform(0.5 * DAY, end - start - 2 * DAY))
        fevers = (Episode(at, draw_fever(rng)),)
    return PlannedEpisodes(fluid, fevers)
