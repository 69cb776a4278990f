"""The baseline consumer: a bare paho-mqtt subscriber that acknowledges every message at once.

    python -m bench.paho_sub PORT CLIENT_ID prime          # subscribe, keep the session, exit
    python -m bench.paho_sub PORT CLIENT_ID drain COUNT    # take COUNT messages, ack each

MQTT 5, QoS 1, persistent session, manual acknowledgement, ReceiveMaximum 2000 — the same
flow control as the hub's bridge, without any work per message. ``drain`` prints one JSON line:
the monotonic times of the first message and of the last acknowledgement.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

TOPIC = "hs/v1/#"
RECEIVE_MAXIMUM = 2000


def main(argv: list[str]) -> int:
    port, client_id, mode = int(argv[0]), argv[1], argv[2]
    expected = int(argv[3]) if mode == "drain" else 0
    done = threading.Event()
    subscribed = threading.Event()
    state = {"count": 0, "first": 0.0, "last": 0.0}
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
    )

    def on_message(c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if state["count"] == 0:
            state["first"] = time.monotonic()
        c.ack(message.mid, message.qos)
        state["count"] += 1
        if state["count"] >= expected:
            state["last"] = time.monotonic()
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    if mode == "prime":
        subscribed.wait(30)
    else:
        done.wait(3600)
        print(json.dumps({"first": state["first"], "last": state["last"], "count": state["count"]}))
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
