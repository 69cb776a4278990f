"""A blood glucose meter with the Glucose Service: stored records read through the RACP.

The wearer tests according to their diabetes (type 1: fasting, two hours after lunch, before
dinner and at bedtime; type 2: fasting and one more test a day; otherwise a morning check).
Each test is a record with its sequence number (the meter's own counter), its base time (the
meter's local clock) and a Glucose Measurement Context with the meal, the tester, the
carbohydrates and — type 1 — the rapid-acting insulin dose.

The meter sends nothing by itself: a collector writes a Record Access Control Point request
(for instance "report records with sequence number >= n"); the meter answers with a Glucose
Measurement (0x2A18) and Glucose Measurement Context (0x2A34) notification per record, then
indicates the RACP response. It keeps its last 500 records.
"""

from __future__ import annotations

from decimal import Decimal

from device_profiles import uuids
from device_profiles.glucose import (
    CarbohydrateId,
    GlucoseContext,
    GlucoseRecord,
    GlucoseStatus,
    GlucoseTester,
    GlucoseUnit,
    Health,
    Meal,
    MedicationId,
    MedicationUnit,
    SampleLocation,
    SampleType,
    encode_glucose_context,
    encode_glucose_measurement,
)
from device_profiles.racp import RacpOpCode
from gateway_firmware_sim.devices import racp_server
from gateway_firmware_sim.devices.base import (
    SPACING_S,
    BleDevice,
    DeviceClock,
    Notification,
    StoredRecord,
    readings_in,
    whole_seconds,
)
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.physiology.glucose import GlucoseScenario, meter_reading
from gateway_firmware_sim.physiology.person import Person
from gateway_firmware_sim.timebase import HOUR, MINUTE, day_start, local_days

_TYPE_1 = (GlucoseScenario.T1D, GlucoseScenario.T1D_HYPO_PRONE)
_TYPE_2 = (GlucoseScenario.T2D_CONTROLLED, GlucoseScenario.T2D_UNCONTROLLED)
_CARB_IDS = {
    "breakfast": CarbohydrateId.BREAKFAST,
    "lunch": CarbohydrateId.LUNCH,
    "snack": CarbohydrateId.SNACK,
    "dinner": CarbohydrateId.DINNER,
}


def test_plan(person: Person, day: int) -> list[tuple[float, Meal, str | None, float]]:
    """The tests of one local day: (time, meal context, meal kind, carbs grams)."""
    rng = generator(person.seed, person.patient_id, "meter-tests", day)
    meals = {meal.kind: meal for meal in person.glucose.meals(day)}
    midnight = day_start(day, person.zone)
    breakfast = meals.get("breakfast")
    fasting = breakfast.time - 10 * MINUTE if breakfast else midnight + 7.5 * HOUR
    plan: list[tuple[float, Meal, str | None, float]] = [(fasting, Meal.FASTING, None, 0.0)]
    lunch, dinner = meals.get("lunch"), meals.get("dinner")
    post_lunch = (
        (lunch.time + 2 * HOUR, Meal.POSTPRANDIAL, "lunch", lunch.carbs_g) if lunch else None
    )
    pre_dinner = (
        (dinner.time - 10 * MINUTE, Meal.PREPRANDIAL, "dinner", dinner.carbs_g) if dinner else None
    )
    bedtime = (midnight + rng.uniform(22.0, 23.0) * HOUR, Meal.BEDTIME, None, 0.0)
    scenario = person.conditions.glucose
    if scenario in _TYPE_1:
        plan += [p for p in (post_lunch, pre_dinner, bedtime) if p]
    elif scenario in _TYPE_2:
        extra = post_lunch if day % 2 == 0 else pre_dinner
        plan += [extra] if extra else []
    taken = rng.random(len(plan)) < 0.9
    return [test for test, kept in zip(plan, taken, strict=True) if kept]


class GlucoseMeter(BleDevice):
    profile_id = "generic-ble-glucose-meter"
    kind = "glucose-meter"
    capacity = 500

    def __init__(
        self,
        device_id: str,
        address: str,
        wearer: Person,
        clock: DeviceClock,
        start: float,
        *,
        first_seq: int = 1,
    ) -> None:
        super().__init__(device_id, address, wearer, clock, start)
        self.next_seq = first_seq

    def _measure(self, t0: float, t1: float) -> list[StoredRecord]:
        person = self.wearer
        out = []
        for day in local_days(t0, t1, person.zone):
            for when, meal, meal_kind, carbs in test_plan(person, day):
                if not t0 <= when < t1:
                    continue
                when = whole_seconds(when)
                value = meter_reading(person.seed, self.device_id, person.glucose, when)
                out.append(self._record(when, value, meal, meal_kind, carbs))
        return sorted(out, key=lambda r: r.time)

    def _record(
        self, when: float, value: float, meal: Meal, meal_kind: str | None, carbs: float
    ) -> StoredRecord:
        seq = self.next_seq
        self.next_seq = (self.next_seq + 1) % 0x10000
        measurement = GlucoseRecord(
            sequence=seq,
            base_time=self.clock.gatt(when),
            concentration=Decimal(int(value)),
            unit=GlucoseUnit.MG_DL,
            sample_type=SampleType.CAPILLARY_WHOLE_BLOOD,
            location=SampleLocation.FINGER,
            status=GlucoseStatus(0),
            context_follows=True,
        )
        insulin = None
        if meal is Meal.PREPRANDIAL and self.wearer.conditions.glucose in _TYPE_1:
            insulin = Decimal(f"{max(1, round(carbs / 10))}E-5")  # units of U-100: 10 uL each
        context = GlucoseContext(
            sequence=seq,
            carbohydrate_id=_CARB_IDS[meal_kind] if meal_kind else None,
            carbohydrate_grams=Decimal(int(carbs)) if meal_kind else None,
            meal=meal,
            tester=GlucoseTester.SELF,
            health=Health.NO_ISSUES,
            medication_id=MedicationId.RAPID_ACTING_INSULIN if insulin else None,
            medication=insulin,
            medication_unit=MedicationUnit.LITRE,
        )
        data = encode_glucose_measurement(measurement)
        values = (
            (uuids.GLUCOSE_MEASUREMENT, data),
            (uuids.GLUCOSE_MEASUREMENT_CONTEXT, encode_glucose_context(context)),
        )
        return StoredRecord(when, values, readings_in(uuids.GLUCOSE_MEASUREMENT, data), seq, seq)

    def drain(self, listening_from: float | None, now: float) -> list[Notification]:
        return []  # records only leave through the RACP

    def has_records_after(self, seq: int | None) -> bool:
        """Whether the meter would advertise: it holds records newer than ``seq``."""
        return any(seq is None or r.key > seq for r in self.memory)

    def write(self, uuid: int, data: bytes, now: float) -> list[Notification]:
        if uuid != uuids.RECORD_ACCESS_CONTROL_POINT:
            return super().write(uuid, data, now)
        times = {id(r): self.clock.gatt(r.time) for r in self.memory}
        outcome = racp_server.handle(data, list(self.memory), user_facing_times=times)
        out: list[Notification] = []
        when = now
        if outcome.opcode is RacpOpCode.DELETE_STORED_RECORDS:
            chosen = {id(r) for r in outcome.records}
            for record in [r for r in self.memory if id(r) in chosen]:
                self._forget(record)
                self.memory.remove(record)
        else:
            for record in outcome.records:
                out += self._notify(record, when)
                when += SPACING_S * len(record.values)
                self._transmitted(record)
        out.append(Notification(uuids.RECORD_ACCESS_CONTROL_POINT, outcome.response, when))
        return out
