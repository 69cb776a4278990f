"""The MQTT broker for local runs and tests: a spawned Mosquitto, or the embedded fallback.

Mosquitto's defaults drop queued messages silently once a subscriber falls behind
(``max_queued_messages 1000``; docs/deployment.md has the measurement); the configuration
written here keeps every queued message (``max_queued_messages 0``) and persists sessions and
queues across restarts. The production configuration lives in ``deploy/mosquitto/``.

The embedded broker (amqtt, pure Python, MQTT 3.1.1 only, ~1.4k msg/s) is the fallback of
``hub up`` on a machine without Mosquitto; the bridge then speaks MQTT 3.1.1.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import subprocess
from pathlib import Path


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None,
    )


def mosquitto_config(host: str, port: int, data_dir: Path) -> str:
    """A development/test configuration: loopback, anonymous, persistent, no silent drops."""
    return "\n".join(
        [
            f"listener {port} {host}",
            # Run as whoever started us: as root, Mosquitto would otherwise switch to the
            # `mosquitto` user, which cannot write our data directory.
            f"user {getpass.getuser()}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {data_dir.resolve()}/",
            "autosave_interval 30",
            "max_queued_messages 0",  # 0 = unlimited: never drop a queued QoS 1 message
            "max_inflight_messages 0",
            "persistent_client_expiration 7d",
            "sys_interval 10",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "",
        ]
    )


def spawn_mosquitto(host: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    binary = mosquitto_binary()
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed")
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "mosquitto.conf"
    config.write_text(mosquitto_config(host, port, data_dir))
    return subprocess.Popen([binary, "-c", str(config)])


def run_embedded(host: str, port: int) -> None:
    """Serve MQTT 3.1.1 on ``host:port`` with amqtt until interrupted (blocking)."""
    try:
        from amqtt.broker import Broker
    except ImportError as err:
        raise SystemExit(
            "no Mosquitto binary and the embedded broker is not installed: "
            "install mosquitto, or `pip install '.[embedded-broker]'`"
        ) from err

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }

    async def serve() -> None:
        broker = Broker(config)
        await broker.start()
        try:
            await asyncio.Event().wait()
        finally:
            await broker.shutdown()

    asyncio.run(serve())
