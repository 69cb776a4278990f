"""Periodic reports filed into the patient's health space (docs/documents.md), pure.

``periods`` (ISO weeks and months on the patient's calendar), ``compute`` (the summaries of a
period: ``ReportContent``), ``versioning`` (deterministic identifiers, content hash, file /
replace / unchanged / empty), ``fhir_document`` (the FHIR R4 document), ``mhd`` (the IHE MHD
ITI-65 bundle), ``codes`` and ``strings`` (French and English). No clock, no IO: times and
data are passed in.
"""
