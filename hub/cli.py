"""The ``hub`` command: one entry point, one subcommand per role or tool.

hub up          the whole hub on one machine (what ``make run`` starts)
hub api         the HTTP API alone
hub bridge      the MQTT bridge alone
hub broker      the embedded MQTT broker alone (development)
hub sim         the simulated device fleet
hub token       print a development bearer token
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from hub.config import Settings, load_settings

log = logging.getLogger("hub")


def _cmd_up(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.up import Supervisor

    return Supervisor(settings).run()


def _cmd_api(settings: Settings, _args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0


def _cmd_bridge(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.ingest import open_ingestor
    from hub.mqtt_bridge import MqttBridge

    ingestor = open_ingestor(settings)
    bridge = MqttBridge(settings.mqtt, ingestor)
    _stop_on_signals(bridge.request_stop)
    try:
        bridge.run_forever()
    finally:
        ingestor.close()
    t = bridge.totals
    log.info(
        "bridge stopped: %d messages, %d stored, %d duplicates, %d dead letters, %d quarantined",
        t.messages,
        t.stored,
        t.duplicates,
        t.dead_lettered,
        t.quarantined,
    )
    return 0


def _cmd_broker(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.broker import run_embedded

    with contextlib.suppress(KeyboardInterrupt):
        run_embedded(settings.mqtt.host, settings.mqtt.port)
    return 0


def _cmd_sim(settings: Settings, args: argparse.Namespace) -> int:
    from gateway_firmware_sim.fleet import Fleet
    from hub.tokens import Role, mint_token

    token = mint_token(
        settings.auth,
        subject="hub-sim",
        role=Role.ADMIN,
        now=datetime.now(UTC),
        ttl=timedelta(days=30),
    )
    fleet = Fleet(
        settings.mqtt,
        api_url=args.api,
        token=token,
        patients=args.patients or settings.sim.patients,
        speed=args.speed or settings.sim.speed,
        seed=settings.sim.seed,
        history=timedelta(hours=args.history_hours),
    )
    _stop_on_signals(fleet.request_stop)
    fleet.run()
    return 0


def _cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from hub.tokens import Role, mint_token

    print(
        mint_token(
            settings.auth,
            subject=args.sub,
            role=Role(args.role),
            now=datetime.now(UTC),
            ttl=timedelta(hours=args.ttl_hours),
        )
    )
    return 0


def _stop_on_signals(stop: Callable[[], None]) -> None:
    def handler(_signum: int, _frame: object) -> None:
        stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run the whole hub (broker, API, bridge, simulated fleet)")
    sub.add_parser("api", help="run the HTTP API")
    sub.add_parser("bridge", help="run the MQTT bridge")
    sub.add_parser("broker", help="run the embedded MQTT broker (development)")
    sim = sub.add_parser("sim", help="run the simulated device fleet")
    sim.add_argument("--api", default="http://127.0.0.1:8000", help="API base URL")
    sim.add_argument("--patients", type=int, default=0, help="default: settings sim.patients")
    sim.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="simulated seconds per real second while catching up",
    )
    sim.add_argument(
        "--history-hours",
        type=float,
        default=24.0,
        help="simulated history to replay before going live",
    )
    token = sub.add_parser("token", help="print a development bearer token")
    token.add_argument(
        "--role", required=True, choices=["patient", "practitioner", "device_maker", "admin"]
    )
    token.add_argument("--sub", required=True, help="subject: for a patient, the patient id")
    token.add_argument("--ttl-hours", type=float, default=12.0)
    return parser


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "up": _cmd_up,
    "api": _cmd_api,
    "bridge": _cmd_bridge,
    "broker": _cmd_broker,
    "sim": _cmd_sim,
    "token": _cmd_token,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as err:
        print(f"hub: invalid settings:\n{err}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return _COMMANDS[args.command](settings, args)
