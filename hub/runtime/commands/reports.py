"""``hub reports``: periodic reports filed into the patients' health space (docs/documents.md).

``hub reports run --period 2026-W47`` computes the reports of one period (an ISO week or a
month) for every registered patient whose program has that kind of period, queues what is new
or changed, delivers it to the vault, and prints how many were filed, unchanged, empty,
failed — and queued, when the vault did not take them in time (``hub reports serve`` delivers
them later). ``hub reports serve`` is what ``hub up`` runs: the schedule (every
``reports.schedule_interval_s``, the last ``reports.recompute_periods`` complete periods of
each kind) and the delivery of the outbox, with retries, until stopped.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from hub.config import Settings

if TYPE_CHECKING:
    from hub.adapters.registry import Registry
    from hub.adapters.registry.filings import FilingStore
    from hub.adapters.store import ReadingStore
    from hub.services.reports import ReportService

NAME = "reports"
HELP = "periodic reports into the health space: run a period now, or serve the schedule"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="file the reports of one period now")
    run.add_argument("--period", required=True, help="an ISO week (2026-W47) or a month (2026-11)")
    run.add_argument(
        "--deliver-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the vault to take the filings (the rest stays queued)",
    )
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    sub.add_parser("serve", help="compute due reports on a schedule and deliver the outbox")


class ProgressBar:
    """``[#########...........]  9/20 patients`` on one line of a terminal."""

    def __init__(self, out: TextIO, width: int = 30) -> None:
        self.out = out
        self.width = width

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done >= total else ""
        self.out.write(f"\r[{bar}] {done}/{total} patients{end}")
        self.out.flush()


def _open(settings: Settings) -> tuple[ReadingStore, Registry, FilingStore, ReportService]:
    from device_profiles.catalog import load_catalog
    from hub.adapters.registry import Registry
    from hub.adapters.store import open_store
    from hub.services.reports import ReportService

    assert settings.registry.url is not None
    store = open_store(settings)
    registry = Registry(
        settings.registry.url, busy_timeout_s=settings.registry.sqlite_busy_timeout_s
    )
    filings = registry.filings
    return (
        store,
        registry,
        filings,
        ReportService(settings, store, registry, filings, load_catalog()),
    )


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from hub.adapters.registry.filings import DELIVERED, FAILED, PENDING
    from hub.adapters.vault_client import VaultClient
    from hub.core.periods import REPORT_KINDS, parse_period
    from hub.services.filing import Deliverer

    try:
        period = parse_period(args.period)
    except ValueError as err:
        print(f"hub reports: {err}", file=sys.stderr)
        return 2
    if period.kind not in REPORT_KINDS:
        print(f"hub reports: reports cover a week or a month, not a {period.kind}", file=sys.stderr)
        return 2
    if period.end_day > datetime.now(ZoneInfo(settings.time.zone)).date():
        print(f"hub reports: {period.label} has not ended yet", file=sys.stderr)
        return 2
    store, registry, filings, service = _open(settings)
    try:
        show = sys.stderr.isatty() if args.progress is None else args.progress
        summary = service.run(
            lambda plan: [period] if period.kind in plan.periods else [],
            progress=ProgressBar(sys.stderr) if show else lambda _d, _t: None,
        )
        with VaultClient(settings.vault.url, timeout_s=settings.vault.timeout_s) as vault:
            deliverer = Deliverer(settings, registry, filings, vault)
            deadline = time.monotonic() + args.deliver_timeout
            states = filings.states(summary.filing_ids)
            while PENDING in states.values() and time.monotonic() < deadline:
                deliverer.deliver_due()
                states = filings.states(summary.filing_ids)
                if PENDING in states.values():
                    time.sleep(min(1.0, settings.reports.delivery_poll_s))
        counts = summary.counts
        filed = sum(1 for s in states.values() if s == DELIVERED)
        queued = sum(1 for s in states.values() if s == PENDING)
        failed = counts.get("failed", 0) + sum(1 for s in states.values() if s == FAILED)
        print(
            f"{period.label}: filed {filed}, unchanged {counts.get('unchanged', 0)}, "
            f"empty {counts.get('empty', 0)}, failed {failed}"
            + (f", queued for delivery {queued}" if queued else "")
        )
        return 1 if failed else 0
    finally:
        store.close()
        registry.close()


def _serve(settings: Settings) -> int:
    import logging

    from prometheus_client import CollectorRegistry, start_http_server

    from hub.adapters.vault_client import VaultClient
    from hub.services.filing import Deliverer

    log = logging.getLogger("hub.reports")
    stop = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    store, registry, filings, service = _open(settings)
    try:
        with VaultClient(settings.vault.url, timeout_s=settings.vault.timeout_s) as vault:
            metrics = CollectorRegistry()
            deliverer = Deliverer(settings, registry, filings, vault, metrics=metrics)
            if settings.reports.metrics_port:
                start_http_server(
                    settings.reports.metrics_port, settings.reports.metrics_host, registry=metrics
                )
            delivery = threading.Thread(target=deliverer.run, args=(stop,), name="delivery")
            delivery.start()
            while not stop.is_set():
                started = datetime.now(UTC)
                summary = service.run(service.due_periods)
                log.info("reports due at %s: %s", started.isoformat(), summary.counts)
                stop.wait(settings.reports.schedule_interval_s)
            delivery.join()
        return 0
    finally:
        store.close()
        registry.close()


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "run":
        return _run(settings, args)
    return _serve(settings)
