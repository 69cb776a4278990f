"""The codes of the filed documents and of their summary Observations (docs/documents.md
cites each source).

Document metadata (IHE MHD, CI-SIS *Volet Partage de documents de santé* / ANS PDSm):

* ``typeCode`` — LOINC 53576-5 *Personal health monitoring report Document* (the LOINC
  document type of home monitoring reports: the Continua/IHE PCC Personal Health Monitoring
  Report);
* ``classCode`` — CI-SIS TRE_A03-ClasseDocument ``11`` *Synthèse* (the DMP takes its class
  codes from JDV_J57-ClassCode-DMP, a subset of TRE_A03: LOINC has no document classes);
* ``confidentialityCode`` — HL7 v3 Confidentiality ``N`` (normal), plus TRE_A07-
  StatutVisibiliteDocument ``MASQUE_PS`` (*Masqué aux professionnels de santé*, the DMP's
  code, JDV_J58-ConfidentialityCode-DMP) when the patient hides the documents from
  professionals;
* ``healthcareFacilityTypeCode`` and ``practiceSettingCode`` — TRE_A00-ProducteurDocNonPS
  ``SNR`` *Service numérique référencé* (a service referenced by Mon espace santé; in
  JDV_J02 and JDV_J04);
* ``formatCode`` — IHE ``urn:ihe:iti:xds:2017:mimeTypeSufficient`` (the MIME type says it
  all: a PDF, a FHIR document).
"""

from __future__ import annotations

from typing import Any

from hub.core.fhir.codes import LOINC, TAASIP, UCUM

JSON = dict[str, Any]

HUB_SUMMARY_CODES = "urn:health-device-hub:fhir:CodeSystem:summary"
HUB_ORGANIZATION_ID = "urn:health-device-hub:organization-id"
CLASSE_DOCUMENT = (
    "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
)
VISIBILITE = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument"
)
PRODUCTEUR_NON_PS = (
    "https://mos.esante.gouv.fr/NOS/TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-ProducteurDocNonPS"
)
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
IHE_FORMAT = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
MESURES_NUMBER_OF_DAYS = (
    "https://interop.esante.gouv.fr/ig/fhir/mesures/StructureDefinition/mesures-number-of-days"
)

MASQUE_PS = "MASQUE_PS"


def coding(system: str, code: str, display: str | None = None) -> JSON:
    found: JSON = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(*codings: JSON, text: str | None = None) -> JSON:
    found: JSON = {"coding": list(codings)}
    if text:
        found["text"] = text
    return found


TYPE_CODE = coding(LOINC, "53576-5", "Personal health monitoring report Document")
CLASS_CODE = coding(CLASSE_DOCUMENT, "11", "Synthèse")
NORMAL = coding(CONFIDENTIALITY, "N", "normal")
HIDDEN_FROM_PROFESSIONALS = coding(VISIBILITE, MASQUE_PS, "Masqué aux professionnels de santé")
SNR = coding(PRODUCTEUR_NON_PS, "SNR", "Service numérique référencé")
FORMAT_MIME_SUFFICIENT = coding(
    IHE_FORMAT, "urn:ihe:iti:xds:2017:mimeTypeSufficient", "mimeType Sufficient"
)
SUBMISSION_SET = coding(MHD_LIST_TYPES, "submissionset", "SubmissionSet as a FHIR List")


def security_labels(hidden_from_professionals: bool) -> list[JSON]:
    labels = [concept(NORMAL)]
    if hidden_from_professionals:
        labels.append(concept(HIDDEN_FROM_PROFESSIONALS))
    return labels


def is_hidden(security_label: list[JSON]) -> bool:
    return any(
        c.get("system") == VISIBILITE and c.get("code") == MASQUE_PS
        for label in security_label
        for c in label.get("coding", [])
    )


# --- summary Observations ------------------------------------------------------------------

GMI = (coding(TAASIP, "MED-972", "Index de gestion de glycémie (IGG)"), coding(LOINC, "97506-0"))
MEAN_CGM_GLUCOSE = (coding(LOINC, "97507-8"),)
TIME_IN_RANGE = coding(LOINC, "97510-2")
HEART_RATE_RESTING = coding(LOINC, "40443-4")
BP_PANEL = coding(LOINC, "85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = coding(LOINC, "8480-6", "Systolic blood pressure")
DIASTOLIC = coding(LOINC, "8462-4", "Diastolic blood pressure")
BODY_WEIGHT = coding(LOINC, "29463-7", "Body weight")
SPO2 = coding(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")
BODY_TEMPERATURE = coding(LOINC, "8310-5", "Body temperature")

# TAASIP (TRE_R308) codes of MesNumberOfDays: the window a CGM figure was computed over.
_NUMBER_OF_DAYS = {7: "GEN-275", 14: "GEN-276", 30: "GEN-277", 90: "GEN-278"}


def number_of_days(days: int, text: str) -> JSON:
    """The ANS ``mesures-number-of-days`` extension: the TAASIP code of the window (7, 14,
    30, 90 days; a month of 28-31 days is the 30-day window), the exact count as text."""
    nearest = 30 if 28 <= days <= 31 else days
    code = _NUMBER_OF_DAYS.get(nearest)
    value = concept(coding(TAASIP, code, f"{nearest}j"), text=text) if code else {"text": text}
    return {"url": MESURES_NUMBER_OF_DAYS, "valueCodeableConcept": value}


def hub_code(code: str, display: str) -> JSON:
    return coding(HUB_SUMMARY_CODES, code, display)


def quantity(value: float, unit: str) -> JSON:
    return {"value": round(value, 4), "unit": unit, "system": UCUM, "code": unit}
