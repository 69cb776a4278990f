"""An IHE MHD client of the health space's document vault (httpx).

* ITI-65 *Provide Document Bundle* (ITI TF-2: 3.65): ``POST [base]/fhir`` a transaction
  Bundle; the answer is a ``transaction-response``.
* ITI-67 *Find Document References* (3.67): ``GET [base]/fhir/DocumentReference?...``, a
  ``searchset`` followed through its ``next`` links.
* ITI-68 *Retrieve Document* (3.68): ``GET`` the attachment URL, the document's bytes.

Errors are two kinds the caller acts on: :class:`VaultUnavailable` (no answer, a timeout, 5xx,
429: retry later, the request may or may not have been applied — ITI-65 is idempotent on the
documents' uniqueIds, so sending it again is safe) and :class:`VaultRefused` (4xx: the vault
will not take or show this; retrying changes nothing).
"""

from __future__ import annotations

from typing import Any

import httpx

JSON = dict[str, Any]
FHIR_JSON = "application/fhir+json"
_RETRYABLE = frozenset({408, 425, 429})


class VaultError(Exception):
    pass


class VaultUnavailable(VaultError):
    """The vault did not answer, or answered "try later"."""


class VaultRefused(VaultError):
    """The vault answered no (4xx); ``status`` and the diagnostics of its OperationOutcome."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status


def _diagnostics(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    issues = body.get("issue", []) if isinstance(body, dict) else []
    found = [str(i.get("diagnostics", "")) for i in issues if isinstance(i, dict)]
    return "; ".join(d for d in found if d) or response.text[:500]


class VaultClient:
    def __init__(
        self, base_url: str, *, timeout_s: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base, timeout=timeout_s, transport=transport)

    def __enter__(self) -> VaultClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, url: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": FHIR_JSON,
            **kwargs.pop("headers", {}),
        }
        try:
            response = self._http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as err:
            raise VaultUnavailable(f"{type(err).__name__}: {err}") from err
        if response.status_code >= 500 or response.status_code in _RETRYABLE:
            raise VaultUnavailable(f"{response.status_code}: {_diagnostics(response)}")
        if response.status_code >= 400:
            raise VaultRefused(response.status_code, _diagnostics(response))
        return response

    def provide(self, bundle: bytes, *, token: str) -> JSON:
        """ITI-65: file a transaction Bundle (already serialised JSON)."""
        response = self._send(
            "POST", "/fhir", token, content=bundle, headers={"Content-Type": FHIR_JSON}
        )
        answer: JSON = response.json()
        return answer

    def find(self, params: dict[str, str], *, token: str) -> list[JSON]:
        """ITI-67: every DocumentReference matching ``params``, all pages."""
        found: list[JSON] = []
        response = self._send("GET", "/fhir/DocumentReference", token, params=params)
        while True:
            bundle = response.json()
            found += [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
            following = [
                link["url"] for link in bundle.get("link", []) if link["relation"] == "next"
            ]
            if not following:
                return found
            response = self._send("GET", following[0], token)

    def read(self, document_id: str, *, token: str) -> JSON:
        """One DocumentReference by its id."""
        resource: JSON = self._send("GET", f"/fhir/DocumentReference/{document_id}", token).json()
        return resource

    def retrieve(self, url: str, *, token: str) -> tuple[bytes, str]:
        """ITI-68: the document at an attachment URL (absolute, or relative to the FHIR base)
        and its content type."""
        target = url if "://" in url else f"/fhir/{url.lstrip('/')}"
        response = self._send("GET", target, token, headers={"Accept": "*/*"})
        return response.content, response.headers.get("content-type", "application/octet-stream")
