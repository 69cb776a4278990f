"""The InfluxDB wire: line-protocol writes and InfluxQL reads, errors translated here only.

Writes go to ``POST /write`` (InfluxDB 1.x, plain HTTP through httpx) or, with ``api="v2"``,
through influxdb-client's *synchronous* write API to ``/api/v2/write`` (InfluxDB 2.x, 3.x,
Cloud) — never its background batching API, which drops points once its own retries run out.
Reads use InfluxQL on ``/query``, which InfluxDB 1.x, 2.x (through a DBRP mapping) and 3.x
all serve.

Every failure leaves this module as a :mod:`hub.adapters.store.base` error:

=========================================== =====================
connection refused/reset, timeout, 5xx, 429 StoreUnavailable
401/403 (credentials), 404 (no database)    StoreUnavailable — the data is fine; an
                                            operator fixes the configuration
400/413/422 on a write (bad line protocol,  StoreRejected
field type conflict, body too large)
a query the server refuses                  StoreError (a bug of ours)
=========================================== =====================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from hub.adapters.store.base import StoreError, StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    """Where and how to reach one InfluxDB database (see ``StoreSettings.influx_*``)."""

    url: str
    api: Literal["v1", "v2"] = "v1"
    database: str = "hub"
    retention_policy: str | None = None
    bucket: str | None = None
    org: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0

    def describe(self) -> str:
        if self.api == "v2":
            return f"InfluxDB {self.url} bucket {self.bucket or self.database!r}"
        return f"InfluxDB {self.url} database {self.database!r}"


@dataclass(frozen=True, slots=True)
class ResultSeries:
    """One series of a ``/query`` result: its measurement, GROUP BY tags, columns and rows."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.values]


def error_for_status(status: int, detail: str, what: str, *, writing: bool) -> StoreError:
    """The store error an HTTP error status means (see the module docstring)."""
    message = f"{what}: HTTP {status}: {detail.strip()[:500]}"
    if status in (401, 403):
        return StoreUnavailable(f"{message} (check the InfluxDB credentials)")
    if status == 404:
        return StoreUnavailable(f"{message} (does the database/bucket exist?)")
    if status == 429 or status >= 500:
        return StoreUnavailable(message)
    if writing and status in (400, 413, 422):
        return StoreRejected(message)
    return StoreError(message)


def _status_of(err: Exception) -> tuple[int, str]:
    """HTTP status (0 if there was no response) and message of an influxdb-client error."""
    status = getattr(err, "status", None)
    response = getattr(err, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status", None)
    detail = str(getattr(err, "message", "") or getattr(err, "reason", "") or err)
    return int(status or 0), detail


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)
    return str(body)


