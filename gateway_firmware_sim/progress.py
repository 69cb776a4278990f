"""The fleet's progress line on a terminal: redrawn in place at most five times a second, ended
with a newline when the run ends (the line itself: ``report.progress_line``)."""

from __future__ import annotations

from typing import TextIO

from gateway_firmware_sim.realtime import Clock
from gateway_firmware_sim.report import progress_line

REDRAW_EVERY_S = 0.2


class Progress:
    def __init__(self, stream: TextIO, clock: Clock, *, show: bool | None) -> None:
        """``show`` None: draw when ``stream`` is a terminal."""
        self.stream = stream
        self.clock = clock
        self.show = stream.isatty() if show is None else show
        self._drawn_at: float | None = None

    def draw(
        self,
        *,
        sim: float,
        start: float,
        end: float,
        live: bool,
        readings: int,
        sent: int,
        acked: int,
        outstanding: int,
        final: bool = False,
    ) -> None:
        if not self.show:
            return
        now = self.clock.monotonic()
        if not final and self._drawn_at is not None and now - self._drawn_at < REDRAW_EVERY_S:
            return
        self._drawn_at = now
        line = progress_line(
            sim=sim,
            start=start,
            end=end,
            live=live,
            readings=readings,
            sent=sent,
            acked=acked,
            outstanding=outstanding,
        )
        self.stream.write("\r" + line + ("\n" if final else ""))
        self.stream.flush()
