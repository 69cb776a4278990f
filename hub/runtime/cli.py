"""The ``hub`` command: one entry point, one subcommand per role or tool.

Its commands, as ``hub --help`` and the README's table of commands list them (a unit test,
tests/unit/test_cli.py, keeps the three the same)::

    hub up           run the whole hub on one machine with simulated devices (make run)
    hub api          run the HTTP API
    hub bridge       run the MQTT bridge: messages from the broker into the stores
    hub broker       run the embedded MQTT broker (development)
    hub sim          run simulated patients, devices and gateways against the hub
    hub decode       decode one Bluetooth SIG characteristic value, as JSON
    hub profiles     device catalog: list the profiles, or check profile files
    hub token        print a development bearer token
    hub devices      device MQTT accounts: provision (and register in the hub), revoke
    hub gateways     BLE gateways: provision (register, pair, MQTT account), revoke
    hub ble-gateway  run the BLE gateway: devices over bleak/BlueZ to the hub over MQTT
    hub vault        run the reference document vault (IHE MHD ITI-65/67/68)
    hub reports      periodic reports into the health space: run a period now, or serve the schedule

The first eight are defined here; the others in modules of their own
(``hub/runtime/commands/``), imported only when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import ValidationError

from hub.config import Settings, load_settings
from hub.runtime.logs import configure_logging

log = logging.getLogger("hub")


def _cmd_up(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.runtime.up import Supervisor

    return Supervisor(settings).run()


def _cmd_api(settings: Settings, _args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers go through ours (HUB_LOG_FORMAT)
        access_log=False,
        ssl_certfile=settings.api.tls_certfile,
        ssl_keyfile=settings.api.tls_keyfile,
    )
    return 0


def _cmd_bridge(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.adapters.ingest_workers import IngestProcesses, InlineIngest
    from hub.adapters.mqtt_bridge import BridgeStalled, MqttBridge
    from hub.runtime.ingest_worker import open_ingest_worker
    from hub.services.ingest import open_ingestor

    # The bridge's own ingestor records gateway statuses (and ingests, with no workers).
    ingestor = open_ingestor(settings)
    workers = settings.mqtt.ingest_workers
    ingest = (
        IngestProcesses(open_ingest_worker, settings, workers)
        if workers
        else InlineIngest(ingestor)
    )
    bridge = MqttBridge(settings.mqtt, ingest, gateway_statuses=ingestor.registry.gateways)
    if settings.mqtt.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(
            settings.mqtt.metrics_port, settings.mqtt.metrics_host, registry=bridge.metrics.registry
        )
    _stop_on_signals(bridge.request_stop)
    stalled = False
    try:
        bridge.run_forever(watchdog_s=settings.mqtt.watchdog_s)
    except BridgeStalled as err:
        log.error("bridge watchdog: %s; exiting so that it is restarted", err)
        stalled = True
        return 3
    finally:
        ingest.close(wait=not stalled)
        ingestor.close()
    totals = bridge.totals
    log.info(
        "bridge stopped: %d messages, %d stored, %d duplicates, %d dead letters, %d quarantined",
        totals.messages,
        totals.stored,
        totals.duplicates,
        totals.dead_lettered,
        totals.quarantined,
    )
    return 0


def _cmd_broker(settings: Settings, _args: argparse.Namespace) -> int:
    from hub.runtime.broker import run_embedded

    with contextlib.suppress(KeyboardInterrupt):
        run_embedded(settings.mqtt.host, settings.mqtt.port)
    return 0


def _cmd_sim(settings: Settings, args: argparse.Namespace) -> int:
    import math
    from pathlib import Path

    from gateway_firmware_sim.enrollment import ApiEnroller
    from gateway_firmware_sim.fleet import Fleet, FleetConfig
    from gateway_firmware_sim.world import ALL_SCENARIOS, Scenario
    from hub.adapters.tokens import Role, mint_token

    token = mint_token(
        settings.auth,
        subject="hub-sim",
        role=Role.ADMIN,
        now=datetime.now(UTC),
        ttl=timedelta(days=30),
    )
    names = {n.strip() for value in args.scenario for n in value.split(",") if n.strip()}
    known = {s.value for s in Scenario}
    unknown = sorted(names - known - {"all"})
    if unknown:
        choices = ", ".join(sorted(known))
        message = f"hub sim: unknown scenario {', '.join(unknown)}; known: {choices}, all"
        print(message, file=sys.stderr)
        return 2
    scenarios = ALL_SCENARIOS if "all" in names else frozenset(Scenario(n) for n in names)
    history_hours = args.history_hours if args.days is None else args.days * 24
    speed = args.speed or settings.sim.speed
    fleet = Fleet(
        settings.mqtt,
        FleetConfig(
            patients=args.patients if args.patients is not None else settings.sim.patients,
            gateways=args.gateways,
            speed=math.inf if speed == "max" else float(speed),
            history_s=history_hours * 3600,
            live=args.live,
            seed=args.seed if args.seed is not None else settings.sim.seed,
            scenarios=scenarios,
            data_dir=Path(args.data_dir) if args.data_dir else settings.data_dir / "sim",
            drain_timeout_s=args.drain_timeout,
            bridge_client_id=settings.mqtt.client_id,
            progress=args.progress,
            summary_json=Path(args.summary_json) if args.summary_json else None,
        ),
        enroller=ApiEnroller(args.api, token),
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per enrollment is noise
    _stop_on_signals(fleet.request_stop)
    summary = fleet.run()
    print(summary.text(), flush=True)
    return 0 if args.live or summary.outstanding == 0 else 1


def _speed(text: str) -> str | float:
    if text == "max":
        return text
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be > 0, or 'max'")
    return value


def _cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from hub.adapters.tokens import Role, mint_token

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


def _cmd_decode(_settings: Settings, args: argparse.Namespace) -> int:
    """Any characteristic the gateway handles, as JSON: ``{"uuid", "characteristic",
    "record"`` (every field, ``device_profiles.json_view``) ``, "measurements"}`` (the coded
    readings of a measurement characteristic; empty for the others)."""
    from device_profiles import strict_json, uuids
    from device_profiles.codecs import codec_for
    from device_profiles.errors import DecodeError
    from device_profiles.json_view import to_json
    from device_profiles.vocabulary import METRICS

    try:
        data = bytes.fromhex(args.hex.replace(":", "").replace(" ", ""))
    except ValueError:
        print("hub decode: --hex is not hexadecimal bytes", file=sys.stderr)
        return 2
    try:
        codec = codec_for(args.uuid)
        record = codec.parse(data)
        measurements = codec.decode(data) if codec.is_measurement else []
    except DecodeError as err:
        print(f"hub decode: {err}", file=sys.stderr)
        return 1
    out = []
    for measurement in measurements:
        definition = METRICS[measurement.metric]
        out.append(
            {
                "metric": measurement.metric,
                "mdc": {"code": definition.mdc_code, "ref": definition.mdc_ref},
                "loinc": definition.loinc,
                "value": None if measurement.value is None else str(measurement.value),
                "special": None if measurement.special is None else measurement.special.value,
                "unit": measurement.unit,
                "time": measurement.time_raw,
                "sequence": measurement.sequence,
                "user_id": measurement.user_id,
                "annotations": list(measurement.annotations),
            }
        )
    document = {
        "uuid": uuids.uuid_str(codec.uuid),
        "characteristic": codec.name,
        "record": to_json(record),
        "measurements": out,
    }
    print(strict_json.dumps(document).decode())
    return 0


def _cmd_profiles(_settings: Settings, args: argparse.Namespace) -> int:
    from device_profiles.catalog import load_catalog, load_profile_file
    from device_profiles.errors import ProfileError

    if args.action == "list":
        for profile in sorted(load_catalog().values(), key=lambda p: p.id):
            print(f"{profile.id:32} {profile.transport:10} {profile.manufacturer} {profile.model}")
        return 0
    failed = 0
    for path in args.files:
        try:
            profile = load_profile_file(path)
        except ProfileError as err:
            failed += 1
            print(err, file=sys.stderr)
        except OSError as err:
            failed += 1
            print(f"{path}: cannot read: {err.strerror}", file=sys.stderr)
        else:
            print(f"{path}: ok ({profile.id}, {profile.transport})")
    return 1 if failed else 0


def _stop_on_signals(stop: Callable[[], None]) -> None:
    def handler(_signum: int, _frame: object) -> None:
        stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub", description="The hub: one entry point, one subcommand per role or tool."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("up", help="run the whole hub on one machine with simulated devices (make run)")
    sub.add_parser("api", help="run the HTTP API")
    sub.add_parser("bridge", help="run the MQTT bridge: messages from the broker into the stores")
    sub.add_parser("broker", help="run the embedded MQTT broker (development)")
    sim = sub.add_parser(
        "sim",
        help="run simulated patients, devices and gateways against the hub",
        description="Simulated patients, devices and gateways publishing to the hub "
        "(docs/simulator.md). Replays history fast, then runs live.",
    )
    sim.add_argument("--api", default="http://127.0.0.1:8000", help="API base URL")
    sim.add_argument("--patients", type=int, default=None, help="default: settings sim.patients")
    sim.add_argument(
        "--gateways",
        type=int,
        default=None,
        help="BLE gateways (patients share them); default: one per patient with BLE devices",
    )
    sim.add_argument(
        "--speed",
        type=_speed,
        default=None,
        help="simulated seconds per real second while replaying history, or 'max' "
        "(as fast as the hub acknowledges); default: settings sim.speed",
    )
    sim.add_argument(
        "--history-hours",
        type=float,
        default=24.0,
        help="simulated history to replay before going live",
    )
    sim.add_argument("--days", type=float, default=None, help="history in days (overrides hours)")
    sim.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="fault switch, repeatable or comma-separated: clock-years, clock-drift, "
        "duplicates, malformed, offline-days, two-gateways, power-loss, device-move, all",
    )
    sim.add_argument("--seed", type=int, default=None, help="default: settings sim.seed")
    sim.add_argument(
        "--live",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep running in real time after the replay (--no-live: stop once all is acked)",
    )
    sim.add_argument(
        "--data-dir", default=None, help="outboxes of gateways and devices; default: <data_dir>/sim"
    )
    sim.add_argument(
        "--drain-timeout",
        type=float,
        default=180.0,
        help="--no-live: seconds to wait for the last acks",
    )
    sim.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress line on stderr (default: when stderr is a terminal)",
    )
    sim.add_argument("--summary-json", default=None, help="write the run's summary here")
    decode = sub.add_parser("decode", help="decode one Bluetooth SIG characteristic value, as JSON")
    decode.add_argument("--uuid", required=True, help="characteristic, e.g. 2A35")
    decode.add_argument("--hex", required=True, help="the value's bytes in hex")
    profiles = sub.add_parser(
        "profiles", help="device catalog: list the profiles, or check profile files"
    )
    profiles.add_argument("action", choices=["list", "check"])
    profiles.add_argument("files", nargs="*", help="TOML profile files (for check)")
    token = sub.add_parser("token", help="print a development bearer token")
    token.add_argument(
        "--role", required=True, choices=["patient", "practitioner", "device_maker", "admin"]
    )
    token.add_argument("--sub", required=True, help="subject: for a patient, the patient id")
    token.add_argument("--ttl-hours", type=float, default=12.0)
    for name in COMMAND_MODULES:
        module = _command_module(name)
        module.configure(sub.add_parser(module.NAME, help=module.HELP))
    return parser


# Subcommands in modules of their own (hub/runtime/commands/__init__.py: the contract).
COMMAND_MODULES: tuple[str, ...] = ("devices", "gateways", "ble_gateway", "vault", "reports")


class _CommandModule(Protocol):
    NAME: str
    HELP: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, settings: Settings, args: argparse.Namespace) -> int: ...


def _command_module(name: str) -> _CommandModule:
    module: _CommandModule = importlib.import_module(f"hub.runtime.commands.{name}")
    return module


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "up": _cmd_up,
    "api": _cmd_api,
    "bridge": _cmd_bridge,
    "broker": _cmd_broker,
    "sim": _cmd_sim,
    "token": _cmd_token,
    "decode": _cmd_decode,
    "profiles": _cmd_profiles,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as err:
        print(f"hub: invalid settings:\n{err}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    command = _COMMANDS.get(args.command)
    if command is None:
        module = next(
            _command_module(name)
            for name in COMMAND_MODULES
            if args.command == _command_module(name).NAME
        )
        command = module.run
    return command(settings, args)
