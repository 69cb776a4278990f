"""Hostile JSON through the real MQTT path: Mosquitto, `hub bridge` (with its ingest worker),
`hub api`.

A device publishes, on its canonical topic, readings whose JSON no parser should be trusted
with — an integer of 4,400 digits (past Python's own 4,300-digit limit, quadratic to convert),
nesting 10,000 levels deep (past the recursion limit), a key given twice (parsers disagree on
which value wins) — between good readings from it and from another device. Each is a dead
letter whose reason names the limit; every good reading is stored; the bridge keeps going.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hub.core.wire import device_readings_topic
from tests.integration.conftest import Broker, HubProcesses, wait_until
from tests.integration.test_slice import NOW, dead_letters, enroll, iso, publish, readings

pytestmark = pytest.mark.integration

BASE = NOW - timedelta(hours=2)


def good(n: int) -> str:
    """Good reading ``n`` (of either device): its value and minute are its own."""
    time = iso(BASE + timedelta(minutes=n))
    return json.dumps({"metric": "glucose", "value": 100 + n, "unit": "mg/dL", "time": time})


def fields(value: str) -> str:
    """A canonical reading's JSON with ``value`` as written, the rest good."""
    time = iso(BASE - timedelta(minutes=30))
    return f'{{"metric": "glucose", "value": {value}, "unit": "mg/dL", "time": "{time}"}}'


# (payload, what its dead letter's reason says)
POISONS = [
    (fields("1" + "0" * 4399), "has more than 30 digits"),
    (fields("[" * 10_000 + "]" * 10_000), "nests deeper than 32 levels"),
    (fields('101, "value": 100'), "key repeated in one object: 'value'"),
]


def test_hostile_json_is_dead_lettered_and_the_bridge_keeps_going(
    mosquitto: Broker, hub: HubProcesses
) -> None:
    hub.start("api")
    bridge = hub.start("bridge")
    enroll(hub, "meter-1")
    enroll(hub, "meter-2")
    poisoned, other = device_readings_topic("meter-1"), device_readings_topic("meter-2")
    assert len(POISONS[0][0].encode()) > 4400 and len(POISONS[1][0]) > 20_000
    client = mosquitto.client()
    n = 0
    publish(client, poisoned, good(n))
    publish(client, other, good(n + 1))
    for payload, _ in POISONS:
        n += 2
        publish(client, poisoned, payload)
        publish(client, poisoned, good(n))
        publish(client, other, good(n + 1))
    expected = [100.0 + i for i in range(n + 2)]
    wait_until(lambda: len(readings(hub)) == len(expected), "every good reading stored", 20)

    wait_until(lambda: len(dead_letters(hub)) == len(POISONS), "every poison dead-lettered", 10)
    letters = dead_letters(hub)
    for payload, reason in POISONS:
        [letter] = [d for d in letters if reason in d["reason"]]
        assert (letter["kind"], letter["topic"]) == ("malformed", poisoned)
        assert letter["sender_id"] == "meter-1"
        assert letter["payload_size"] == len(payload.encode())
    # The bridge is alive and still ingesting: a reading published after all of it is stored.
    publish(client, poisoned, good(n + 2))
    wait_until(lambda: len(readings(hub)) == len(expected) + 1, "a reading after the poison", 10)
    stored = readings(hub)
    assert sorted(r["value"] for r in stored) == [*expected, 100.0 + n + 2]
    assert {r["device_id"] for r in stored} == {"meter-1", "meter-2"}
    assert bridge.poll() is None, hub.log("bridge")
    assert "Traceback" not in hub.log("bridge")
    client.loop_stop()
