"""The vertical slice against real processes: Mosquitto, `hub bridge`, `hub api`.

A device publishes canonical JSON over MQTT; the reading comes back through the HTTP API.
Bad messages interleaved with good ones are dead-lettered with a reason and never block them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from hub.adapters.tokens import Role
from hub.core.wire import device_readings_topic
from tests.integration.conftest import Broker, HubProcesses, wait_until

pytestmark = pytest.mark.integration

PATIENT = "pat-slice-1"
# Every time in these tests is relative to the clock at import: nothing here can expire.
NOW = datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """RFC 3339 with ``Z`` (the form the API answers with)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def enroll(
    hub: HubProcesses,
    device_id: str,
    patient_id: str = PATIENT,
    start: str | None = None,
) -> dict[str, Any]:
    start = start or iso(NOW - timedelta(days=400))
    with hub.http(Role.ADMIN, "ops-test") as http:
        response = http.post(
            "/v1/enrollments",
            json={"device_id": device_id, "patient_id": patient_id, "start": start},
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def readings(hub: HubProcesses, patient_id: str = PATIENT, **params: str) -> list[dict[str, Any]]:
    query = {"from": iso(NOW - timedelta(days=800)), "to": iso(NOW + timedelta(days=1)), **params}
    with hub.http(Role.PATIENT, patient_id) as http:
        response = http.get(f"/v1/patients/{patient_id}/readings", params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def dead_letters(hub: HubProcesses) -> list[dict[str, Any]]:
    """The hub's dead letters, as an admin lists them."""
    with hub.http(Role.ADMIN, "ops-test") as http:
        response = http.get("/v1/admin/dead-letters")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def publish(client: mqtt.Client, topic: str, payload: bytes | str) -> None:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(timeout=10)
    assert info.is_published()


def test_published_reading_comes_back_through_the_api(mosquitto: Broker, hub: HubProcesses) -> None:
    hub.start("api")
    hub.start("bridge")
    enroll(hub, "meter-1")
    client = mosquitto.client()
    taken = iso(hours_ago(2))
    reading = {"metric": "glucose", "value": 104, "unit": "mg/dL", "time": taken, "seq": 7}
    publish(client, device_readings_topic("meter-1"), json.dumps(reading))

    wait_until(lambda: len(readings(hub)) == 1, "the reading in the API")
    [item] = readings(hub)
    assert item["metric"] == "glucose"
    assert item["value"] == 104.0
    assert item["unit"] == "mg/dL"
    assert item["effective_time"] == taken
    assert item["device_time"] == taken
    assert item["device_id"] == "meter-1"
    assert item["seq"] == 7
    assert item["time_source"] == "device"
    codes = {c["system"]: c["code"] for c in item["codes"]}
    assert codes == {"urn:iso:std:iso:11073:10101": "160184", "http://loinc.org": "2339-0"}
    client.loop_stop()


def test_bad_messages_are_dead_lettered_and_good_ones_still_stored(
    mosquitto: Broker, hub: HubProcesses
) -> None:
    hub.start("api")
    hub.start("bridge")
    enroll(hub, "cuff-1")
    topic = device_readings_topic("cuff-1")

    base = hours_ago(3)

    def good(i: int) -> str:
        return json.dumps(
            {
                "metric": "systolic_bp",
                "value": 120 + i,
                "unit": "mmHg",
                "time": iso(base + timedelta(minutes=i)),
            }
        )

    taken = iso(base)

    bad_payloads: list[tuple[bytes | str, str]] = [
        (b"not json at all", "malformed"),
        (b'{"metric": "systolic_bp", "value": 12', "malformed"),  # truncated
        (
            json.dumps({"metric": "systolic_bp", "unit": "mmHg", "time": taken}),
            "malformed",
        ),  # missing value
        (
            json.dumps(
                {
                    "metric": "systolic_bp",
                    "value": "high",
                    "unit": "mmHg",
                    "time": taken,
                }
            ),
            "malformed",
        ),  # wrong type
        (
            json.dumps(
                {
                    "metric": "systolic_bp",
                    "value": 900,
                    "unit": "mmHg",
                    "time": taken,
                }
            ),
            "implausible",
        ),
        (
            json.dumps(
                {
                    "metric": "cholesterol",
                    "value": 5,
                    "unit": "mmol/L",
                    "time": taken,
                }
            ),
            "unknown-metric",
        ),
        (b"\xff\xfe\x00garbage", "malformed"),
        (b"[" * 5000, "malformed"),  # hostile nesting
        (b"x" * 300_000, "malformed"),  # oversized
    ]
    client = mosquitto.client()
    for i, (payload, _) in enumerate(bad_payloads):
        publish(client, topic, good(i))
        publish(client, topic, payload)
    publish(client, topic, good(len(bad_payloads)))
    # A reading from a device nobody enrolled: quarantined, not lost.
    publish(client, device_readings_topic("stranger-1"), good(0))

    expected_good = len(bad_payloads) + 1
    wait_until(lambda: len(readings(hub)) == expected_good, "every good reading stored")
    values = sorted(item["value"] for item in readings(hub))
    assert values == [120.0 + i for i in range(expected_good)]

    wait_until(
        lambda: len(dead_letters(hub)) == len(bad_payloads), "every bad message dead-lettered"
    )
    kinds = sorted(d["kind"] for d in dead_letters(hub))
    assert kinds == sorted(kind for _, kind in bad_payloads)
    reasons = {d["reason"] for d in dead_letters(hub)}
    assert any("not JSON" in r for r in reasons)
    assert any("required field is missing" in r for r in reasons)
    assert any("exceeds" in r for r in reasons)
    assert all(d["topic"] == topic for d in dead_letters(hub))

    # The stranger's reading waits in quarantine and is attributed once the device is enrolled.
    assert readings(hub, "pat-slice-2") == []
    released = enroll(hub, "stranger-1", "pat-slice-2")
    assert released["released_from_quarantine"] == 1
    [item] = readings(hub, "pat-slice-2")
    assert item["device_id"] == "stranger-1"
    client.loop_stop()


def test_the_same_reading_published_three_times_is_stored_once(
    mosquitto: Broker, hub: HubProcesses
) -> None:
    hub.start("api")
    hub.start("bridge")
    enroll(hub, "scale-1")
    client = mosquitto.client()
    paris = timezone(timedelta(hours=1))
    weighed = hours_ago(5).astimezone(paris)
    payload = json.dumps(
        {"metric": "weight", "value": 72.4, "unit": "kg", "time": weighed.isoformat(), "seq": 3}
    )
    for _ in range(3):
        publish(client, device_readings_topic("scale-1"), payload)
    later = (weighed + timedelta(minutes=1)).isoformat()
    marker = json.dumps({"metric": "weight", "value": 72.5, "unit": "kg", "time": later, "seq": 4})
    publish(client, device_readings_topic("scale-1"), marker)
    wait_until(lambda: len(readings(hub)) == 2, "both distinct readings")
    assert [r["value"] for r in readings(hub)] == [72.4, 72.5]
    assert readings(hub)[0]["effective_time"] == iso(weighed)
    client.loop_stop()


def test_mosquitto_pub_example_from_the_readme(mosquitto: Broker, hub: HubProcesses) -> None:
    """The README's hand-published reading, with the real `mosquitto_pub` client."""
    if shutil.which("mosquitto_pub") is None:
        pytest.fail("mosquitto_pub is missing: apt-get install mosquitto-clients")
    hub.start("api")
    hub.start("bridge")
    enroll(hub, "my-meter")
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            mosquitto.host,
            "-p",
            str(mosquitto.port),
            "-q",
            "1",
            "-t",
            "hs/v1/devices/my-meter/readings",
            "-m",
            json.dumps(
                {"metric": "glucose", "value": 104, "unit": "mg/dL", "time": iso(hours_ago(1))}
            ),
        ],
        check=True,
        timeout=10,
    )
    wait_until(lambda: len(readings(hub)) == 1, "the hand-published reading")


