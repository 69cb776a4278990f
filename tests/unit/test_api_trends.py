"""Trends, summaries, alerts, preferences and programmes through the HTTP API, in-process on
real SQLite files. Readings go in through the ingestor (MQTT canonical messages), except the
untrusted ones, written to the store as the pipeline leaves them. The API's clock is the test's
own ``NOW``; every period and reading time is built from it, so nothing expires.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hub.adapters.tokens import Role
from hub.config import Settings
from hub.core.batch import Incoming
from hub.core.ins import ins_key
from hub.core.model import Reading, Source, TimeSource, epoch_ms
from hub.core.summaries import cgm_summary, weight_summary
from tests.conftest import api_client, bearer

NOW = datetime.now(UTC).replace(microsecond=0)
PARIS = ZoneInfo("Europe/Paris")
INS = f"2550814168025{ins_key('2550814168025'):02d}"
CGM_FIELDS = (
    "algorithm_version",
    "from",
    "to",
    "readings",
    "sufficient",
    "active_percent",
    "mean_mg_dl",
    "sd_mg_dl",
    "cv_percent",
    "gmi_percent",
    "tir_70_180_percent",
    "titr_70_140_percent",
    "tbr_below_70_percent",
    "tbr_below_54_percent",
    "tar_above_180_percent",
    "tar_above_250_percent",
    "hypo_events_level1",
    "hypo_events_level2",
)


def auth(role: Role, subject: str) -> dict[str, str]:
    return bearer(role, subject, NOW)


ADMIN = auth(Role.ADMIN, "ops")
DOCTOR = auth(Role.PRACTITIONER, "dr-1")
STRANGER = auth(Role.PRACTITIONER, "dr-2")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with api_client(settings, NOW) as test_client:
        yield test_client


@pytest.fixture
def patient(client: TestClient) -> str:
    """A registered patient in the care of dr-1, with a CGM and a scale enrolled 120 days ago."""
    patient_id: str = client.post("/v1/patients", headers=ADMIN, json={"ins": INS}).json()[
        "patient_id"
    ]
    start = (NOW - timedelta(days=120)).isoformat()
    for device in ("cgm-1", "scale-1"):
        enrolled = client.post(
            "/v1/enrollments",
            headers=ADMIN,
            json={"device_id": device, "patient_id": patient_id, "start": start},
        )
        assert enrolled.status_code == 201, enrolled.text
    care = client.post(
        "/v1/care-relationships",
        headers=ADMIN,
        json={"practitioner_id": "dr-1", "patient_id": patient_id},
    )
    assert care.status_code == 201
    return patient_id


def me(patient_id: str) -> dict[str, str]:
    return auth(Role.PATIENT, patient_id)


def ingest(client: TestClient, device: str, metric: str, unit: str, points: Any) -> None:
    """Publish ``(epoch ms, value)`` points as canonical MQTT messages (1000 a message)."""
    items = [
        {
            "metric": metric,
            "value": float(value),
            "unit": unit,
            "time": datetime.fromtimestamp(t / 1000, UTC).isoformat(),
        }
        for t, value in points
    ]
    messages = [
        Incoming(f"hs/v1/devices/{device}/readings", json.dumps(items[i : i + 1000]).encode(), NOW)
        for i in range(0, len(items), 1000)
    ]
    report = client.app.state.hub.ingestor.ingest(messages)  # type: ignore[attr-defined]
    assert report.stored == len(items)


def cgm_trace(start_ms: int, days: float) -> tuple[np.ndarray, np.ndarray]:
    """Five-minute CGM readings with a 40-minute gap, a 25-minute hypo (level 2 in it) and
    highs: deterministic, seeded."""
    times = np.arange(start_ms, start_ms + int(days * 86_400_000), 300_000, dtype=np.int64)
    rng = np.random.default_rng(7)
    values = np.round(140 + 60 * np.sin(np.arange(times.size) / 40) + rng.normal(0, 8, times.size))
    values[100:105] = [65, 58, 52, 50, 61]  # 25 minutes below 70, below 54 for 10
    keep = np.ones(times.size, dtype=bool)
    keep[200:208] = False  # a 45-minute gap: missing data
    return times[keep], values[keep]


def test_a_cgm_window_is_served_with_the_consensus_numbers(
    client: TestClient, patient: str
) -> None:
    start = epoch_ms(NOW - timedelta(days=3))
    times, values = cgm_trace(start, 2.5)
    ingest(client, "cgm-1", "glucose_isf", "mg/dL", zip(times, values, strict=True))
    window = {"from": (NOW - timedelta(days=3)).isoformat(), "to": NOW.isoformat()}
    response = client.get(
        f"/v1/patients/{patient}/summaries/cgm", headers=me(patient), params=window
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = cgm_summary(times, values, start, epoch_ms(NOW), PARIS).to_json()
    for field in CGM_FIELDS:
        assert body[field] == expected[field], field
    assert body["readings"] == times.size
    assert body["hypo_events_level1"] == 1 and body["hypo_events_level2"] == 0  # 10 min < 54
    assert body["glucose_unit"] == "mg/dL" and body["zone"] == "Europe/Paris"
    assert 0 < body["active_percent"] < 100


def test_glucose_in_mmol_l_by_preference_or_by_request(client: TestClient, patient: str) -> None:
    start = epoch_ms(NOW - timedelta(days=1))
    times, values = cgm_trace(start, 0.9)
    ingest(client, "cgm-1", "glucose_isf", "mg/dL", zip(times, values, strict=True))
    url = f"/v1/patients/{patient}"
    mg = client.get(f"{url}/summaries/cgm", headers=me(patient)).json()
    assert "mean_mmol_l" not in mg
    prefs = client.put(
        f"{url}/preferences", headers=me(patient), json={"glucose_unit": "mmol/L", "language": "en"}
    )
    assert prefs.status_code == 200, prefs.text
    mmol = client.get(f"{url}/summaries/cgm", headers=me(patient)).json()
    assert mmol["glucose_unit"] == "mmol/L"
    assert mmol["mean_mg_dl"] == mg["mean_mg_dl"]  # the mg/dL fields never change meaning
    assert mmol["mean_mmol_l"] == pytest.approx(mg["mean_mg_dl"] / 18.0156, rel=1e-12)
    assert mmol["sd_mmol_l"] == pytest.approx(mg["sd_mg_dl"] / 18.0156, rel=1e-12)
    trend_mmol = client.get(f"{url}/trends", headers=me(patient), params={"period": "day"}).json()
    trend_mg = client.get(
        f"{url}/trends", headers=me(patient), params={"period": "day", "unit": "mg/dL"}
    ).json()
    [glucose_mmol] = trend_mmol["series"]
    [glucose_mg] = trend_mg["series"]
    assert (glucose_mmol["unit"], glucose_mg["unit"]) == ("mmol/L", "mg/dL")
    assert glucose_mmol["mean"] == pytest.approx(
        [v / 18.0156 for v in glucose_mg["mean"]], rel=1e-12
    )
    assert glucose_mmol["count"] == glucose_mg["count"]
    summary = client.get(f"{url}/summaries", headers=me(patient), params={"period": "day"}).json()
    assert summary["agp"]["unit"] == "mmol/L"
    latest = summary["latest"]["glucose_isf"]
    assert latest["unit"] == "mmol/L"
    assert latest["value"] == pytest.approx(values[-1] / 18.0156, rel=1e-12)


def test_days_are_counted_in_the_patients_zone(client: TestClient, patient: str) -> None:
    # 21:30Z and 23:30Z of one UTC day: two days in Paris (UTC+1 or +2), one in UTC.
    day = (NOW - timedelta(days=5)).date()
    evening = datetime(day.year, day.month, day.day, 21, 30, tzinfo=UTC)
    points = [(epoch_ms(evening), 80.0), (epoch_ms(evening + timedelta(hours=2)), 80.4)]
    ingest(client, "scale-1", "weight", "kg", points)
    url = f"/v1/patients/{patient}/summaries"
    paris = client.get(url, headers=me(patient), params={"period": "month"}).json()
    assert paris["zone"] == "Europe/Paris"
    assert paris["weight"]["days_with_readings"] == 2
    next_day = (day + timedelta(days=1)).isoformat()
    assert (
        client.get(url, headers=me(patient), params={"period": next_day}).json()["weight"][
            "readings"
        ]
        == 1
    )  # 00:30 or 01:30 in Paris
    put = client.put(
        f"/v1/patients/{patient}/preferences", headers=me(patient), json={"zone": "UTC"}
    )
    assert put.json()["effective_zone"] == "UTC"
    utc = client.get(url, headers=me(patient), params={"period": "month"}).json()
    assert (utc["zone"], utc["weight"]["days_with_readings"]) == ("UTC", 1)
    assert (
        client.get(url, headers=me(patient), params={"period": next_day}).json()["weight"] is None
    )


def test_untrusted_readings_stay_out(client: TestClient, patient: str) -> None:
    start = epoch_ms(NOW - timedelta(hours=13))
    times, values = cgm_trace(start, 0.5)  # ends an hour ago
    ingest(client, "cgm-1", "glucose_isf", "mg/dL", zip(times, values, strict=True))
    moment = NOW - timedelta(minutes=50)  # after the last trusted reading
    untrusted = [
        Reading(
            reading_id=f"untrusted-{k}",
            patient_id=patient,
            device_id="cgm-1",
            metric="glucose_isf",
            value=40.0,
            unit="mg/dL",
            effective_time=moment + timedelta(minutes=k),
            receive_time=NOW,
            device_time=(moment + timedelta(minutes=k)).isoformat(),
            time_source=TimeSource.UNTRUSTED,
            source=Source.MQTT,
            flags=("time-unknown",),
        )
        for k in range(20)
    ]
    client.app.state.hub.store.write_batch(untrusted)  # type: ignore[attr-defined]
    url = f"/v1/patients/{patient}"
    cgm = client.get(f"{url}/summaries/cgm", headers=me(patient)).json()
    trusted = cgm_summary(times, values, epoch_ms(NOW - timedelta(days=14)), epoch_ms(NOW), PARIS)
    assert cgm["readings"] == times.size
    assert cgm["tbr_below_54_percent"] == trusted.tbr_below_54_percent
    trends = client.get(f"{url}/trends", headers=me(patient), params={"period": "day"}).json()
    assert sum(trends["series"][0]["count"]) == times.size
    assert min(trends["series"][0]["min"]) > 40.0
    summary = client.get(f"{url}/summaries", headers=me(patient), params={"period": "day"}).json()
    assert summary["agp"]["readings"] == times.size
    assert summary["latest"]["glucose_isf"]["value"] == values[-1]


def test_a_practitioner_without_care_is_refused_and_audited(
    client: TestClient, patient: str
) -> None:
    url = f"/v1/patients/{patient}"
    routes = ["trends", "summaries", "summaries/cgm", "alerts", "preferences"]
    for route in routes:
        assert client.get(f"{url}/{route}", headers=DOCTOR).status_code == 200, route
        refused = client.get(f"{url}/{route}", headers=STRANGER)
        assert refused.status_code == 403, route
        assert refused.headers["content-type"] == "application/problem+json"
        assert "series" not in refused.json()
    trail = client.app.state.hub.registry.audit.trail(patient, limit=1000)  # type: ignore[attr-defined]
    refusals = {row.action for row in trail if row.actor == "dr-2"}
    assert refusals == {
        "trends.read",
        "summaries.read",
        "alerts.read",
        "preferences.read",
    }
    assert all(row.outcome == "refused" for row in trail if row.actor == "dr-2")
    assert client.put(f"{url}/preferences", headers=DOCTOR, json={}).status_code == 403


@pytest.mark.parametrize(
    ("period", "bucket_min"),
    [("day", 5), ("week", 30), ("2weeks", 60), ("month", 120), ("3months", 360)],
)
def test_the_bucket_is_chosen_from_the_range(
    client: TestClient, patient: str, period: str, bucket_min: int
) -> None:
    ingest(client, "scale-1", "weight", "kg", [(epoch_ms(NOW - timedelta(hours=2)), 81.5)])
    body = client.get(
        f"/v1/patients/{patient}/trends", headers=me(patient), params={"period": period}
    ).json()
    assert body["bucket_ms"] == bucket_min * 60_000
    [weight] = body["series"]
    assert weight["metric"] == "weight" and weight["unit"] == "kg"
    assert weight["t_ms"] == [
        epoch_ms(NOW - timedelta(hours=2)) // body["bucket_ms"] * body["bucket_ms"]
    ]
    assert weight["mean"] == weight["min"] == weight["max"] == [81.5]
    assert weight["count"] == [1]


def test_a_from_to_window_picks_its_own_bucket_and_is_bounded(
    client: TestClient, patient: str
) -> None:
    url = f"/v1/patients/{patient}/trends"
    params = {"from": (NOW - timedelta(days=365)).isoformat(), "to": NOW.isoformat()}
    body = client.get(url, headers=me(patient), params={**params, "metric": "weight"}).json()
    assert body["bucket_ms"] == 86_400_000  # a year: one day
    assert body["period"]["name"] is None and body["series"][0]["t_ms"] == []
    too_long = {"from": (NOW - timedelta(days=800)).isoformat(), "to": NOW.isoformat()}
    assert client.get(url, headers=me(patient), params=too_long).status_code == 422
    both = client.get(url, headers=me(patient), params={**params, "period": "day"})
    assert both.json()["type"] == "/problems/invalid-range"
    unknown = client.get(url, headers=me(patient), params={"metric": "mood"})
    assert unknown.json()["type"] == "/problems/unknown-metric"
    for path in ("trends", "summaries/cgm"):
        # `to` - 14 days would fall before year 1: refused by name, not a server error.
        ancient = client.get(
            f"/v1/patients/{patient}/{path}",
            headers=me(patient),
            params={"to": "0001-01-01T00:00:00Z"},
        )
        assert ancient.status_code == 422, path
        assert ancient.json()["errors"][0]["field"] == "to"


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=PARIS)


def test_iso_periods_are_computed_from_the_clock(client: TestClient, patient: str) -> None:
    today = NOW.astimezone(PARIS).date()
    monday = today - timedelta(days=today.weekday() + 7)  # last week's Monday
    year, week, _ = monday.isocalendar()
    name = f"{year}-W{week:02d}"
    inside = [local_midnight(monday + timedelta(days=d)) + timedelta(hours=8) for d in range(7)]
    outside = [local_midnight(monday) - timedelta(minutes=1), local_midnight(monday + timedelta(7))]
    points = [(epoch_ms(t), 80.0 + k / 10) for k, t in enumerate(inside + outside)]
    ingest(client, "scale-1", "weight", "kg", points)
    url = f"/v1/patients/{patient}/summaries"
    body = client.get(url, headers=me(patient), params={"period": name}).json()
    assert body["period"] == {
        "name": name,
        "from": local_midnight(monday).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": local_midnight(monday + timedelta(7)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "complete": True,
    }
    expected = weight_summary(
        [p[0] for p in points],
        [p[1] for p in points],
        epoch_ms(local_midnight(monday)),
        epoch_ms(local_midnight(monday + timedelta(7))),
        PARIS,
    )
    assert body["weight"] == expected.to_json()
    assert body["weight"]["readings"] == 7
    month = f"{today.year}-{today.month:02d}"
    running = client.get(url, headers=me(patient), params={"period": month}).json()["period"]
    assert running["complete"] is False
    assert running["to"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    next_week = today + timedelta(days=7)
    y, w, _ = next_week.isocalendar()
    future = client.get(url, headers=me(patient), params={"period": f"{y}-W{w:02d}"})
    assert future.status_code == 422 and future.json()["type"] == "/problems/invalid-period"
    bad = client.get(url, headers=me(patient), params={"period": "fortnight"})
    assert bad.json()["errors"][0]["field"] == "period"


def test_alerts_follow_the_programme_and_find_silent_devices(
    client: TestClient, patient: str
) -> None:
    heart = client.put(
        "/v1/programs/heart-failure",
        headers=ADMIN,
        json={"name": "Heart failure", "thresholds": {"weight_gain_kg": 1.5}},
    )
    assert heart.status_code == 201, heart.text
    assert heart.json()["effective_thresholds"]["weight_gain_days"] == 3.0
    url = f"/v1/patients/{patient}"
    monday = NOW - timedelta(days=4)
    weighings = [(epoch_ms(monday), 80.0), (epoch_ms(monday + timedelta(days=2)), 81.6)]
    ingest(client, "scale-1", "weight", "kg", weighings)
    default = client.get(f"{url}/alerts", headers=me(patient)).json()
    codes = sorted(a["code"] for a in default["items"])
    # +1.6 kg is below the default 2 kg; the CGM has never sent anything in 120 days
    assert codes == ["device.silent"]
    assert default["items"][0]["device_id"] == "cgm-1"
    assert default["items"][0]["message"] == "no reading ever"
    assert default["program"] is None and default["algorithm_version"] == "alerts-1.0"
    # The care team puts the patient in the programme; the patient cannot (a clinical choice).
    refused = client.put(f"{url}/program", headers=me(patient), json={"program": "heart-failure"})
    assert refused.status_code == 403
    chosen = client.put(f"{url}/program", headers=DOCTOR, json={"program": "heart-failure"})
    assert chosen.status_code == 200 and chosen.json()["program"] == "heart-failure"
    ingest(client, "cgm-1", "glucose_isf", "mg/dL", [(epoch_ms(NOW - timedelta(days=4)), 120.0)])
    body = client.get(f"{url}/alerts", headers=DOCTOR).json()
    assert body["program"] == {"id": "heart-failure", "name": "Heart failure"}
    assert body["thresholds"]["weight_gain_kg"] == 1.5
    by_code = {a["code"]: a for a in body["items"]}
    assert set(by_code) == {"weight.rapid_gain", "cgm.insufficient_data", "device.silent"}
    assert by_code["weight.rapid_gain"]["value"] == pytest.approx(1.6)
    assert by_code["device.silent"]["value"] == pytest.approx(4.0)  # days since its reading


def test_preferences_and_programmes(client: TestClient, patient: str) -> None:
    other = "pat-not-registered"
    defaults = client.get(f"/v1/patients/{other}/preferences", headers=me(other)).json()
    assert defaults == {
        "patient_id": other,
        "registered": False,
        "zone": None,
        "effective_zone": "Europe/Paris",
        "language": "fr",
        "glucose_unit": "mg/dL",
        "program": None,
    }
    put = client.put(f"/v1/patients/{other}/preferences", headers=me(other), json={})
    assert put.status_code == 404
    url = f"/v1/patients/{patient}/preferences"
    bad_zone = client.put(url, headers=me(patient), json={"zone": "Europe/Atlantis"})
    assert bad_zone.status_code == 422
    unknown = client.put(f"/v1/patients/{patient}/program", headers=ADMIN, json={"program": "nope"})
    assert unknown.json()["type"] == "/problems/unknown-program"
    assert client.get(url, headers=DOCTOR).json()["registered"] is True
    bad = client.put("/v1/programs/p1", headers=ADMIN, json={"name": "x", "thresholds": {"a": 1}})
    assert bad.status_code == 422 and "unknown threshold" in bad.text
    created = client.put("/v1/programs/p1", headers=ADMIN, json={"name": "Diabetes"})
    replaced = client.put(
        "/v1/programs/p1",
        headers=ADMIN,
        json={"name": "Diabetes, older adults", "thresholds": {"cgm_tir_min_percent": 50}},
    )
    assert (created.status_code, replaced.status_code) == (201, 200)
    got = client.get("/v1/programs/p1", headers=ADMIN).json()
    assert got["thresholds"] == {"cgm_tir_min_percent": 50.0}
    assert got["effective_thresholds"]["cgm_tbr54_max_percent"] == 1.0
    assert client.get("/v1/programs/p2", headers=ADMIN).status_code == 404
    assert client.get("/v1/programs/p1", headers=DOCTOR).status_code == 403


def test_the_page_and_only_its_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "i18n.js", "app.css", "uPlot.iife.min.js", "uPlot.min.css"):
        asset = client.get(f"/web/{name}")
        assert asset.status_code == 200, f"{name}: {asset.text}"
    assert client.get("/web/package.json").status_code == 404
    assert client.get("/web/..%2Fapp.py").status_code == 404
