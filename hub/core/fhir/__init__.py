"""FHIR R4 at the hub's edges: provider pushes in, patients' and clients' reads out.

Pure, like the rest of ``hub.core``: JSON values in, JSON values (plain ``dict``/``list``) out.

* :mod:`hub.core.fhir.codes` — the code tables: MDC / LOINC / ANS codes that name the hub's
  metrics, PHD context and device-information codes, the codings and profiles emitted;
* :mod:`hub.core.fhir.inbound` — a provider's ``transaction`` or ``batch`` Bundle (HL7 PHD IG,
  ANS *Mesures de santé*) to coded measurements, device facts and per-entry notes, with
  :mod:`hub.core.fhir.observation` (what one Observation is to the hub),
  :mod:`hub.core.fhir._bundle` (references, devices, subjects) and
  :mod:`hub.core.fhir._values` (elements, times);
* :mod:`hub.core.fhir.outbound` — stored readings, devices and audit rows as R4 resources,
  Bundles with paging links, OperationOutcome and batch/transaction responses;
* :mod:`hub.core.fhir.search` — the ``Observation`` search parameters (``code``, ``date``).

What is accepted and emitted, mapped to the guides' profiles: ``docs/fhir.md``.
"""