def test_vendor_json_and_gateway_frames_are_decoded_through_the_catalog(
    mosquitto: Broker, hub: HubProcesses
) -> None:
    from device_profiles.blood_pressure import BloodPressureRecord, BpStatus, encode_blood_pressure
    from device_profiles.gatt_time import GattDateTime
    from hub.core.wire import device_json_topic, gateway_frames_topic

    hub.start("api")
    hub.start("bridge")
    enroll(hub, "acme-1")
    enroll(hub, "ble-cuff-1")
    # Gateways are registered and speak only for the devices paired with them.
    with hub.http(Role.ADMIN, "ops-test") as http:
        device = {"device_id": "ble-cuff-1", "profile": "generic-ble-blood-pressure"}
        assert http.post("/v1/devices", json={**device, "maker": "acme"}).status_code == 201
        gateway = {"gateway_id": "gw-1", "owner": "acme"}
        assert http.post("/v1/gateways", json=gateway).status_code == 201
        assert http.put("/v1/gateways/gw-1/devices/ble-cuff-1").status_code == 200
    client = mosquitto.client()
    acks: list[dict[str, Any]] = []
    client.on_message = lambda _c, _u, msg: acks.append(json.loads(msg.payload))
    client.subscribe("hs/v1/gateways/gw-1/acks", qos=1)
    # The acme-bp-wifi shape (tests/fixtures/profiles/acme-bp-wifi.json), taken a year ago: a
    # record that is old but whose clock is right keeps its own date.
    a_year_ago = NOW - timedelta(days=365)
    vendor = {
        "ts": int(a_year_ago.timestamp()),
        "sys": 128,
        "dia": 82,
        "pulse": 71,
        "unit": "mmHg",
        "irregular": True,
        "cuff_ok": True,
        "fw": "2.1.0",
    }
    publish(client, device_json_topic("acme-1", "acme-bp-wifi"), json.dumps(vendor))
    # GATT Blood Pressure Measurement 0x2A35 (built with the project's encoder): 123/81/101
    # mmHg taken 2 hours ago on the cuff's local clock, pulse 64, irregular pulse; forwarded by
    # a gateway in +01:00; frame 2 is truncated.
    zone = timezone(timedelta(hours=1))
    taken = hours_ago(2)
    local = taken.astimezone(zone).replace(tzinfo=None)
    frame = encode_blood_pressure(
        BloodPressureRecord(
            systolic=Decimal(123),
            diastolic=Decimal(81),
            mean_arterial=Decimal(101),
            timestamp=GattDateTime.from_datetime(local),
            pulse_rate=Decimal(64),
            user_id=1,
            status=BpStatus.IRREGULAR_PULSE,
        )
    )
    frames = {
        "gateway_time": (taken + timedelta(seconds=5)).astimezone(zone).isoformat(),
        "device": {
            "id": "ble-cuff-1",
            "address": "C0:26:DA:01:02:03",
            "profile": "generic-ble-blood-pressure",
        },
        "frames": [
            {"seq": 1, "uuid": "2A35", "data": frame.hex()},
            {"seq": 2, "uuid": "2A35", "data": frame[:3].hex()},
        ],
    }
    publish(client, gateway_frames_topic("gw-1"), json.dumps(frames))

    wait_until(lambda: len(readings(hub)) == 7, "3 vendor + 4 gateway readings")
    by_device: dict[str, dict[str, dict[str, Any]]] = {}
    for item in readings(hub):
        by_device.setdefault(item["device_id"], {})[item["metric"]] = item
    acme = by_device["acme-1"]
    assert acme["systolic_bp"]["value"] == 128.0
    assert acme["systolic_bp"]["effective_time"] == iso(a_year_ago)
    assert "irregular-pulse" in acme["pulse_rate"]["flags"]
    cuff = by_device["ble-cuff-1"]
    assert cuff["systolic_bp"]["source"] == "gateway"
    assert cuff["systolic_bp"]["value"] == 123.0
    assert cuff["systolic_bp"]["effective_time"] == iso(taken)
    assert "time-zone-assumed" in cuff["systolic_bp"]["flags"]
    assert "irregular-pulse" in cuff["systolic_bp"]["flags"]
    dead = dead_letters(hub)
    assert [(d["item_index"], d["field"]) for d in dead] == [(1, "frames[1].diastolic")]
    # The end-to-end ack frees both frames from the gateway's outbox: the good one is stored,
    # the truncated one is kept as a dead letter; resending either would change nothing.
    wait_until(lambda: len(acks) == 1, "the end-to-end ack to the gateway")
    assert acks == [{"acks": [{"device_id": "ble-cuff-1", "seqs": [1, 2]}]}]
    client.loop_stop()
