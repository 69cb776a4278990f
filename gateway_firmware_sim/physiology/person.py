"""One simulated person: who they are, what they live with, and their physiological signals.

A :class:`Person` is pure data plus the signal models built from it; every model is seeded
by (fleet seed, patient id), so the same seed gives the same people, meals, fevers and blood
pressures, run after run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway_firmware_sim.physiology._episodes import Episode
from gateway_firmware_sim.physiology._random import generator
from gateway_firmware_sim.physiology.glucose import CgmSensor, GlucoseModel, GlucoseScenario
from gateway_firmware_sim.physiology.heart_rate import HeartRateModel
from gateway_firmware_sim.physiology.oximetry import OximetryModel
from gateway_firmware_sim.physiology.pressure import BloodPressureModel, BpVariant
from gateway_firmware_sim.physiology.temperature import TemperatureModel
from gateway_firmware_sim.physiology.weight import FluidEpisode, WeightModel
from gateway_firmware_sim.timebase import Zone


@dataclass(frozen=True, slots=True)
class Conditions:
    """What the person lives with; it decides their signals and their monitoring kit."""

    glucose: GlucoseScenario = GlucoseScenario.NON_DIABETIC
    blood_pressure: BpVariant = BpVariant.NORMOTENSIVE
    heart_failure: bool = False
    copd: bool = False
    cardiac_rehab: bool = False
    fever_prone: bool = False

    @property
    def diabetic(self) -> bool:
        return self.glucose is not GlucoseScenario.NON_DIABETIC

    @property
    def hypertensive(self) -> bool:
        return self.blood_pressure is not BpVariant.NORMOTENSIVE


@dataclass(frozen=True, slots=True)
class PlannedEpisodes:
    """Episodes a scenario wants inside the run (on top of those drawn at random)."""

    fluid: tuple[FluidEpisode, ...] = ()
    fevers: tuple[Episode, ...] = ()


@dataclass(slots=True)
class Person:
    seed: int
    patient_id: str
    zone: Zone  # of the person's home (and gateway): an IANA name, or a UTC offset
    conditions: Conditions
    age: int
    height_m: float
    resting_pulse: float
    planned: PlannedEpisodes = PlannedEpisodes()
    _glucose: GlucoseModel | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        seed: int,
        patient_id: str,
        zone: Zone,
        conditions: Conditions,
        planned: PlannedEpisodes = PlannedEpisodes(),
    ) -> Person:
        rng = generator(seed, patient_id, "person")
        return cls(
            seed,
            patient_id,
            zone,
            conditions,
            int(rng.integers(35, 85)),
            round(float(rng.uniform(1.55, 1.90)), 2),
            float(rng.uniform(58, 80)),
            planned,
        )

    @property
    def glucose(self) -> GlucoseModel:
        # Built once: it caches the day's meals, sessions and hypos it has drawn.
        if self._glucose is None:
            self._glucose = GlucoseModel.create(
                self.seed, self.patient_id, self.conditions.glucose, self.zone
            )
        return self._glucose

    @property
    def cgm_sensor(self) -> CgmSensor:
        return CgmSensor(self.seed, self.patient_id)

    @property
    def pressure(self) -> BloodPressureModel:
        return BloodPressureModel.create(
            self.seed,
            self.patient_id,
            self.conditions.blood_pressure,
            self.zone,
            self.resting_pulse,
        )

    @property
    def weight(self) -> WeightModel:
        return WeightModel.create(
            self.seed,
            self.patient_id,
            self.zone,
            height_m=self.height_m,
            heart_failure=self.conditions.heart_failure,
            planned=self.planned.fluid,
        )

    @property
    def oximetry(self) -> OximetryModel:
        return OximetryModel.create(
            self.seed,
            self.patient_id,
            self.zone,
            copd=self.conditions.copd,
            resting_pulse=self.resting_pulse,
        )

    @property
    def temperature(self) -> TemperatureModel:
        rate = 1 / 25 if self.conditions.copd else 1 / 40 if self.conditions.fever_prone else 0
        return TemperatureModel.create(
            self.seed,
            self.patient_id,
            self.zone,
            fevers_per_day=rate,
            planned=self.planned.fevers,
        )

    @property
    def heart(self) -> HeartRateModel:
        return HeartRateModel.create(
            self.seed,
            self.patient_id,
            self.zone,
            age=self.age,
            resting=self.resting_pulse,
            sessions_per_week=3.0 if self.conditions.cardiac_rehab else 0.0,
        )
