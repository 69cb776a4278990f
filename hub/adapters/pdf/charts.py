"""Charts drawn with the PDF's own vector operators (fpdf2): the AGP and day-by-day trends.

Black on white, told apart by line weight and dash pattern rather than colour, so they read
the same printed in black and white: the AGP median is a thick line, the 25th-75th
percentiles thin lines, the 5th-95th dotted; trends draw each day's mean as a line with
points and its lowest-highest span as a vertical bar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fpdf import FPDF

from hub.core.glucose_units import MMOL_L, glucose_value
from hub.core.reports import strings
from hub.core.summaries import AgpProfile

BLACK = 0
GRID = 170


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float
    w: float
    h: float


def _scale(lo: float, hi: float, box: Box) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    return lambda v: box.y + box.h - (min(max(v, lo), hi) - lo) / span * box.h


def _axes(
    pdf: FPDF,
    box: Box,
    y_ticks: Sequence[float],
    y_of: Callable[[float], float],
    *,
    language: str,
    digits: int,
) -> None:
    pdf.set_draw_color(GRID)
    pdf.set_line_width(0.1)
    pdf.set_font("Helvetica", "", 6)
    for tick in y_ticks:
        y = y_of(tick)
        pdf.line(box.x, y, box.x + box.w, y)
        pdf.text(box.x - 8, y + 1, strings.number(tick, language, digits))
    pdf.set_draw_color(BLACK)
    pdf.rect(box.x, box.y, box.w, box.h)


def _dashed(pdf: FPDF, dash: float, gap: float) -> None:
    pdf.set_dash_pattern(dash=dash, gap=gap)


def _curve(pdf: FPDF, points: Sequence[tuple[float, float] | None]) -> None:
    """Polylines through consecutive known points (None breaks the line)."""
    run: list[tuple[float, float]] = []
    for point in [*points, None]:
        if point is None:
            if len(run) > 1:
                pdf.polyline(run)
            run = []
        else:
            run.append(point)


def agp_chart(pdf: FPDF, agp: AgpProfile, box: Box, *, unit: str, language: str) -> None:
    """The ambulatory glucose profile over a modal day (x: 00:00-24:00)."""
    factor = glucose_value(1.0, MMOL_L) if unit == MMOL_L else 1.0
    lo, hi = 40 * factor, 350 * factor
    ticks = [v * factor for v in (54, 70, 180, 250)]
    y_of = _scale(lo, hi, box)
    _axes(pdf, box, ticks, y_of, language=language, digits=0 if unit == "mg/dL" else 1)
    bins = agp.bins
    step = box.w / len(bins)
    pdf.set_font("Helvetica", "", 6)
    for hour in range(0, 25, 3):
        x = box.x + hour / 24 * box.w
        pdf.text(x - 2.5, box.y + box.h + 3, f"{hour:02d}h")
    # The target range 70-180: dashed lines.
    _dashed(pdf, 1.2, 1.0)
    pdf.set_line_width(0.3)
    for level in (70 * factor, 180 * factor):
        pdf.line(box.x, y_of(level), box.x + box.w, y_of(level))
    _dashed(pdf, 0, 0)

    def line(values: Sequence[float | None]) -> list[tuple[float, float] | None]:
        return [
            None if v is None else (box.x + (i + 0.5) * step, y_of(v * factor))
            for i, v in enumerate(values)
        ]

    pdf.set_line_width(0.25)
    _dashed(pdf, 0.3, 0.8)
    _curve(pdf, line([b.p5 for b in bins]))
    _curve(pdf, line([b.p95 for b in bins]))
    _dashed(pdf, 0, 0)
    pdf.set_line_width(0.3)
    _curve(pdf, line([b.p25 for b in bins]))
    _curve(pdf, line([b.p75 for b in bins]))
    pdf.set_line_width(0.9)
    _curve(pdf, line([b.p50 for b in bins]))
    pdf.set_line_width(0.2)


def trend_chart(
    pdf: FPDF,
    mean: Sequence[float | None],
    low: Sequence[float | None],
    high: Sequence[float | None],
    box: Box,
    *,
    day_labels: Sequence[str],
    language: str,
) -> None:
    """Each day's mean (line and points) and its lowest-highest span (vertical bar)."""
    known = [v for v in (*low, *high) if v is not None]
    lo, hi = min(known), max(known)
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.05, 1.0)
    lo, hi = lo - pad, hi + pad
    y_of = _scale(lo, hi, box)
    ticks = [lo + (hi - lo) * k / 4 for k in range(1, 4)]
    _axes(pdf, box, ticks, y_of, language=language, digits=0 if hi - lo >= 20 else 1)
    pdf.set_font("Helvetica", "", 5)
    step = box.w / max(len(mean), 1)
    points: list[tuple[float, float] | None] = []
    pdf.set_line_width(0.2)
    for i, (mean_value, low_value, high_value) in enumerate(zip(mean, low, high, strict=True)):
        x = box.x + (i + 0.5) * step
        if len(day_labels) <= 8 or i % 3 == 0:
            pdf.text(x - 3, box.y + box.h + 3, day_labels[i])
        if mean_value is None or low_value is None or high_value is None:
            points.append(None)
            continue
        pdf.line(x, y_of(low_value), x, y_of(high_value))
        pdf.line(x - 0.8, y_of(low_value), x + 0.8, y_of(low_value))
        pdf.line(x - 0.8, y_of(high_value), x + 0.8, y_of(high_value))
        points.append((x, y_of(mean_value)))
    pdf.set_line_width(0.6)
    _curve(pdf, points)
    for point in points:
        if point is not None:
            pdf.rect(point[0] - 0.6, point[1] - 0.6, 1.2, 1.2, style="F")
    pdf.set_line_width(0.2)
