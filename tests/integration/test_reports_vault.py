"""Reports filed into the health space, against real processes: ``hub api``, the reference
vault ``hub vault`` (its own port and storage), ``hub reports run`` / ``hub reports serve``,
and the real SQLite stores. Readings reach the hub through its provider API.

The report period is the last complete ISO week before now in Europe/Paris, and every reading
time is derived from it: nothing here depends on the calendar day the suite runs on.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, text

from hub.adapters.tokens import Role, mint_token
from hub.core.fhir.outbound import PATIENT_ID_SYSTEM
from hub.core.ins import ins_key
from hub.core.periods import complete_periods
from hub.core.reports import mhd, strings, versioning
from hub.core.reports.compute import report_window
from hub.core.summaries import PARIS, cgm_summary
from hub.runtime.up import http_ok
from tests.conftest import TEST_AUTH, free_port, hub_environment
from tests.integration.conftest import wait_until
from tests.pdftext import pdf_text

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
ZONE = "Europe/Paris"
PERIOD = complete_periods("week", NOW, PARIS, 1)[0]
START_MS, END_MS, CGM_START_MS = report_window(PERIOD, ZONE)
MAKER = "acme-provider"
PROGRAM = "remote-monitoring"  # reports.program: the program of patients without one
OUTAGE_S = 120.0


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Hub:
    """``hub api`` and ``hub vault`` as child processes, and ``hub reports`` runs."""

    root: Path
    env: dict[str, str]
    api_url: str
    vault_url: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        log = (self.root / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "hub", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        health = {"api": self.api_url, "vault": self.vault_url}.get(name)
        if health:
            wait_until(lambda: http_ok(f"{health}/healthz"), f"hub {name}", 60)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(sig)
            process.wait(timeout=30)

    def reports_run(self, *extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "hub", "reports", "run", "--period", PERIOD.label, *extra],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip().splitlines()[-1]

    def headers(self, role: Role, subject: str) -> dict[str, str]:
        token = mint_token(TEST_AUTH, subject=subject, role=role, now=datetime.now(UTC))
        return {"Authorization": f"Bearer {token}"}

    def http(self, role: Role, subject: str) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30, headers=self.headers(role, subject))

    def registry(self, query: str) -> list[Any]:
        engine = create_engine(f"sqlite:///{self.root / 'var' / 'registry.sqlite3'}")
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(query)).all())
        finally:
            engine.dispose()

    def vault_rows(self, query: str) -> list[Any]:
        with sqlite3.connect(self.root / "var" / "vault" / "vault.sqlite3") as conn:
            return conn.execute(query).fetchall()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    api_port, vault_port = free_port(), free_port()
    vault_url = f"http://127.0.0.1:{vault_port}"
    env = hub_environment(
        {
            "HUB_DATA_DIR": str(tmp_path / "var"),
            "HUB_API__PORT": str(api_port),
            "HUB_VAULT__PORT": str(vault_port),
            "HUB_VAULT__URL": vault_url,
            "HUB_REPORTS__PERIODS": '["week"]',
            # a short delivery backoff keeps the outage test's wall time near the outage
            "HUB_REPORTS__DELIVERY_BACKOFF_S": "0.5",
            "HUB_REPORTS__DELIVERY_BACKOFF_CAP_S": "5",
            "HUB_REPORTS__DELIVERY_POLL_S": "0.5",
            "HUB_REPORTS__METRICS_PORT": str(free_port()),
        }
    )
    hub = Hub(tmp_path, env, f"http://127.0.0.1:{api_port}", vault_url)
    hub.start("api", "api")
    hub.start("vault", "vault")
    yield hub
    for name in list(hub.processes):
        hub.stop(name)


def ins(number: int) -> str:
    nir = f"1850175101{number:03d}"
    return f"{nir}{ins_key(nir):02d}"


def register(hub: Hub, number: int) -> str:
    with hub.http(Role.ADMIN, "ops") as http:
        made = http.post("/v1/patients", json={"ins": ins(number)})
    assert made.status_code == 201, made.text
    patient: str = made.json()["patient_id"]
    return patient


def device(hub: Hub, device_id: str, patient: str) -> None:
    with hub.http(Role.DEVICE_MAKER, MAKER) as http:
        made = http.post("/v1/devices", json={"device_id": device_id, "profile": "hub-canonical"})
    assert made.status_code == 201, made.text
    start = iso(CGM_START_MS - 86_400_000)
    with hub.http(Role.ADMIN, "ops") as http:
        enrolled = http.post(
            "/v1/enrollments", json={"device_id": device_id, "patient_id": patient, "start": start}
        )
    assert enrolled.status_code == 201, enrolled.text


def push(hub: Hub, items: list[dict[str, Any]]) -> None:
    with hub.http(Role.DEVICE_MAKER, MAKER) as http:
        for first in range(0, len(items), 5000):
            batch = {"readings": items[first : first + 5000]}
            while (answer := http.post("/v1/ingest", json=batch)).status_code == 429:
                time.sleep(float(answer.headers.get("retry-after", "1")))
            assert answer.status_code == 200, answer.text
            assert answer.json()["stored"] + answer.json()["duplicates"] == len(batch["readings"])


def cuff_readings(device_id: str, seed: int) -> list[dict[str, Any]]:
    """Home blood pressure twice a day through the week (07:00 and 19:00 UTC)."""
    rng = np.random.default_rng(seed)
    items = []
    for moment in range(START_MS + 7 * 3_600_000, END_MS, 12 * 3_600_000):
        for metric, mean in (("systolic_bp", 132), ("diastolic_bp", 84)):
            value = round(float(mean + rng.normal(0, 5)), 1)
            items.append(
                {
                    "device_id": device_id,
                    "metric": metric,
                    "value": value,
                    "unit": "mm[Hg]",
                    "time": iso(moment),
                }
            )
    return items


def patient_with_cuff(hub: Hub, number: int) -> str:
    patient = register(hub, number)
    device(hub, f"cuff-{number}", patient)
    push(hub, cuff_readings(f"cuff-{number}", number))
    return patient


def vault_documents(hub: Hub, patient: str, status: str = "current") -> list[dict[str, Any]]:
    """The patient's documents as the vault returns them (ITI-67 with the patient's token)."""
    query = {"patient.identifier": f"{PATIENT_ID_SYSTEM}|{patient}", "status": status}
    with httpx.Client(base_url=hub.vault_url, headers=hub.headers(Role.PATIENT, patient)) as http:
        found = http.get("/fhir/DocumentReference", params=query)
    assert found.status_code == 200, found.text
    return [e["resource"] for e in found.json()["entry"]]


def version_ids(patient: str, doc_type: str, version: int) -> str:
    set_id = versioning.document_set_id(patient, PROGRAM, PERIOD.label, doc_type)
    return versioning.version_ids(set_id, version).resource_id


def test_vault_down_for_two_minutes_every_report_is_filed_once(hub: Hub) -> None:
    patients = [patient_with_cuff(hub, n) for n in range(20)]
    hub.stop("vault")
    down = time.monotonic()
    # The reports are due while the vault is down: decided and queued, nothing lost.
    assert hub.reports_run("--deliver-timeout", "2") == (
        f"{PERIOD.label}: filed 0, unchanged 0, empty 0, failed 0, queued for delivery 20"
    )
    hub.start("reports", "reports", "serve")
    time.sleep(30)
    hub.stop("reports", signal.SIGKILL)  # the hub's worker dies mid-outage...
    hub.start("reports", "reports", "serve")  # ...and a new one takes the outbox over
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down)))
    assert time.monotonic() - down >= OUTAGE_S
    retried = hub.registry("SELECT attempts FROM document_filings")
    assert all(row.attempts >= 5 for row in retried), retried  # it kept trying, backing off
    # What the alert HubFilingOutboxOld watches: the oldest filing waits since the outage began.
    assert outbox_age(hub) >= OUTAGE_S - 30
    hub.start("vault", "vault")
    wait_until(
        lambda: (
            hub.registry("SELECT count(*) AS n FROM document_filings WHERE state = 'delivered'")[
                0
            ].n
            == 20
        ),
        "every filing delivered",
        60,
    )
    # Each exactly once: 20 reports x (PDF + FHIR document), every uniqueId once, version 1.
    assert hub.vault_rows("SELECT count(*), count(DISTINCT unique_id) FROM documents") == [(40, 40)]
    for patient in patients:
        found = {d["id"] for d in vault_documents(hub, patient)}
        assert found == {version_ids(patient, t, 1) for t in ("pdf", "fhir")}
    assert hub.registry("SELECT count(*) AS n FROM document_filings")[0].n == 20
    # The schedule found them unchanged: nothing filed twice.
    assert hub.reports_run() == f"{PERIOD.label}: filed 0, unchanged 20, empty 0, failed 0"
    wait_until(lambda: outbox_age(hub) == 0, "the outbox age back to 0", 10)


def outbox_age(hub: Hub) -> float:
    """``hub_filing_outbox_oldest_age_seconds`` as ``hub reports serve`` exposes it."""
    url = f"http://127.0.0.1:{hub.env['HUB_REPORTS__METRICS_PORT']}/metrics"
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith("hub_filing_outbox_oldest_age_seconds "):
            return float(line.split()[1])
    raise AssertionError("no hub_filing_outbox_oldest_age_seconds in /metrics")


def test_late_readings_replace_the_report_an_unchanged_one_is_not_filed_again(hub: Hub) -> None:
    patient = patient_with_cuff(hub, 1)
    empty = register(hub, 2)  # registered, no reading: nothing to file
    assert hub.reports_run() == f"{PERIOD.label}: filed 1, unchanged 0, empty 1, failed 0"
    assert hub.reports_run() == f"{PERIOD.label}: filed 0, unchanged 1, empty 1, failed 0"
    running = complete_periods("week", NOW + timedelta(days=7), PARIS, 1)[0]  # this week
    refused = subprocess.run(
        [sys.executable, "-m", "hub", "reports", "run", "--period", running.label],
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "has not ended" in refused.stderr
    assert {d["id"] for d in vault_documents(hub, patient)} == {
        version_ids(patient, t, 1) for t in ("pdf", "fhir")
    }
    assert vault_documents(hub, empty) == []
    late = {
        "device_id": "cuff-1",
        "metric": "systolic_bp",
        "value": 171.0,
        "unit": "mm[Hg]",
        "time": iso(START_MS + 30 * 3_600_000),
    }
    push(hub, [late])
    assert hub.reports_run() == f"{PERIOD.label}: filed 1, unchanged 0, empty 1, failed 0"
    current = vault_documents(hub, patient)
    assert {d["id"] for d in current} == {version_ids(patient, t, 2) for t in ("pdf", "fhir")}
    for document in current:
        replaces = [
            r["target"]["reference"] for r in document["relatesTo"] if r["code"] == "replaces"
        ]
        doc_type = (
            "pdf"
            if document["content"][0]["attachment"]["contentType"] == "application/pdf"
            else "fhir"
        )
        assert replaces == [f"DocumentReference/{version_ids(patient, doc_type, 1)}"]
    old = vault_documents(hub, patient, "superseded")
    assert {d["id"] for d in old} == {version_ids(patient, t, 1) for t in ("pdf", "fhir")}
    # The hub API lists the current PDF; the earlier version on request.
    with hub.http(Role.PATIENT, patient) as http:
        listed = http.get(f"/v1/patients/{patient}/documents").json()["items"]
        superseded = http.get(f"/v1/patients/{patient}/documents", params={"status": "superseded"})
    assert [d["id"] for d in listed] == [version_ids(patient, "pdf", 2)]
    assert listed[0]["status"] == "current" and listed[0]["period"]["start"] is not None
    assert [d["id"] for d in superseded.json()["items"]] == [version_ids(patient, "pdf", 1)]
    # GDPR: the export holds the patient's documents and filings; erasure removes them.
    with hub.http(Role.PATIENT, patient) as http:
        export = http.get(f"/v1/patients/{patient}/export").json()
        rows = {
            e["resource"]["id"]: json.loads(e["resource"]["extension"][0]["valueString"])
            for e in export["entry"]
            if e["resource"]["resourceType"] == "Basic"
        }
        assert len(rows["registry-documents"]) == 4 and len(rows["registry-document-filings"]) == 2
        erased = http.delete(f"/v1/patients/{patient}").json()["registry"]
    assert (erased["documents"], erased["document_filings"]) == (4, 2)
    assert hub.registry("SELECT count(*) AS n FROM documents")[0].n == 0


def test_the_pdf_holds_the_key_figures_and_the_bundle_passes_both_validators(
    hub: Hub, valid_fhir: Any
) -> None:
    patient = register(hub, 7)
    device(hub, "cgm-7", patient)
    device(hub, "cuff-7", patient)
    rng = np.random.default_rng(7)
    times = np.arange(CGM_START_MS, END_MS, 300_000, dtype=np.int64)
    wave = 60 * np.sin(times / 3.6e6 / 24 * 2 * np.pi)
    glucose = np.round(np.clip(150 + wave + rng.normal(0, 20, times.size), 40, 400))
    push(
        hub,
        [
            {
                "device_id": "cgm-7",
                "metric": "glucose_isf",
                "value": float(g),
                "unit": "mg/dL",
                "time": iso(int(t)),
            }
            for t, g in zip(times, glucose, strict=True)
        ]
        + cuff_readings("cuff-7", 7),
    )
    assert hub.reports_run() == f"{PERIOD.label}: filed 1, unchanged 0, empty 0, failed 0"
    with hub.http(Role.PATIENT, patient) as http:
        [item] = http.get(f"/v1/patients/{patient}/documents").json()["items"]
        pdf = http.get(item["content_url"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    words = pdf_text(pdf.content)
    # The key figures, computed here independently from the readings sent.
    expected = cgm_summary(times, glucose, CGM_START_MS, END_MS, PARIS)
    assert expected.gmi_percent is not None and expected.tir_70_180_percent is not None
    assert expected.mean_mg_dl is not None and expected.cv_percent is not None
    for figure in (
        f"{strings.number(expected.gmi_percent, 'fr')} %",
        f"{strings.number(expected.tir_70_180_percent, 'fr')} %",
        f"{strings.number(expected.cv_percent, 'fr')} %",
        f"{strings.number(expected.mean_mg_dl, 'fr', 0)} mg/dL",
        f"{strings.number(expected.active_percent, 'fr')} %",
        "cgm-7",
        "cuff-7",
        PERIOD.label,
        "cgm-1.0",
    ):
        assert figure in words, figure
    # The ITI-65 bundle as sent (the outbox's, with the INS put in) and the FHIR document.
    [row] = hub.registry("SELECT bundle FROM document_filings")
    sent = mhd.with_patient_ins(json.loads(row.bundle), ins(7))
    valid_fhir(sent)
    [structured] = [
        d
        for d in vault_documents(hub, patient)
        if d["content"][0]["attachment"]["contentType"] == "application/fhir+json"
    ]
    url = structured["content"][0]["attachment"]["url"]
    with httpx.Client(headers=hub.headers(Role.PATIENT, patient)) as http:
        document = http.get(url).json()
    valid_fhir(document)
    [gmi] = [
        e["resource"]
        for e in document["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "MED-972"
    ]
    assert gmi["valueQuantity"]["value"] == pytest.approx(expected.gmi_percent, abs=1e-4)


def test_a_hidden_document_is_invisible_to_a_practitioner_and_visible_to_its_patient(
    hub: Hub,
) -> None:
    hidden, shown = patient_with_cuff(hub, 3), patient_with_cuff(hub, 4)
    with hub.http(Role.PATIENT, hidden) as http:
        chosen = http.put(
            f"/v1/patients/{hidden}/document-visibility", json={"hidden_from_professionals": True}
        )
    assert chosen.status_code == 200, chosen.text
    with hub.http(Role.ADMIN, "ops") as http:
        for patient in (hidden, shown):
            care = http.post(
                "/v1/care-relationships", json={"practitioner_id": "dr-1", "patient_id": patient}
            )
            assert care.status_code == 201, care.text
    assert hub.reports_run() == f"{PERIOD.label}: filed 2, unchanged 0, empty 0, failed 0"
    with hub.http(Role.PATIENT, hidden) as http:
        [mine] = http.get(f"/v1/patients/{hidden}/documents").json()["items"]
        assert mine["hidden_from_professionals"] is True
        assert http.get(mine["content_url"]).content.startswith(b"%PDF-")
    with hub.http(Role.PRACTITIONER, "dr-1") as http:
        assert http.get(f"/v1/patients/{hidden}/documents").json()["items"] == []
        assert http.get(mine["content_url"]).status_code == 404
        [visible] = http.get(f"/v1/patients/{shown}/documents").json()["items"]
        assert visible["hidden_from_professionals"] is False
        assert http.get(visible["content_url"]).content.startswith(b"%PDF-")
    # the vault itself refuses the practitioner, whoever asks it
    query = {"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ins(3)}"}
    with httpx.Client(
        base_url=hub.vault_url, headers=hub.headers(Role.PRACTITIONER, "dr-1")
    ) as http:
        assert http.get("/fhir/DocumentReference", params=query).json()["total"] == 0
    with hub.http(Role.PRACTITIONER, "dr-2") as http:  # not in care: refused by the hub
        assert http.get(f"/v1/patients/{shown}/documents").status_code == 403
