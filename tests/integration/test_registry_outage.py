"""A registry that cannot answer: the API says 503 (retry later), ingestion acknowledges
nothing, and both work again, once each, when it answers.

Real outages, on each backend:

* SQLite: another process holds the registry's write lock longer than the busy timeout. In
  WAL mode a writer never blocks readers, so a read that writes nothing still answers; every
  write answers 503 — and so does every read of patient data, which writes its audit event
  first (no audit event, no data).
* PostgreSQL: the server is stopped (a server of this test's own, not the session's): reads
  and writes answer 503.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from hub.adapters.gateway_health import GatewayHealthBook
from hub.adapters.metrics import BridgeMetrics
from hub.adapters.registry import RegistryUnavailable
from hub.adapters.tokens import Role, mint_token
from hub.config import Settings
from hub.core.batch import Incoming, IngestUnavailable
from hub.core.ins import ins_key
from hub.core.wire import GatewayStatus, encode_gateway_status
from hub.services.ingest import open_ingestor
from tests.conftest import TEST_AUTH, api_client
from tests.fixtures.postgres import INSTALL_HINT, PostgresServer, postgres_bindir, start_postgres

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
INS = f"2550814168025{ins_key('2550814168025'):02d}"


def auth(role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(TEST_AUTH, subject=subject, role=role, now=NOW)}"}


ADMIN = auth(Role.ADMIN, "ops")
MAKER = auth(Role.DEVICE_MAKER, "acme")


class Outage(Protocol):
    backend: str

    def begin(self) -> None: ...
    def end(self) -> None: ...


class LockedSqlite:
    """Another process holds the registry's write lock (as a long transaction would)."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.blocker: sqlite3.Connection | None = None

    def begin(self) -> None:
        self.blocker = sqlite3.connect(self.path, isolation_level=None)
        self.blocker.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        assert self.blocker is not None
        self.blocker.execute("ROLLBACK")
        self.blocker.close()
        self.blocker = None


class StoppedPostgres:
    """The PostgreSQL server is stopped, then started again (its data kept)."""

    backend = "postgresql"

    def __init__(self, server: PostgresServer) -> None:
        self.server = server

    def begin(self) -> None:
        done = self.server.run(
            "pg_ctl", "stop", "--pgdata", str(self.server.data_dir), "--mode", "fast", "--wait"
        )
        assert done.returncode == 0, done.stderr

    def end(self) -> None:
        self.server.start()


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[Outage]:
    """Settings whose registry can be made unreachable, and the means to do it."""
    if request.param == "sqlite":
        settings.registry.sqlite_busy_timeout_s = 0.2
        assert settings.registry.url is not None
        yield LockedSqlite(Path(settings.registry.url.removeprefix("sqlite:///")))
        return
    if postgres_bindir() is None:
        pytest.fail(INSTALL_HINT)
    server = start_postgres(None if os.geteuid() == 0 else tmp_path / "postgres")
    try:
        settings.registry.url = server.url.render_as_string(hide_password=False)
        yield StoppedPostgres(server)
    finally:
        server.stop()


def world(client: TestClient) -> str:
    """A registered patient with an enrolled device; the patient's id."""
    patient = client.post("/v1/patients", headers=ADMIN, json={"ins": INS}).json()["patient_id"]
    device = {"device_id": "cuff-1", "profile": "acme-bp-wifi"}
    assert client.post("/v1/devices", headers=MAKER, json=device).status_code == 201
    start = (NOW - timedelta(days=1)).isoformat()
    enrollment = {"device_id": "cuff-1", "patient_id": patient, "start": start}
    assert client.post("/v1/enrollments", headers=ADMIN, json=enrollment).status_code == 201
    return str(patient)


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == "/problems/unavailable"
    assert INS not in response.text


def test_the_api_answers_503_while_the_registry_cannot_answer(
    outage: Outage, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with api_client(settings, NOW) as client:
        patient = world(client)
        me = auth(Role.PATIENT, patient)
        readings = f"/v1/patients/{patient}/readings"
        objection = {"source_kind": "device", "source_id": "cuff-9"}
        objections = f"/v1/patients/{patient}/objections"

        outage.begin()
        try:
            with caplog.at_level(logging.WARNING, logger="api.errors"):
                assert_unavailable(client.get(readings, headers=me))  # a read (audited)
                assert_unavailable(client.post(objections, headers=me, json=objection))  # a write
                device = client.get("/v1/devices/cuff-1", headers=MAKER)  # a read, no audit
                if outage.backend == "postgresql":
                    assert_unavailable(device)
                else:  # WAL: a writer does not block readers
                    assert device.status_code == 200
        finally:
            outage.end()

        # Logged, without the patient's identifiers or the statement's values.
        assert "registry unavailable on /v1/patients/{patient_id}/readings" in caplog.text
        assert patient not in caplog.text and INS not in caplog.text
        # Once it answers, the same requests work (and the write is made once).
        assert client.get(readings, headers=me).status_code == 200
        assert client.post(objections, headers=me, json=objection).status_code == 201
        consent = client.get(f"/v1/patients/{patient}/consent", headers=me).json()
        assert [o["source_id"] for o in consent["objections"]] == ["cuff-9"]


def reading(value: float, minutes_ago: int) -> Incoming:
    time = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {"metric": "systolic_bp", "value": value, "unit": "mm[Hg]", "time": time}
    return Incoming("hs/v1/devices/cuff-1/readings", json.dumps(payload).encode(), NOW)


def test_ingestion_acknowledges_nothing_while_the_registry_cannot_answer(
    outage: Outage, settings: Settings
) -> None:
    """The batch (a good reading and a refused one, whose dead letter needs the registry) is
    unavailable as a whole — not a poison message — then committed once when retried."""
    ingestor = open_ingestor(settings)
    try:
        registry = ingestor.registry
        registry.enrollments.enroll(
            "cuff-1", "pat-1", NOW - timedelta(days=1), actor="ops", role="admin", created=NOW
        )
        registry.gateways.register("gw-1", owner="acme", zone=None, now=NOW)
        book = GatewayHealthBook(registry.gateways, BridgeMetrics())
        batch = [reading(121, 5), reading(9999, 4)]

        outage.begin()
        try:
            with pytest.raises(IngestUnavailable, match="RegistryUnavailable") as failed:
                ingestor.ingest(batch)
            assert isinstance(failed.value.__cause__, RegistryUnavailable)
            with pytest.raises(IngestUnavailable):  # a gateway's status: retried, not acked
                book.record("gw-1", encode_gateway_status(GatewayStatus("offline")), NOW)
        finally:
            outage.end()

        assert ingestor.store.readings("pat-1", None, NOW - timedelta(days=1), NOW) == []
        report = ingestor.ingest(batch)  # the redelivery
        assert (report.stored, report.dead_lettered) == (1, 1)
        again = ingestor.ingest(batch)  # and once more: nothing doubles
        assert (again.stored, again.duplicates) == (0, 1)
        stored = ingestor.store.readings("pat-1", None, NOW - timedelta(days=1), NOW)
        assert [r.value for r in stored] == [121.0]
        assert registry.rejects.counts().dead_letters == 1
        book.record("gw-1", encode_gateway_status(GatewayStatus("offline")), NOW)
        health = registry.gateways.get("gw-1")
        assert health is not None and health.health is not None
        assert health.health.status == "offline"
    finally:
        ingestor.close()
