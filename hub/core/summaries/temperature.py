"""Body temperature: maximum and fever episodes.

A reading is febrile at >= 38.0 °C (the usual definition of fever; e.g. HAS 2016, "Prise en
charge de la fièvre chez l'enfant"). Febrile readings less than ``episode_gap_ms`` (24 h)
apart belong to one **fever episode**, whatever was measured between them (an antipyretic
can bring one reading below 38 °C without ending the illness); an episode ends after 24 h
without a febrile reading, the usual "fever-free for 24 hours" criterion of resolution.
Values are taken as measured (no correction for the site: ear, armpit...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hub.core.summaries._series import prepare
from hub.core.summaries._time import MS_PER_HOUR, rfc3339_utc

TEMPERATURE_ALGORITHM_VERSION = "temperature-1.0"
FEVER_CELSIUS = 38.0
EPISODE_GAP_MS = 24 * MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class FeverEpisode:
    start_ms: int  # first febrile reading
    end_ms: int  # last febrile reading
    max_celsius: float
    febrile_readings: int

    def to_json(self) -> dict[str, object]:
        return {
            "start": rfc3339_utc(self.start_ms),
            "end": rfc3339_utc(self.end_ms),
            "max_celsius": self.max_celsius,
            "febrile_readings": self.febrile_readings,
        }


@dataclass(frozen=True, slots=True)
class TemperatureSummary:
    algorithm_version: str
    start_ms: int
    end_ms: int
    readings: int
    max_celsius: float | None
    max_ms: int | None
    febrile_readings: int
    fever_episodes: tuple[FeverEpisode, ...]
    fever_threshold_celsius: float
    episode_gap_ms: int

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm_version": self.algorithm_version,
            "from": rfc3339_utc(self.start_ms),
            "to": rfc3339_utc(self.end_ms),
            "readings": self.readings,
            "max_celsius": self.max_celsius,
            "max_time": None if self.max_ms is None else rfc3339_utc(self.max_ms),
            "febrile_readings": self.febrile_readings,
            "fever_threshold_celsius": self.fever_threshold_celsius,
            "fever_episodes": [e.to_json() for e in self.fever_episodes],
        }


def temperature_summary(
    times_ms: npt.ArrayLike,
    values_celsius: npt.ArrayLike,
    start_ms: int,
    end_ms: int,
    *,
    mask: npt.ArrayLike | None = None,
    fever_celsius: float = FEVER_CELSIUS,
    episode_gap_ms: int = EPISODE_GAP_MS,
) -> TemperatureSummary:
    """Temperatures in ``[start_ms, end_ms)``. The caller has removed readings flagged
    ``time-unknown`` (or passes ``mask``)."""
    series = prepare(times_ms, [values_celsius], start_ms, end_ms, mask)
    times, celsius = series.times_ms, series.columns[0]
    n = series.size
    febrile = np.flatnonzero(celsius >= fever_celsius)
    episodes: list[FeverEpisode] = []
    if febrile.size:
        new = np.concatenate(([True], np.diff(times[febrile]) >= episode_gap_ms))
        firsts = np.flatnonzero(new)
        lasts = np.append(firsts[1:], febrile.size) - 1
        peaks = np.maximum.reduceat(celsius[febrile], firsts)
        for first, last, peak in zip(firsts, lasts, peaks, strict=True):
            episodes.append(
                FeverEpisode(
                    int(times[febrile[first]]),
                    int(times[febrile[last]]),
                    float(peak),
                    int(last - first + 1),
                )
            )
    hottest = int(np.argmax(celsius)) if n else None
    return TemperatureSummary(
        algorithm_version=TEMPERATURE_ALGORITHM_VERSION,
        start_ms=int(start_ms),
        end_ms=int(end_ms),
        readings=n,
        max_celsius=None if hottest is None else float(celsius[hottest]),
        max_ms=None if hottest is None else int(times[hottest]),
        febrile_readings=int(febrile.size),
        fever_episodes=tuple(episodes),
        fever_threshold_celsius=float(fever_celsius),
        episode_gap_ms=int(episode_gap_ms),
    )
