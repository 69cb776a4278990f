"""The report's PDF read back with ``pdftotext``: the key figures of its summaries, in the
patient's language and glucose unit."""

from __future__ import annotations

from hub.adapters.pdf import render_report_pdf
from hub.core.glucose_units import MMOL_L, glucose_value
from hub.core.reports import strings
from hub.core.reports.content import ReportContent
from tests.pdftext import pdf_text
from tests.unit.reports.week import NOW, week


def rendered(content: ReportContent) -> str:
    title = strings.document_title(content.period, content.program.name, content.language)
    data = render_report_pdf(content, title=title, created=NOW)
    assert data.startswith(b"%PDF-")
    return pdf_text(data)


def key_figures(content: ReportContent) -> list[str]:
    lang = content.language
    cgm, bp, weight = content.cgm, content.blood_pressure, content.weight
    assert cgm is not None and bp is not None and weight is not None
    assert cgm.gmi_percent is not None and cgm.tir_70_180_percent is not None
    assert cgm.tbr_below_70_percent is not None and cgm.cv_percent is not None
    assert bp.overall.systolic_mm_hg is not None and bp.overall.diastolic_mm_hg is not None
    assert weight.latest_kg is not None
    n = strings.number
    return [
        content.period.label,
        f"{n(cgm.gmi_percent, lang)} %",
        f"{n(cgm.tir_70_180_percent, lang)} %",
        f"{n(cgm.tbr_below_70_percent, lang)} %",
        f"{n(cgm.cv_percent, lang)} %",
        f"{n(cgm.active_percent, lang)} %",
        f"{n(bp.overall.systolic_mm_hg, lang, 0)}/{n(bp.overall.diastolic_mm_hg, lang, 0)} mm[Hg]",
        f"{n(weight.latest_kg, lang)} kg",
        "cgm-1",
        "cuff-1",
        "scale-1",
        "cgm-1.0",
        "home-bp-1.0",
        "alerts-1.0",
    ]


def test_the_french_pdf_holds_the_key_figures() -> None:
    content = week()
    text = rendered(content)
    for figure in key_figures(content):
        assert figure in text, figure
    assert "Temps dans la cible 70-180 mg/dL" in text
    assert "Suffisance des données" in text
    assert content.cgm is not None and content.cgm.mean_mg_dl is not None
    assert f"{strings.number(content.cgm.mean_mg_dl, 'fr', 0)} mg/dL" in text
    # the home BP mean is above 135/85: the alert is printed in French
    assert "Automesure moyenne au-dessus du seuil" in text


def test_the_english_pdf_in_mmol_per_litre() -> None:
    content = week(language="en", unit=MMOL_L)
    text = rendered(content)
    for figure in key_figures(content):
        assert figure in text, figure
    assert "Time in range 70-180 mg/dL" in text and "Data sufficiency" in text
    assert content.cgm is not None and content.cgm.mean_mg_dl is not None
    mean = glucose_value(content.cgm.mean_mg_dl, MMOL_L)
    assert f"{strings.number(mean, 'en', 1)} mmol/L" in text


def test_a_report_without_cgm_still_renders_what_it_has() -> None:
    text = rendered(week(cgm=False))
    assert "Automesure tensionnelle" in text and "Mesure continue du glucose" not in text
