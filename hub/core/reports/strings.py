"""Every word of a report in French and English, in one table, and the number and date
formats of each language (French: decimal comma, ``24/11/2026``; English: ``2026-11-24``).

Texts use Latin-1 characters only: the PDF is written with the PDF core fonts (their
WinAnsi encoding), which any PDF reader and ``pdftotext`` read back exactly.
"""

from __future__ import annotations

from datetime import date

from hub.core.glucose_units import MMOL_L, glucose_value
from hub.core.periods import CalendarPeriod

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

# key -> (French, English)
STRINGS: dict[str, tuple[str, str]] = {
    "report.week": ("Rapport hebdomadaire", "Weekly report"),
    "report.month": ("Rapport mensuel", "Monthly report"),
    "period.week": ("semaine {label}, du {first} au {last}", "week {label}, {first} to {last}"),
    "period.month": ("mois {label}, du {first} au {last}", "month {label}, {first} to {last}"),
    "program": ("Programme de suivi", "Monitoring program"),
    "program.default": ("Télésurveillance", "Remote monitoring"),
    "zone": ("Fuseau horaire", "Time zone"),
    "created": ("Établi le", "Created"),
    "patient": ("Patient (identifiant)", "Patient (identifier)"),
    "section.devices": ("Appareils", "Devices"),
    "section.sufficiency": ("Suffisance des données", "Data sufficiency"),
    "section.cgm": ("Mesure continue du glucose", "Continuous glucose monitoring"),
    "section.agp": ("Profil glycémique ambulatoire (AGP)", "Ambulatory glucose profile (AGP)"),
    "section.meter": ("Glycémies capillaires", "Meter glucose"),
    "section.bp": ("Automesure tensionnelle", "Home blood pressure"),
    "section.weight": ("Poids", "Weight"),
    "section.spo2": ("Saturation en oxygène", "Oxygen saturation"),
    "section.heart_rate": ("Fréquence cardiaque", "Heart rate"),
    "section.temperature": ("Température", "Temperature"),
    "section.trends": ("Tendances jour par jour", "Day-by-day trends"),
    "section.alerts": ("Alertes", "Alerts"),
    "section.algorithms": ("Versions des algorithmes", "Algorithm versions"),
    "col.device": ("Appareil", "Device"),
    "col.maker": ("Fabricant, modèle", "Maker, model"),
    "col.readings": ("Mesures", "Readings"),
    "col.last": ("Dernière mesure", "Last reading"),
    "col.metric": ("Indicateur", "Metric"),
    "col.value": ("Valeur", "Value"),
    "col.target": ("Objectif", "Target"),
    "col.summary": ("Résumé", "Summary"),
    "col.days": ("Jours", "Days"),
    "col.status": ("Statut", "Status"),
    "no_alert": ("Aucune alerte sur la période.", "No alert in this period."),
    "unknown": ("inconnu", "unknown"),
    "sufficient": ("suffisantes", "sufficient"),
    "insufficient": ("insuffisantes", "insufficient"),
    "cgm.window": ("Fenêtre CGM : {days} jours", "CGM window: {days} days"),
    "cgm.active": ("Temps de port du capteur", "Sensor active time"),
    "cgm.mean": ("Glucose moyen", "Mean glucose"),
    "cgm.gmi": ("GMI (indicateur de gestion du glucose)", "GMI (glucose management indicator)"),
    "cgm.cv": ("Coefficient de variation", "Coefficient of variation"),
    "cgm.tir": ("Temps dans la cible 70-180 mg/dL", "Time in range 70-180 mg/dL"),
    "cgm.tbr70": ("Temps sous 70 mg/dL", "Time below 70 mg/dL"),
    "cgm.tbr54": ("Temps sous 54 mg/dL", "Time below 54 mg/dL"),
    "cgm.tar180": ("Temps au-dessus de 180 mg/dL", "Time above 180 mg/dL"),
    "cgm.tar250": ("Temps au-dessus de 250 mg/dL", "Time above 250 mg/dL"),
    "cgm.hypo": ("Hypoglycémies (niveau 1 / niveau 2)", "Hypoglycaemia events (level 1 / 2)"),
    "meter.readings": ("Glycémies", "Readings"),
    "meter.mean": ("Moyenne", "Mean"),
    "meter.in_range": ("Dans la cible 70-180", "In range 70-180"),
    "bp.mean": ("Moyenne systolique / diastolique", "Mean systolic / diastolic"),
    "bp.morning": ("Matin", "Morning"),
    "bp.evening": ("Soir", "Evening"),
    "bp.above": ("Mesures >= seuil", "Readings at or above the threshold"),
    "bp.pulse": ("Pouls moyen", "Mean pulse"),
    "weight.latest": ("Dernier poids", "Latest weight"),
    "weight.trend": ("Tendance", "Trend"),
    "per_week": ("kg/7 j", "kg/week"),
    "spo2.mean": ("SpO2 moyenne", "Mean SpO2"),
    "spo2.min": ("SpO2 minimale", "Lowest SpO2"),
    "spo2.below": ("Temps sous le seuil", "Time below the threshold"),
    "hr.resting": ("Fréquence de repos", "Resting heart rate"),
    "hr.range": ("Minimum / maximum", "Lowest / highest"),
    "temp.max": ("Maximum", "Highest"),
    "temp.episodes": ("Épisodes de fièvre", "Fever episodes"),
    "chart.agp": (
        "AGP : médiane (trait épais), 25-75 % (traits), 5-95 % (pointillés), par heure",
        "AGP: median (thick line), 25-75 % (lines), 5-95 % (dotted), by time of day",
    ),
    "chart.trend": ("moyenne du jour, minimum et maximum", "daily mean, lowest and highest"),
    "footer": (
        "Document établi automatiquement par le hub d'objets connectés à partir des mesures "
        "des appareils. Il ne remplace pas l'avis d'un professionnel de santé.",
        "Document made automatically by the connected-device hub from the devices' readings. "
        "It does not replace the advice of a health professional.",
    ),
    "page": ("Page {n}/{total}", "Page {n}/{total}"),
    "metric.glucose_isf": ("Glucose interstitiel", "Interstitial glucose"),
    "metric.glucose": ("Glycémie capillaire", "Meter glucose"),
    "metric.systolic_bp": ("Pression systolique", "Systolic pressure"),
    "metric.diastolic_bp": ("Pression diastolique", "Diastolic pressure"),
    "metric.weight": ("Poids", "Weight"),
    "metric.spo2": ("SpO2", "SpO2"),
    "metric.heart_rate": ("Fréquence cardiaque", "Heart rate"),
    "metric.body_temperature": ("Température", "Temperature"),
    "alert.cgm.tbr54": (
        "Temps sous 54 mg/dL {value} % (> {threshold} %)",
        "Time below 54 mg/dL {value} % (> {threshold} %)",
    ),
    "alert.cgm.tbr70": (
        "Temps sous 70 mg/dL {value} % (> {threshold} %)",
        "Time below 70 mg/dL {value} % (> {threshold} %)",
    ),
    "alert.cgm.tir": (
        "Temps dans la cible {value} % (< {threshold} %)",
        "Time in range {value} % (< {threshold} %)",
    ),
    "alert.cgm.tar250": (
        "Temps au-dessus de 250 mg/dL {value} % (> {threshold} %)",
        "Time above 250 mg/dL {value} % (> {threshold} %)",
    ),
    "alert.cgm.tar180": (
        "Temps au-dessus de 180 mg/dL {value} % (> {threshold} %)",
        "Time above 180 mg/dL {value} % (> {threshold} %)",
    ),
    "alert.cgm.cv": (
        "Variabilité glycémique (CV) {value} % (> {threshold} %)",
        "Glucose variability (CV) {value} % (> {threshold} %)",
    ),
    "alert.cgm.gmi": ("GMI {value} % (> {threshold} %)", "GMI {value} % (> {threshold} %)"),
    "alert.cgm.insufficient_data": (
        "Données CGM insuffisantes : {value} % de temps de port (14 jours et 70 % requis)",
        "CGM data insufficient: {value} % active (14 days and 70 % needed)",
    ),
    "alert.bp.home_hypertension": (
        "Automesure moyenne au-dessus du seuil : systolique {value} mm[Hg] (seuil {threshold})",
        "Home blood pressure above the threshold: systolic {value} mm[Hg] (threshold {threshold})",
    ),
    "alert.weight.rapid_gain": (
        "Prise de poids rapide : +{value} kg le {at} (seuil {threshold} kg)",
        "Rapid weight gain: +{value} kg on {at} (threshold {threshold} kg)",
    ),
    "alert.spo2.low": (
        "SpO2 sous le seuil {value} % du temps (seuil {threshold} %)",
        "SpO2 below the threshold {value} % of the time (threshold {threshold} %)",
    ),
    "alert.temperature.fever": (
        "Fièvre jusqu'à {value} °C le {at}",
        "Fever up to {value} °C on {at}",
    ),
    "alert.device.silent": (
        "Appareil {device} silencieux depuis {value} jours",
        "Device {device} silent for {value} days",
    ),
    "months": (
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
        "January February March April May June July August September October November December",
    ),
}


