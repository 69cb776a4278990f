"""Removing chosen points from InfluxDB without touching their neighbours (pure: a plan out).

InfluxDB deletes by series and time range, not by field, and the two server families differ on
the one tag that tells apart the readings of one point key (``slot``, docs/storage.md):

* InfluxDB 1.x ``DELETE FROM m WHERE <tags> AND time ...`` matches ``"slot" = '1'`` exactly, and
  ``"slot" = ''`` matches slot 0 (no tag) — measured on 1.6.7;
* InfluxDB 2.x ``/api/v2/delete`` matches ``slot="1"`` but *not* an absent tag with ``slot=""``
  (influxdata/influxdb#24106), so slot 0 can only be deleted with every slot of its key.

So the plan never deletes slot 0 alone. At a key and millisecond where some readings go and
others stay, the ones that stay are first compacted into the lowest slots — a survivor above
its place is rewritten into a slot whose reading goes (same key and time: InfluxDB overwrites
that point's fields) — then every slot above the survivors is deleted by its ``slot`` tag (all
are >= 1). Where nothing stays, the whole key goes; consecutive such milliseconds of one series
are one deletion, so moving a month of CGM is a handful of requests, not one per reading.

Crash safety: the rewrites are written before any deletion, so a crash in between leaves a
survivor in two slots of its key, never none. Such a duplicate (same identity twice at one key
and millisecond) is itself removed by the next plan over that key — every copy but the one in
the lowest slot — which is how a re-run converges.

The plan is exact only over what was read: a :class:`Snapshot` holds *every* point of its series
over the spans it read, and a deletion never crosses the edge of a span (a run deletes the
whole key between its first and last millisecond). The store reads the snapshot under its write
lock; writers in other processes are not excluded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.adapters.store.influx_schema import point_line
from hub.core.model import Reading

SeriesKey = tuple[str, str, str, str]  # (measurement, patient, metric, device): a key minus time
Stream = tuple[str, str, str]  # (patient, metric, device): what one read covers, both measurements


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """A stored reading and the slot it occupies at its key."""

    slot: int
    reading: Reading


@dataclass(frozen=True, slots=True)
class Deletion:
    """Delete ``series`` from ``first_ms`` to ``last_ms`` inclusive: one ``slot`` (always >= 1),
    or every slot when ``slot`` is None."""

    series: SeriesKey
    first_ms: int
    last_ms: int
    slot: int | None = None


@dataclass(slots=True)
class Plan:
    rewrites: list[str] = field(default_factory=list)  # lines, written before any deletion
    deletions: list[Deletion] = field(default_factory=list)


@dataclass(slots=True)
class Snapshot:
    """Every point of some streams over the spans read (inclusive ms bounds, disjoint)."""

    spans: dict[Stream, list[tuple[int, int]]] = field(default_factory=dict)
    points: dict[SeriesKey, dict[int, list[StoredPoint]]] = field(default_factory=dict)

    def at(self, series: SeriesKey, t_ms: int) -> list[StoredPoint]:
        """The points of ``series`` at ``t_ms`` (a list to add to); ``t_ms`` must have been read."""
        spans = self.spans.get(series[1:], [])
        if not any(lo <= t_ms <= hi for lo, hi in spans):
            raise ValueError(f"{t_ms} is outside the spans read for {series}")
        return self.points.setdefault(series, {}).setdefault(t_ms, [])

    def find(self, reading: Reading, t_ms: int, names: Sequence[str]) -> StoredPoint | None:
        """The stored copy of ``reading`` (same identity, patient, metric, device and time) in
        one of the measurements ``names``."""
        for name in names:
            key = (name, reading.patient_id, reading.metric, reading.device_id)
            for point in self.points.get(key, {}).get(t_ms, ()):
                if point.reading.reading_id == reading.reading_id:
                    return point
        return None

    def plan(self, doomed: dict[SeriesKey, set[str]]) -> tuple[Plan, int]:
        """What removes ``doomed`` (identities per series) and every repeated copy of an
        identity at one key and millisecond; and how many doomed readings were found."""
        plan = Plan()
        removed = 0
        for series, points in self.points.items():
            for lo, hi in self.spans[series[1:]]:
                times = sorted(t for t in points if lo <= t <= hi)
                removed += _plan_span(series, times, points, doomed.get(series, set()), plan)
        return plan, removed


def _plan_span(
    series: SeriesKey,
    times: list[int],
    points: dict[int, list[StoredPoint]],
    doomed: set[str],
    plan: Plan,
) -> int:
    removed = 0
    run: list[int] = []  # consecutive milliseconds where nothing stays

    def close_run() -> None:
        if run:
            plan.deletions.append(Deletion(series, run[0], run[-1]))
            run.clear()

    for t_ms in times:
        here = sorted(points[t_ms], key=lambda p: p.slot)
        kept: list[StoredPoint] = []
        seen: set[str] = set()
        for point in here:
            rid = point.reading.reading_id
            if rid not in seen:
                if rid in doomed:
                    removed += 1
                else:
                    kept.append(point)
            seen.add(rid)
        if len(kept) == len(here):
            close_run()  # nothing goes here, so no run may span it
            continue
        if not kept:
            run.append(t_ms)
            continue
        close_run()
        staying = {p.slot for p in kept if p.slot < len(kept)}
        free = (slot for slot in range(len(kept)) if slot not in staying)
        for point in kept:
            if point.slot >= len(kept):
                plan.rewrites.append(point_line(point.reading, next(free), t_ms))
        plan.deletions.extend(
            Deletion(series, t_ms, t_ms, p.slot) for p in here if p.slot >= len(kept)
        )
    close_run()
    return removed
