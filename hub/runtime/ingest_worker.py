"""The start of an ingest worker process of ``hub bridge`` (``hub.adapters.ingest_workers``):
the same logging as the bridge, Ctrl-C left to the bridge (it stops the workers itself, after
acknowledging what they committed), and an ingestor on the bridge's settings."""

from __future__ import annotations

import atexit
import signal

from hub.config import Settings
from hub.runtime.logs import configure_logging
from hub.services.ingest import Ingestor, open_ingestor


def open_ingest_worker(settings: Settings) -> Ingestor:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings.log_level, settings.log_format)
    ingestor = open_ingestor(settings)
    atexit.register(ingestor.close)
    return ingestor
