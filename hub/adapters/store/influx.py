"""InfluxDB time-series backend: line-protocol writes, InfluxQL reads (1.x, 2.x, 3.x).

Layout of a point: :mod:`hub.adapters.store.influx_schema` (docs/storage.md explains the choices).

Idempotency. InfluxDB identifies a point by measurement, tag set and timestamp, and a write to
an existing point overwrites it. ``write_batch`` first looks up the points already stored in
the batch's time span (one InfluxQL query per cluster of nearby times, for the batch's
patients), then for each reading:

* its ``reading_id`` is already stored (or earlier in the batch) -> a duplicate, not written:
  the first copy wins, as in SQLite;
* otherwise it is written at the first free ``slot`` of its point key (measurement, patient,
  metric, device, ms): slot 0 — no ``slot`` tag — almost always; two distinct readings of one
  device in one millisecond get slots 0 and 1 instead of overwriting each other.

The same lookup gives ``WriteResult.duplicates`` exactly; it reads the untrusted-time
measurement too (``influx_schema``), so a reading judged untrusted once and trusted on resend,
at the same time, stays one point. A reading's effective time follows from its identity (the
device time as sent is part of it) except when it was not taken from the device's clock as
sent: the receive time (``TimeSource.RECEIVE``), a clock correction measured at upload
(``DEVICE_CORRECTED``, which differs between uploads), or a time kept as sent because it could
not be trusted (``UNTRUSTED``, whose other copies may have been corrected). A resend of such a
reading may land at another time, so those readings are also looked up by identity in their own
series (patient, metric, device; trusted and untrusted measurements) over ``resend_window``
(default: all of it) — a scan of one series, only for those readings. What stays out of reach
(SQLite's global identity index catches it): a first copy stored at another time whose resend
carries a device time trusted as sent, or a resend attributed to another patient
(docs/storage.md).

The lookup-then-write runs under a lock, so it is exact for the writers of one process; two
processes writing two *distinct* readings of one device in the same millisecond at the same
instant could still race onto one slot.

Durability: ``write_batch`` returns after the server answered 204 to every write, and an
InfluxDB write is acknowledged once it is in the server's WAL (fsynced per write on 1.x with
the default ``wal-fsync-delay = 0s``). Requests carry at most ``batch_size`` lines; a failed
request is retried ``write_retries`` times with doubling backoff, then ``StoreUnavailable``
tells the caller to stop acknowledging. A retried batch rewrites nothing it already wrote.

Reads use InfluxQL on ``/query`` only (InfluxDB 3 has no Flux); InfluxQL cannot order by a
field, so readings sharing a millisecond are ordered here (``base.cursor_of``: ``seq``, then
identity). Erasure and retention use ``DROP SERIES`` / ``DELETE`` (1.x) or ``/api/v2/delete``
(2.x), then check with a count that nothing is left.

Re-attribution (``reassign``) writes each reading under its new patient first (first free slot
at the new key, nothing if its identity is already there), then removes it from the old key
(``influx_moves``: exact per slot, crash-safe); ``delete_readings`` is the second half alone.
Both run under the write lock. InfluxDB 3 cannot delete points: both raise :class:`StoreError`
before writing anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.adapters.store.base import (
    MAX_TIME,
    MIN_TIME,
    NO_SEQ,
    Downsampled,
    ReadingCursor,
    Series,
    StoreError,
    StoreUnavailable,
    WriteResult,
    cursor_of,
    validate_for_store,
    validate_moves,
)
from hub.adapters.store.buckets import bucket_for_range
from hub.adapters.store.influx_http import InfluxHttp, InfluxTarget, ResultSeries
from hub.adapters.store.influx_moves import (
    Deletion,
    SeriesKey,
    Snapshot,
    StoredPoint,
    Stream,
)
from hub.adapters.store.influx_schema import (
    READING_COLUMNS,
    UNTRUSTED_MEASUREMENT,
    families,
    family_of,
    measurement_of,
    measurements,
    point_key,
    point_line,
    reading_from_row,
    seq_of_meta,
)
from hub.adapters.store.line_protocol import (
    decode_tag_value,
    encode_tag_value,
    influxql_identifier,
    influxql_string,
)
from hub.adapters.store.retry import backoff_delays, with_retries
from hub.core.model import Reading, TimeSource, epoch_ms, from_epoch_ms

if TYPE_CHECKING:
    from hub.config import StoreSettings

# Readings further apart than this are looked up by separate queries (a batch from a gateway's
# outbox may mix last week with now; one query spanning both would scan the whole week).
_CLUSTER_GAP_MS = 3_600_000
_PATIENTS_PER_LOOKUP = 50
_WIDE_LOOKUP_MS = 6 * 3_600_000
_MS_TO_NS = 1_000_000
_SELECT_READING = ", ".join(influxql_identifier(c) for c in READING_COLUMNS)
# Time sources whose effective time is not fixed by the identity: a resend may land elsewhere.
_TIME_MAY_MOVE = {TimeSource.RECEIVE, TimeSource.DEVICE_CORRECTED, TimeSource.UNTRUSTED}
# Re-attribution reads a series span per cluster of the moved readings' times: a day's gap
# starts a new span (an untrusted reading years away is not read with everything between).
_MOVE_CLUSTER_GAP_MS = 86_400_000
_MOVE_MAX_SPAN_MS = 7 * 86_400_000  # bounds one read: a week of 1-minute CGM is 10,080 points
_DEVICE_PAGE = 10_000  # device_readings pages (a server's max-row-limit is often 10,000)
_DELETES_PER_REQUEST = 100  # v1: DELETE statements per /query request

_PointKey = tuple[str, str, str, str, int]
_Where = Callable[[int, int, int | None], str]  # (start_ms, end_ms, after_ms) -> WHERE clause


def _ns(ms: int) -> str:
    """An InfluxQL time literal (integer nanoseconds, understood by every server version)."""
    return str(ms * _MS_TO_NS)


def _tag_is(key: str, value: str) -> str:
    return f"{influxql_identifier(key)} = {influxql_string(encode_tag_value(value))}"


def _any_of(key: str, values: Iterable[str]) -> str:
    return "(" + " OR ".join(_tag_is(key, v) for v in values) + ")"


def _select(columns: str, measurements: Sequence[str], where: str, tail: str = "") -> str:
    """An InfluxQL SELECT. Every value in ``where`` went through ``influxql_string`` and every
    name through ``influxql_identifier``: nothing a reading carries reaches the query raw."""
    source = ", ".join(influxql_identifier(n) for n in measurements)
    statement = f"SELECT {columns} FROM {source} WHERE {where}"  # noqa: S608 - escaped above
    return f"{statement} {tail}" if tail else statement


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


_Timed = tuple[int, str, Reading]  # (effective ms, reading_id, reading)


def _time_clusters(
    timed: Sequence[_Timed], gap_ms: int, max_span_ms: int | None = None
) -> list[list[_Timed]]:
    """``timed`` (ordered by time) cut wherever two neighbours are more than ``gap_ms`` apart,
    and before a cluster would span more than ``max_span_ms``."""
    clusters: list[list[_Timed]] = []
    previous: int | None = None
    for item in timed:
        if (
            previous is None
            or item[0] - previous > gap_ms
            or (max_span_ms is not None and item[0] - clusters[-1][0][0] > max_span_ms)
        ):
            clusters.append([])
        clusters[-1].append(item)
        previous = item[0]
    return clusters


def _rows(series: ResultSeries) -> list[dict[str, Any]]:
    """Rows as dicts, with the series' GROUP BY tags filled in."""
    rows = series.rows()
    if series.tags:
        for row in rows:
            for key, value in series.tags.items():
                if row.get(key) is None:
                    row[key] = value
    return rows