def _index(language: str) -> int:
    return LANGUAGES.index(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def text(key: str, language: str, **values: object) -> str:
    template = STRINGS[key][_index(language)]
    return template.format(**values) if values else template


def number(value: float, language: str, digits: int = 1) -> str:
    """``6.8`` in English, ``6,8`` in French (no thousands separator)."""
    written = f"{value:.{digits}f}"
    return written.replace(".", ",") if _index(language) == 0 else written


def day(value: date, language: str) -> str:
    return value.strftime("%d/%m/%Y") if _index(language) == 0 else value.isoformat()


def glucose(mg_dl: float, unit: str, language: str) -> str:
    """A glucose value in the patient's unit, with the unit."""
    if unit == MMOL_L:
        return f"{number(glucose_value(mg_dl, MMOL_L), language, 1)} mmol/L"
    return f"{number(mg_dl, language, 0)} mg/dL"


def period_text(period: CalendarPeriod, language: str) -> str:
    last = period.day(period.days - 1)
    return text(
        f"period.{period.kind}",
        language,
        label=period.label,
        first=day(period.first_day, language),
        last=day(last, language),
    )


def document_title(period: CalendarPeriod, program_name: str, language: str) -> str:
    """The title of both documents of a report (``DocumentReference.title``, the PDF's)."""
    if period.kind == "week":
        span = f"{period.label}"
    else:
        month = text("months", language).split()[period.first_day.month - 1]
        span = f"{month} {period.first_day.year}"
    return f"{text(f'report.{period.kind}', language)} - {program_name} - {span}"
