"""The PDF of a periodic report (fpdf2): A4, black and white, in the patient's language.

Contents, in order: title and period, program, creation time and zone; data sufficiency;
devices; CGM metrics with their consensus targets and the AGP; meter glucose, home blood
pressure, weight, SpO2, heart rate and temperature; day-by-day trend charts; alerts; the
algorithm versions. Text is written with the PDF core fonts (Helvetica, WinAnsi encoding), so
``pdftotext`` and screen readers get it back exactly; the figures are those of the report's
content, formatted as ``hub.core.reports.strings`` formats them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from hub.adapters.pdf.charts import Box, agp_chart, trend_chart
from hub.core.glucose_units import MMOL_L, glucose_value
from hub.core.reports import strings
from hub.core.reports.content import ReportContent
from hub.core.reports.fhir_document import alert_lines
from hub.core.summaries import BloodPressureMeans, rfc3339_utc

MARGIN = 15.0
WIDTH = 210.0 - 2 * MARGIN
LINE = 5.0


class _Pdf(FPDF):
    def __init__(self, language: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.language = language
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=20)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 7)
        footer = strings.text("footer", self.language)
        self.multi_cell(WIDTH, 3.2, footer, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        page = strings.text("page", self.language, n=self.page_no(), total="{nb}")
        self.cell(WIDTH, 3.2, page, align="R")


def _heading(pdf: _Pdf, text: str) -> None:
    if pdf.will_page_break(30):
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(WIDTH, 7, text, border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font("Helvetica", "", 9)


def _table(
    pdf: _Pdf, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]
) -> None:
    pdf.set_font("Helvetica", "", 9)
    pdf.set_draw_color(0)
    with pdf.table(
        col_widths=tuple(widths),
        width=WIDTH,
        line_height=LINE,
        first_row_as_headings=True,
        headings_style=FontFace(emphasis="BOLD"),
        borders_layout="HORIZONTAL_LINES",
        text_align="LEFT",
    ) as table:
        first = table.row()
        for text in header:
            first.cell(text)
        for values in rows:
            row = table.row()
            for text in values:
                row.cell(text)


def _pct(value: float | None, lang: str) -> str:
    return "-" if value is None else f"{strings.number(value, lang)} %"


def _local_day(ms: int, zone: str, lang: str) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(zone))
    return f"{strings.day(moment.date(), lang)} {moment:%H:%M}"


def _header(pdf: _Pdf, content: ReportContent, title: str, created: datetime) -> None:
    lang = content.language
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(WIDTH, 7, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    made = _local_day(int(created.timestamp() * 1000), content.zone, lang)
    lines = [
        strings.period_text(content.period, lang),
        f"{strings.text('program', lang)}: {content.program.name}",
        f"{strings.text('patient', lang)}: {content.patient_id}",
        f"{strings.text('created', lang)}: {made} ({strings.text('zone', lang)}: {content.zone})",
    ]
    for line in lines:
        pdf.cell(WIDTH, LINE, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _sufficiency(pdf: _Pdf, content: ReportContent) -> None:
    """Per summary with readings: how many, over what, and whether that is enough."""
    lang = content.language

    def status(sufficient: bool) -> str:
        return strings.text("sufficient" if sufficient else "insufficient", lang)

    def days(count: int) -> str:
        return f"{count} {strings.text('col.days', lang).lower()}"

    cgm = (
        f"{strings.text('cgm.window', lang, days=content.cgm_days)}, "
        f"{strings.text('cgm.active', lang).lower()} {_pct(content.cgm.active_percent, lang)}"
    )
    candidates = [
        ("section.cgm", content.cgm.readings, cgm, content.cgm.sufficient),
        (
            "section.meter",
            content.spot_glucose.readings,
            days(content.spot_glucose.days_with_readings),
            content.spot_glucose.sufficient,
        ),
        (
            "section.bp",
            content.blood_pressure.readings,
            days(content.blood_pressure.days_with_readings),
            content.blood_pressure.sufficient,
        ),
        (
            "section.weight",
            content.weight.readings,
            days(content.weight.days_with_readings),
            content.weight.trend_sufficient,
        ),
        (
            "section.spo2",
            content.spo2.readings,
            f"{content.spo2.covered_ms / 3_600_000:.1f} h",
            content.spo2.sufficient,
        ),
        ("section.heart_rate", content.heart_rate.readings, "", content.heart_rate.sufficient),
    ]
    rows = [
        [strings.text(key, lang), str(count), detail, status(sufficient)]
        for key, count, detail, sufficient in candidates
        if count
    ]
    if rows:
        header = [
            strings.text(k, lang)
            for k in ("col.metric", "col.readings", "col.summary", "col.status")
        ]
        _table(pdf, header, rows, (40, 20, 80, 25))


def _devices(pdf: _Pdf, content: ReportContent) -> None:
    lang = content.language
    rows = [
        [
            d.device_id,
            " ".join(p for p in (d.manufacturer, d.model) if p) or strings.text("unknown", lang),
            str(d.readings),
            "-" if d.last_ms is None else _local_day(d.last_ms, content.zone, lang),
        ]
        for d in content.devices
    ]
    header = [
        strings.text(k, lang) for k in ("col.device", "col.maker", "col.readings", "col.last")
    ]
    _table(pdf, header, rows, (50, 60, 20, 35))


def _cgm(pdf: _Pdf, content: ReportContent) -> None:
    cgm, lang, unit = content.cgm, content.language, content.glucose_unit
    if not cgm.readings:
        return
    _heading(pdf, strings.text("section.cgm", lang))
    pdf.cell(
        WIDTH,
        LINE,
        strings.text("cgm.window", lang, days=content.cgm_days),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    thresholds = content.program.thresholds
    mean = "-" if cgm.mean_mg_dl is None else strings.glucose(cgm.mean_mg_dl, unit, lang)
    gmi = _pct(cgm.gmi_percent, lang)
    number = strings.number
    hypo = f"{cgm.hypo_events_level1} / {cgm.hypo_events_level2}"
    rows = [
        [strings.text("cgm.active", lang), _pct(cgm.active_percent, lang), ">= 70 %"],
        [strings.text("cgm.mean", lang), mean, ""],
        [
            strings.text("cgm.gmi", lang),
            gmi,
            f"<= {number(thresholds.cgm_gmi_max_percent, lang)} %",
        ],
        [
            strings.text("cgm.cv", lang),
            _pct(cgm.cv_percent, lang),
            f"<= {number(thresholds.cgm_cv_max_percent, lang)} %",
        ],
        [
            strings.text("cgm.tir", lang),
            _pct(cgm.tir_70_180_percent, lang),
            f"> {number(thresholds.cgm_tir_min_percent, lang)} %",
        ],
        [
            strings.text("cgm.tbr70", lang),
            _pct(cgm.tbr_below_70_percent, lang),
            f"< {number(thresholds.cgm_tbr70_max_percent, lang)} %",
        ],
        [
            strings.text("cgm.tbr54", lang),
            _pct(cgm.tbr_below_54_percent, lang),
            f"< {number(thresholds.cgm_tbr54_max_percent, lang)} %",
        ],
        [
            strings.text("cgm.tar180", lang),
            _pct(cgm.tar_above_180_percent, lang),
            f"< {number(thresholds.cgm_tar180_max_percent, lang)} %",
        ],
        [
            strings.text("cgm.tar250", lang),
            _pct(cgm.tar_above_250_percent, lang),
            f"< {number(thresholds.cgm_tar250_max_percent, lang)} %",
        ],
        [strings.text("cgm.hypo", lang), hypo, ""],
    ]
    header = [strings.text(k, lang) for k in ("col.metric", "col.value", "col.target")]
    _table(pdf, header, rows, (85, 40, 40))
    if content.agp.readings:
        _heading(pdf, strings.text("section.agp", lang))
        pdf.set_font("Helvetica", "", 8)
        pdf.cell(WIDTH, LINE, strings.text("chart.agp", lang), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        box = Box(MARGIN + 10, pdf.get_y() + 2, WIDTH - 12, 60)
        agp_chart(pdf, content.agp, box, unit=unit, language=lang)
        pdf.set_y(box.y + box.h + 6)


def _vitals(pdf: _Pdf, content: ReportContent) -> None:
    lang, unit = content.language, content.glucose_unit
    number = strings.number
    header = [strings.text("col.metric", lang), strings.text("col.value", lang)]
    meter = content.spot_glucose
    if meter.readings:
        _heading(pdf, strings.text("section.meter", lang))
        mean = meter.overall.mean_mg_dl
        rows = [
            [strings.text("meter.readings", lang), str(meter.readings)],
            [
                strings.text("meter.mean", lang),
                "-" if mean is None else strings.glucose(mean, unit, lang),
            ],
            [
                strings.text("meter.in_range", lang),
                _pct(meter.overall.in_range_70_180_percent, lang),
            ],
        ]
        _table(pdf, header, rows, (100, 65))
    bp = content.blood_pressure
    if bp.readings:
        _heading(pdf, strings.text("section.bp", lang))

        def means(pair: BloodPressureMeans) -> str:
            systolic, diastolic = pair.systolic_mm_hg, pair.diastolic_mm_hg
            if systolic is None or diastolic is None:
                return "-"
            return (
                f"{number(systolic, lang, 0)}/{number(diastolic, lang, 0)} mm[Hg] ({pair.readings})"
            )

        rows = [
            [strings.text("bp.mean", lang), means(bp.overall)],
            [strings.text("bp.morning", lang), means(bp.morning)],
            [strings.text("bp.evening", lang), means(bp.evening)],
            [strings.text("bp.above", lang), _pct(bp.above_threshold_percent, lang)],
            [
                strings.text("bp.pulse", lang),
                "-"
                if bp.mean_pulse_per_min is None
                else f"{number(bp.mean_pulse_per_min, lang, 0)} /min",
            ],
        ]
        _table(pdf, header, rows, (100, 65))
    weight = content.weight
    if weight.latest_kg is not None:
        _heading(pdf, strings.text("section.weight", lang))
        trend = weight.trend_kg_per_week
        rows = [
            [strings.text("weight.latest", lang), f"{number(weight.latest_kg, lang)} kg"],
            [
                strings.text("weight.trend", lang),
                "-"
                if trend is None
                else f"{number(trend, lang, 2)} {strings.text('per_week', lang)}",
            ],
        ]
        _table(pdf, header, rows, (100, 65))
    spo2 = content.spo2
    if spo2.readings:
        _heading(pdf, strings.text("section.spo2", lang))
        rows = [
            [strings.text("spo2.mean", lang), _pct(spo2.mean_percent, lang)],
            [strings.text("spo2.min", lang), _pct(spo2.min_percent, lang)],
            [strings.text("spo2.below", lang), _pct(spo2.below_threshold_percent, lang)],
        ]
        _table(pdf, header, rows, (100, 65))
    heart = content.heart_rate
    if heart.readings:
        _heading(pdf, strings.text("section.heart_rate", lang))
        low, high = heart.min_per_min, heart.max_per_min
        resting = heart.resting_per_min
        rows = [
            [
                strings.text("hr.resting", lang),
                "-" if resting is None else f"{number(resting, lang, 0)} /min",
            ],
            [
                strings.text("hr.range", lang),
                "-"
                if low is None or high is None
                else f"{number(low, lang, 0)} / {number(high, lang, 0)} /min",
            ],
        ]
        _table(pdf, header, rows, (100, 65))
    temp = content.temperature
    if temp.max_celsius is not None:
        _heading(pdf, strings.text("section.temperature", lang))
        rows = [
            [strings.text("temp.max", lang), f"{number(temp.max_celsius, lang)} °C"],
            [strings.text("temp.episodes", lang), str(len(temp.fever_episodes))],
        ]
        _table(pdf, header, rows, (100, 65))


def _trends(pdf: _Pdf, content: ReportContent) -> None:
    if not content.trends:
        return
    lang = content.language
    _heading(pdf, strings.text("section.trends", lang))
    labels = [strings.day(content.period.day(i), lang)[:5] for i in range(content.period.days)]
    factor = glucose_value(1.0, MMOL_L) if content.glucose_unit == MMOL_L else 1.0
    for trend in content.trends:
        if pdf.will_page_break(45):
            pdf.add_page()
        scale = factor if trend.metric in ("glucose", "glucose_isf") else 1.0

        def scaled(values: Sequence[float | None], factor: float = scale) -> list[float | None]:
            return [None if v is None else v * factor for v in values]

        pdf.set_font("Helvetica", "B", 8)
        title = (
            f"{strings.text(f'metric.{trend.metric}', lang)} ({strings.text('chart.trend', lang)})"
        )
        pdf.cell(WIDTH, LINE, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        box = Box(MARGIN + 10, pdf.get_y() + 1, WIDTH - 12, 28)
        trend_chart(
            pdf,
            scaled(trend.mean),
            scaled(trend.low),
            scaled(trend.high),
            box,
            day_labels=labels,
            language=lang,
        )
        pdf.set_y(box.y + box.h + 6)


def render_report_pdf(content: ReportContent, *, title: str, created: datetime) -> bytes:
    """The report as PDF bytes; ``created`` is written as the PDF's creation date."""
    lang = content.language
    pdf = _Pdf(lang)
    pdf.set_creation_date(created.astimezone(UTC))
    pdf.set_title(title)
    pdf.set_lang("fr-FR" if lang == "fr" else "en")
    pdf.set_creator("health-device-hub")
    pdf.set_author(content.program.name)
    pdf.add_page()
    _header(pdf, content, title, created)
    _heading(pdf, strings.text("section.sufficiency", lang))
    _sufficiency(pdf, content)
    _heading(pdf, strings.text("section.devices", lang))
    _devices(pdf, content)
    _cgm(pdf, content)
    _vitals(pdf, content)
    _trends(pdf, content)
    _heading(pdf, strings.text("section.alerts", lang))
    for line in alert_lines(content) or [strings.text("no_alert", lang)]:
        pdf.multi_cell(WIDTH, LINE, f"- {line}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _heading(pdf, strings.text("section.algorithms", lang))
    versions = ", ".join(f"{k}: {v}" for k, v in sorted(content.algorithm_versions().items()))
    pdf.multi_cell(WIDTH, LINE, versions, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 7)
    pdf.cell(WIDTH, LINE, f"{rfc3339_utc(content.start_ms)} - {rfc3339_utc(content.end_ms)}")
    return bytes(pdf.output())