def _readings(result: list[ResultSeries]) -> list[Reading]:
    return [_reading_of(row) for s in result for row in _rows(s)]


def _reading_of(row: dict[str, Any]) -> Reading:
    try:
        return reading_from_row(row["time"], row)
    except (KeyError, ValueError, TypeError) as err:
        raise StoreError(
            f"a stored point is not a reading this hub wrote ({type(err).__name__}: {err});"
            " another writer shares the measurement?"
        ) from err


class InfluxReadingStore:
    def __init__(
        self,
        target: InfluxTarget,
        *,
        batch_size: int = 5000,
        write_retries: int = 3,
        retry_backoff_s: float = 0.5,
        resend_window: timedelta | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target = target
        self.http = InfluxHttp(target)
        self.batch_size = batch_size
        self._delays = backoff_delays(write_retries, retry_backoff_s)
        self._resend_window_ms = (
            None if resend_window is None else resend_window // timedelta(milliseconds=1)
        )
        self._sleep = sleep
        self._write_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> InfluxReadingStore:
        target = InfluxTarget(
            url=settings.influx_url,
            api=settings.influx_api,
            database=settings.influx_database,
            retention_policy=settings.influx_retention_policy,
            bucket=settings.influx_bucket,
            org=settings.influx_org,
            token=settings.influx_token,
            username=settings.influx_username,
            password=settings.influx_password,
            timeout_s=settings.influx_timeout_s,
        )
        return cls(
            target,
            batch_size=settings.influx_batch_size,
            write_retries=settings.influx_write_retries,
            retry_backoff_s=settings.influx_retry_backoff_s,
            resend_window=(
                None
                if settings.influx_resend_window_s is None
                else timedelta(seconds=settings.influx_resend_window_s)
            ),
        )

    # -- writes ----------------------------------------------------------------------------

    def write_batch(
        self, readings: Sequence[Reading], *, prevalidated: bool = False
    ) -> WriteResult:
        if not prevalidated:
            for reading in readings:
                validate_for_store(reading)
        if not readings:
            return WriteResult(0, 0)
        timed = sorted(
            ((epoch_ms(r.effective_time), r.reading_id, r) for r in readings),
            key=lambda item: (item[0], item[1]),
        )
        with self._write_lock:
            known, taken = self._existing(timed)
            lines: list[str] = []
            duplicates = 0
            for t_ms, reading_id, reading in timed:
                if reading_id in known:
                    duplicates += 1
                    continue
                known.add(reading_id)
                key = point_key(reading, t_ms)
                slot = 0
                slots = taken.get(key)
                if slots is not None:
                    while slot in slots:
                        slot += 1
                    slots.add(slot)
                else:
                    taken[key] = {0}
                lines.append(point_line(reading, slot, t_ms))
            self._write_lines(lines)
        return WriteResult(written=len(lines), duplicates=duplicates)

    def _write_lines(self, lines: Sequence[str]) -> None:
        for chunk in _chunks(lines, self.batch_size):
            body = "\n".join(chunk)
            with_retries(partial(self.http.write, body), self._delays, self._sleep)

    def _existing(self, timed: Sequence[_Timed]) -> tuple[set[str], dict[_PointKey, set[int]]]:
        """Identities already stored near the batch, and the slots taken per point key."""
        known: set[str] = set()
        taken: dict[_PointKey, set[int]] = {}
        for cluster in _time_clusters(timed, _CLUSTER_GAP_MS):
            lo, hi = cluster[0][0], cluster[-1][0]
            # The untrusted measurement too: a copy of the same identity stored there (or here,
            # for an untrusted resend) at the same time is the same reading.
            names = measurements(sorted({r.metric for _, _, r in cluster}), untrusted=True)
            patients = sorted({r.patient_id for _, _, r in cluster})
            window = f"time >= {_ns(lo)} AND time <= {_ns(hi)}"
            if len(patients) > _PATIENTS_PER_LOOKUP and hi - lo <= _WIDE_LOOKUP_MS:
                # A live batch: many patients, a short span. Reading every point of the span
                # costs less than a long OR of patients (measured: 7 ms vs 23 ms for 200).
                wheres = [window]
            else:
                wheres = [
                    f"{_any_of('patient', group)} AND {window}"
                    for group in _chunks(patients, _PATIENTS_PER_LOOKUP)
                ]
            for where in wheres:
                statement = _select('"rid", "slot", "patient", "metric", "device"', names, where)
                for series in self._lookup(statement):
                    for row in series.rows():
                        known.add(str(row["rid"]))
                        key = (
                            series.name,
                            _decode(row["patient"]),
                            str(row["metric"]),
                            _decode(row["device"]),
                            int(row["time"]),
                        )
                        taken.setdefault(key, set()).add(int(row["slot"] or 0))
        self._look_back(timed, known)
        return known, taken

    def _look_back(self, timed: Sequence[_Timed], known: set[str]) -> None:
        """Readings whose time may differ between copies (:data:`_TIME_MAY_MOVE`): find a copy
        stored at another time (an earlier receive time, another clock correction, the time as
        sent), in the same series, trusted or not."""
        if self._resend_window_ms == 0:
            return
        groups: dict[tuple[str, str, str], list[Reading]] = {}
        for _, _, reading in timed:
            if reading.time_source in _TIME_MAY_MOVE and reading.reading_id not in known:
                key = (reading.patient_id, reading.metric, reading.device_id)
                groups.setdefault(key, []).append(reading)
        for (patient, metric, device), group in groups.items():
            first = min(epoch_ms(r.effective_time) for r in group)
            lo = 0 if self._resend_window_ms is None else max(0, first - self._resend_window_ms)
            for ids in _chunks(sorted({r.reading_id for r in group}), 200):
                rids = " OR ".join(f'"rid" = {influxql_string(i)}' for i in ids)
                statement = _select(
                    '"rid"',
                    [family_of(metric), UNTRUSTED_MEASUREMENT],
                    f"{_tag_is('patient', patient)} AND {_tag_is('metric', metric)}"
                    f" AND {_tag_is('device', device)} AND ({rids})"
                    f" AND time >= {_ns(lo)} AND time < {_ns(epoch_ms(MAX_TIME))}",
                )
                for series in self._lookup(statement):
                    known.update(str(row["rid"]) for row in series.rows())

    def _lookup(
        self, statement: str, what: str = "write: look up stored readings"
    ) -> list[ResultSeries]:
        return with_retries(lambda: self.http.query(statement, what), self._delays, self._sleep)

    # -- re-attribution --------------------------------------------------------------------

    def reassign(self, moves: Sequence[tuple[Reading, str]]) -> int:
        wanted = validate_moves(moves)
        if not wanted:
            return 0
        self._check_deletable()
        with self._write_lock:
            # Old and new keys in one read: a half-done earlier run left copies at the new ones,
            # and a key can be both (readings swapping patients).
            old = [reading for reading, _ in wanted.values()]
            new = [replace(reading, patient_id=patient) for reading, patient in wanted.values()]
            snapshot = self._snapshot([*old, *new])
            doomed: dict[SeriesKey, set[str]] = {}
            lines: list[str] = []
            for reading, patient_id in wanted.values():
                t_ms = epoch_ms(reading.effective_time)
                point = snapshot.find(reading, t_ms, _both(reading.metric))
                if point is None:
                    continue  # not (or no longer) at this patient: moved already, or never stored
                doomed.setdefault(_series_of(point.reading), set()).add(reading.reading_id)
                moved = replace(point.reading, patient_id=patient_id)
                here = snapshot.at(_series_of(moved), t_ms)
                if any(p.reading.reading_id == moved.reading_id for p in here):
                    continue
                slot = min(set(range(len(here) + 1)) - {p.slot for p in here})
                here.append(StoredPoint(slot, moved))
                lines.append(point_line(moved, slot, t_ms))
            self._write_lines(lines)  # durable before an old copy goes: never no copy
            return self._remove(snapshot, doomed)

    def delete_readings(self, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        self._check_deletable()
        with self._write_lock:
            snapshot = self._snapshot(readings)
            doomed: dict[SeriesKey, set[str]] = {}
            for reading in readings:
                point = snapshot.find(
                    reading, epoch_ms(reading.effective_time), _both(reading.metric)
                )
                if point is not None:
                    doomed.setdefault(_series_of(point.reading), set()).add(reading.reading_id)
            return self._remove(snapshot, doomed)

    def _snapshot(self, readings: Sequence[Reading]) -> Snapshot:
        """Every point of the streams of ``readings`` (patient, metric, device; trusted and
        untrusted measurements) over the spans of their times."""
        groups: dict[Stream, list[_Timed]] = {}
        for wanted in readings:
            groups.setdefault((wanted.patient_id, wanted.metric, wanted.device_id), []).append(
                (epoch_ms(wanted.effective_time), wanted.reading_id, wanted)
            )
        snapshot = Snapshot()
        for stream, group in groups.items():
            patient, metric, device = stream
            group.sort(key=lambda item: item[0])
            for cluster in _time_clusters(group, _MOVE_CLUSTER_GAP_MS, _MOVE_MAX_SPAN_MS):
                lo, hi = cluster[0][0], cluster[-1][0]
                statement = _select(
                    _SELECT_READING,
                    _both(metric),
                    f"{_tag_is('patient', patient)} AND {_tag_is('metric', metric)}"
                    f" AND {_tag_is('device', device)} AND time >= {_ns(lo)} AND time <= {_ns(hi)}",
                )
                snapshot.spans.setdefault(stream, []).append((lo, hi))
                for series in self._lookup(statement, "re-attribution: read the series"):
                    for row in series.rows():
                        reading = _reading_of(row)
                        if measurement_of(reading) != series.name:
                            raise StoreError(
                                f"reading {reading.reading_id!r} is stored in {series.name!r},"
                                f" not in {measurement_of(reading)!r}: not a point this hub wrote"
                            )
                        at = snapshot.at(_series_of(reading), int(row["time"]))
                        at.append(StoredPoint(int(row["slot"] or 0), reading))
        return snapshot

    def _remove(self, snapshot: Snapshot, doomed: dict[SeriesKey, set[str]]) -> int:
        """Remove the ``doomed`` identities (and any repeated copy) from the series read into
        ``snapshot``; how many doomed readings were found. Rewrites first, then deletions."""
        plan, removed = snapshot.plan(doomed)
        self._write_lines(plan.rewrites)
        if self.target.api == "v2":
            for deletion in plan.deletions:
                start, stop, predicate = _v2_deletion(deletion)
                with_retries(
                    partial(self.http.delete_v2, start, stop, predicate), self._delays, self._sleep
                )
        else:
            statements = [_v1_deletion(d) for d in plan.deletions]
            for chunk in _chunks(statements, _DELETES_PER_REQUEST):
                query = "; ".join(chunk)
                with_retries(
                    partial(self.http.query, query, "delete readings"), self._delays, self._sleep
                )
        return removed

    def _check_deletable(self) -> None:
        """On the v2 API, refuse before writing anything if the server cannot delete points
        (InfluxDB 3: ``delete_v2`` raises StoreError), with a deletion that matches nothing:
        1 ns in 1970, and a patient tag of ``%`` alone, which no stored tag can be
        (``encode_tag_value`` writes a ``%`` as ``%25``)."""
        if self.target.api == "v2":
            predicate = f'_measurement="{UNTRUSTED_MEASUREMENT}" AND patient="%"'
            self.http.delete_v2(_rfc3339_ns(0), _rfc3339_ns(1), predicate)

    # -- reads -----------------------------------------------------------------------------

    def _where(
        self,
        patient_id: str | None,
        metrics: Sequence[str] | None,
        start_ms: int | None,
        end_ms: int | None,
        *,
        after_ms: int | None = None,
        device_id: str | None = None,
    ) -> str:
        """The WHERE clause; the time range is ``[start_ms, end_ms)``, or ``(after_ms,
        end_ms)`` when ``after_ms`` is given."""
        clauses = []
        if patient_id is not None:
            clauses.append(_tag_is("patient", patient_id))
        if device_id is not None:
            clauses.append(_tag_is("device", device_id))
        if metrics:
            clauses.append(_any_of("metric", metrics))
        lo = epoch_ms(MIN_TIME) if start_ms is None else max(start_ms, 0)
        hi = epoch_ms(MAX_TIME) if end_ms is None else min(end_ms, epoch_ms(MAX_TIME))
        # Explicit bounds: without them InfluxDB 1.x stops some queries at now().
        lower = f"time > {_ns(after_ms)}" if after_ms is not None else f"time >= {_ns(lo)}"
        clauses.append(f"{lower} AND time < {_ns(hi)}")
        return " AND ".join(clauses)

    def series(self, patient_id: str, metric: str, start: datetime, end: datetime) -> Series:
        where = self._where(patient_id, [metric], epoch_ms(start), epoch_ms(end))
        source = families([metric])
        result = self.http.query(_select('"value", "rid"', source, where), "series")
        rows = [row for s in result for row in s.values]
        if not rows:
            return Series(np.empty(0, np.int64), np.empty(0, np.float64))
        times = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        if len(rows) > 1 and not bool(np.all(np.diff(times) > 0)):
            # Readings share a millisecond (rare): their order needs seq, which is in meta.
            result = self.http.query(_select('"value", "rid", "meta"', source, where), "series")
            rows = [row for s in result for row in s.values]
            rows.sort(key=lambda r: (r[0], _seq_key(r[3]), r[2]))
            times = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        values = np.fromiter((r[1] for r in rows), np.float64, len(rows))
        return Series(times, values)

    def readings(
        self,
        patient_id: str,
        metrics: Sequence[str] | None,
        start: datetime,
        end: datetime,
        *,
        after: ReadingCursor | None = None,
        limit: int = 500,
        include_untrusted: bool = False,
    ) -> list[Reading]:
        source = measurements(metrics or None, untrusted=include_untrusted)
        return self._page(
            partial(self._window, patient_id=patient_id, metrics=metrics),
            source,
            epoch_ms(start),
            epoch_ms(end),
            after,
            limit,
        )

    def device_readings(self, device_id: str, start: datetime, end: datetime) -> list[Reading]:
        where = partial(self._window, device_id=device_id)
        source = measurements(None, untrusted=True)
        start_ms, end_ms = epoch_ms(start), epoch_ms(end)
        found: list[Reading] = []
        after: ReadingCursor | None = None
        while True:
            page = self._page(where, source, start_ms, end_ms, after, _DEVICE_PAGE)
            found += page
            if len(page) < _DEVICE_PAGE:
                return found
            after = cursor_of(page[-1])

    def _window(
        self,
        start_ms: int,
        end_ms: int,
        after_ms: int | None,
        *,
        patient_id: str | None = None,
        device_id: str | None = None,
        metrics: Sequence[str] | None = None,
    ) -> str:
        return self._where(
            patient_id, metrics, start_ms, end_ms, after_ms=after_ms, device_id=device_id
        )

    def _page(
        self,
        where: _Where,
        source: Sequence[str],
        start_ms: int,
        end_ms: int,
        after: ReadingCursor | None,
        limit: int,
    ) -> list[Reading]:
        """Up to ``limit`` readings in ``[start_ms, end_ms)`` after ``after``, in the reading
        order; ``where(start_ms, end_ms, after_ms)`` is the filter."""
        if limit <= 0:
            return []
        found: list[Reading] = []
        after_ms = None
        if after is not None and after.checked().t_ms >= start_ms:
            if after.t_ms >= end_ms:
                return []
            # Readings sharing the cursor's millisecond: InfluxQL cannot order by seq/identity.
            tied = self._at(where, after.t_ms, source)
            found += [r for r in tied if cursor_of(r) > after]
            after_ms = after.t_ms
        result = self.http.query(
            _select(_SELECT_READING, source, where(start_ms, end_ms, after_ms), f"LIMIT {limit}"),
            "readings",
        )
        # LIMIT applies per measurement and cuts by time only: a measurement that filled its
        # limit is complete up to its last time; rows at that time may be missing (ties).
        cutoff = min((s.values[-1][0] for s in result if len(s.values) >= limit), default=None)
        page = _readings(result)
        if cutoff is not None:
            page = [r for r in page if epoch_ms(r.effective_time) < cutoff]
            page += self._at(where, cutoff, source)
        found += page
        found.sort(key=cursor_of)
        return found[:limit]

    def _at(self, where: _Where, t_ms: int, source: Sequence[str]) -> list[Reading]:
        statement = _select(_SELECT_READING, source, where(t_ms, t_ms + 1, None))
        return _readings(self.http.query(statement, "readings"))

    def downsample(
        self,
        patient_id: str,
        metric: str,
        start: datetime,
        end: datetime,
        bucket: timedelta | None = None,
    ) -> Downsampled:
        start_ms, end_ms = epoch_ms(start), epoch_ms(end)
        bucket_ms = bucket_for_range(start_ms, end_ms, bucket)
        if end_ms <= start_ms:
            return Downsampled.empty(bucket_ms)
        where = self._where(patient_id, [metric], start_ms, end_ms)
        result = self.http.query(
            _select(
                'mean("value"), min("value"), max("value"), count("value")',
                families([metric]),
                where,
                f"GROUP BY time({bucket_ms}ms) fill(none)",
            ),
            "downsample",
        )
        rows = [row for s in result for row in s.values if row[4]]
        if not rows:
            return Downsampled.empty(bucket_ms)
        columns = list(zip(*rows, strict=True))
        return Downsampled(
            bucket_ms=bucket_ms,
            starts_ms=np.array(columns[0], np.int64),
            mean=np.array(columns[1], np.float64),
            min=np.array(columns[2], np.float64),
            max=np.array(columns[3], np.float64),
            count=np.array(columns[4], np.int64),
        )

    def latest(self, patient_id: str, metrics: Sequence[str] | None = None) -> dict[str, Reading]:
        source = families(metrics or None)
        where = self._where(patient_id, metrics, None, None)
        result = self.http.query(
            _select(_SELECT_READING, source, where, 'GROUP BY "metric" ORDER BY time DESC LIMIT 2'),
            "latest",
        )
        latest: dict[str, Reading] = {}
        for series in result:
            top = _readings([series])
            if not top:
                continue
            best = top[0]
            if len(top) > 1 and top[1].effective_time == best.effective_time:
                # Several readings share the last millisecond: the order decides among them.
                at = partial(self._window, patient_id=patient_id, metrics=[best.metric])
                best = max(self._at(at, epoch_ms(best.effective_time), source), key=cursor_of)
            if best.metric not in latest or cursor_of(best) > cursor_of(latest[best.metric]):
                latest[best.metric] = best
        return latest

    def count(
        self,
        patient_id: str | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        include_untrusted: bool = True,
    ) -> int:
        where = self._where(
            patient_id,
            metrics,
            None if start is None else epoch_ms(start),
            None if end is None else epoch_ms(end),
        )
        result = self.http.query(
            _select(
                'count("value")', measurements(metrics or None, untrusted=include_untrusted), where
            ),
            "count",
        )
        return sum(int(row[1]) for s in result for row in s.values)

    # -- deletion --------------------------------------------------------------------------

    def erase_patient(self, patient_id: str) -> int:
        erased = self.count(patient_id)
        # Every measurement, the untrusted one included: neither statement names one.
        if self.target.api == "v2":
            predicate = _v2_predicate(None, [("patient", patient_id)])
            self.http.delete_v2(_iso(MIN_TIME), _iso(MAX_TIME), predicate)
        else:
            self.http.query(f"DROP SERIES WHERE {_tag_is('patient', patient_id)}", "erase")
        remaining = self.count(patient_id)
        if remaining:
            raise StoreUnavailable(
                f"erase: {remaining} readings of the patient are still stored; retry the erasure"
            )
        return erased

    def apply_retention(self, older_than: datetime) -> int:
        deleted = self.count(end=older_than)
        if not deleted:
            return 0
        if self.target.api == "v2":
            self.http.delete_v2(_iso(MIN_TIME), _iso(older_than), "")
        else:
            self.http.query(f"DELETE WHERE time < {_ns(epoch_ms(older_than))}", "retention")
        remaining = self.count(end=older_than)
        if remaining:
            raise StoreUnavailable(f"retention: {remaining} old readings remain; retry")
        return deleted

    # -- lifecycle -------------------------------------------------------------------------

    def ping(self) -> None:
        self.http.ping()
        self.http.query("SHOW MEASUREMENTS LIMIT 1", "ping")

    def close(self) -> None:
        self.http.close()


def _decode(value: Any) -> str:
    return decode_tag_value(str(value))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _rfc3339_ns(ns: int) -> str:
    """RFC 3339 with nanoseconds, as ``/api/v2/delete`` takes times."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return f"{from_epoch_ms(seconds * 1000):%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _seq_key(meta: str) -> int:
    seq = seq_of_meta(meta)
    return NO_SEQ if seq is None else seq


def _series_of(reading: Reading) -> SeriesKey:
    return (measurement_of(reading), reading.patient_id, reading.metric, reading.device_id)


def _both(metric: str) -> list[str]:
    """The measurements a reading of ``metric`` can be in."""
    return [family_of(metric), UNTRUSTED_MEASUREMENT]


def _v1_deletion(deletion: Deletion) -> str:
    measurement, patient, metric, device = deletion.series
    where = (
        f"{_tag_is('patient', patient)} AND {_tag_is('metric', metric)}"
        f" AND {_tag_is('device', device)}"
    )
    if deletion.slot is not None:
        where += f" AND {_tag_is('slot', str(deletion.slot))}"
    return (
        f"DELETE FROM {influxql_identifier(measurement)} WHERE {where}"  # noqa: S608 - escaped
        f" AND time >= {_ns(deletion.first_ms)} AND time <= {_ns(deletion.last_ms)}"
    )


def _v2_deletion(deletion: Deletion) -> tuple[str, str, str]:
    """(start, stop, predicate) of ``/api/v2/delete``. The stop is the last nanosecond of the
    last millisecond: the points are at whole milliseconds, so the range holds exactly the
    deletion's whether the server treats stop as inclusive or not."""
    measurement, patient, metric, device = deletion.series
    tags = [("patient", patient), ("metric", metric), ("device", device)]
    if deletion.slot is not None:
        tags.append(("slot", str(deletion.slot)))
    return (
        _rfc3339_ns(deletion.first_ms * _MS_TO_NS),
        _rfc3339_ns(deletion.last_ms * _MS_TO_NS + _MS_TO_NS - 1),
        _v2_predicate(measurement, tags),
    )


def _v2_predicate(measurement: str | None, tags: Sequence[tuple[str, str]]) -> str:
    """A ``/api/v2/delete`` predicate: equalities joined by AND (all it supports), values
    stored-form (``encode_tag_value``: no backslash) with ``"`` escaped."""
    terms = [] if measurement is None else [f'_measurement="{measurement}"']
    for key, value in tags:
        stored = encode_tag_value(value).replace("\\", "\\\\").replace('"', '\\"')
        terms.append(f'{key}="{stored}"')
    return " AND ".join(terms)