class InfluxHttp:
    """One InfluxDB endpoint: ``query`` (InfluxQL) and ``write`` (line protocol)."""

    def __init__(self, target: InfluxTarget, transport: httpx.BaseTransport | None = None) -> None:
        """``transport`` replaces the network for tests (httpx.MockTransport)."""
        self.target = target
        headers = {"Authorization": f"Token {target.token}"} if target.token else {}
        auth = httpx.BasicAuth(target.username, target.password or "") if target.username else None
        self._http = httpx.Client(
            base_url=target.url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(target.timeout_s),
            transport=transport,
        )
        self._v2: Any = None
        self._v2_write: Any = None
        if target.api == "v2":
            from influxdb_client.client.influxdb_client import InfluxDBClient
            from influxdb_client.client.write_api import SYNCHRONOUS

            self._v2 = InfluxDBClient(
                url=target.url,
                token=target.token or "",
                org=target.org or "",
                timeout=int(target.timeout_s * 1000),
                retries=False,  # ours: hub.adapters.store.retry
            )
            self._v2_write = self._v2.write_api(write_options=SYNCHRONOUS)

    def close(self) -> None:
        self._http.close()
        if self._v2 is not None:
            self._v2.close()

    # -- reads -----------------------------------------------------------------------------

    def query(self, statement: str, what: str = "query") -> list[ResultSeries]:
        """Run one InfluxQL statement; times come back as epoch milliseconds."""
        params = {"q": statement, "db": self.target.database, "epoch": "ms"}
        if self.target.retention_policy and self.target.api == "v1":
            params["rp"] = self.target.retention_policy
        try:
            response = self._http.post("/query", data=params)
        except httpx.HTTPError as err:
            raise StoreUnavailable(
                f"{what}: {self.target.describe()} unreachable: {type(err).__name__}: {err}"
            ) from err
        if response.status_code != 200:
            raise error_for_status(response.status_code, _detail(response), what, writing=False)
        try:
            body = response.json()
        except ValueError as err:
            raise StoreError(f"{what}: /query answered with non-JSON: {err}") from err
        if "error" in body:
            raise self._query_error(str(body["error"]), what)
        series: list[ResultSeries] = []
        for result in body.get("results", []):
            if "error" in result:
                raise self._query_error(str(result["error"]), what)
            if result.get("partial"):
                raise StoreError(
                    f"{what}: the server truncated the result (raise its max-row-limit)"
                )
            for raw in result.get("series", []):
                if raw.get("partial"):
                    raise StoreError(
                        f"{what}: the server truncated the result (raise its max-row-limit)"
                    )
                series.append(
                    ResultSeries(
                        name=str(raw.get("name", "")),
                        tags=dict(raw.get("tags") or {}),
                        columns=list(raw["columns"]),
                        values=list(raw.get("values") or []),
                    )
                )
        return series

    def _query_error(self, message: str, what: str) -> StoreError:
        lowered = message.lower()
        if any(f"{thing} not found" in lowered for thing in ("database", "bucket", "policy")):
            return StoreUnavailable(f"{what}: {self.target.describe()}: {message}")
        return StoreError(f"{what}: InfluxDB refused the query: {message}")

    def ping(self) -> None:
        try:
            response = self._http.get("/ping")
        except httpx.HTTPError as err:
            raise StoreUnavailable(
                f"ping: {self.target.describe()} unreachable: {type(err).__name__}: {err}"
            ) from err
        if response.status_code not in (200, 204):
            raise error_for_status(response.status_code, _detail(response), "ping", writing=False)

    # -- writes ----------------------------------------------------------------------------

    def write(self, body: str) -> None:
        """Write line protocol (ms precision); return only once the server accepted it."""
        if self.target.api == "v2":
            self._write_v2(body)
        else:
            self._write_v1(body.encode("utf-8"))

    def _write_v1(self, body: bytes) -> None:
        params = {"db": self.target.database, "precision": "ms"}
        if self.target.retention_policy:
            params["rp"] = self.target.retention_policy
        try:
            response = self._http.post("/write", params=params, content=body)
        except httpx.HTTPError as err:
            raise StoreUnavailable(
                f"write: {self.target.describe()} unreachable: {type(err).__name__}: {err}"
            ) from err
        if response.status_code == 204:
            return
        detail = _detail(response)
        if response.status_code == 400 and "beyond retention policy" in detail:
            # InfluxDB dropped points its retention policy would delete anyway; the rest
            # is written. Retrying cannot change that, and refusing would dead-letter them.
            log.warning("InfluxDB dropped points older than its retention policy: %s", detail)
            return
        raise error_for_status(response.status_code, detail, "write", writing=True)

    def _write_v2(self, body: str) -> None:
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.domain.write_precision import WritePrecision
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            self._v2_write.write(
                bucket=self.target.bucket or self.target.database,
                org=self.target.org,
                record=body,
                write_precision=WritePrecision.MS,
            )
        except InfluxDBError as err:
            status, detail = _status_of(err)
            if status == 0:
                raise StoreUnavailable(f"write: {self.target.describe()}: {detail}") from err
            raise error_for_status(status, detail, "write", writing=True) from err
        except (Urllib3Error, OSError) as err:
            raise StoreUnavailable(
                f"write: {self.target.describe()} unreachable: {type(err).__name__}: {err}"
            ) from err

    def delete_v2(self, start_iso: str, stop_iso: str, predicate: str) -> None:
        """``/api/v2/delete`` (InfluxDB 2.x); InfluxDB 3 has no point deletion."""
        from influxdb_client.client.exceptions import InfluxDBError
        from urllib3.exceptions import HTTPError as Urllib3Error

        assert self._v2 is not None
        try:
            self._v2.delete_api().delete(
                start_iso,
                stop_iso,
                predicate,
                bucket=self.target.bucket or self.target.database,
                org=self.target.org,
            )
        except InfluxDBError as err:
            status, detail = _status_of(err)
            if status == 0:
                raise StoreUnavailable(f"delete: {self.target.describe()}: {detail}") from err
            if status in (404, 405, 501):
                raise StoreError(
                    f"delete: {self.target.describe()} cannot delete points (HTTP {status}:"
                    f" {detail}); InfluxDB 3 has no point deletion — see docs/storage.md"
                ) from err
            raise error_for_status(status, detail, "delete", writing=False) from err
        except (Urllib3Error, OSError) as err:
            raise StoreUnavailable(
                f"delete: {self.target.describe()} unreachable: {type(err).__name__}: {err}"
            ) from err
