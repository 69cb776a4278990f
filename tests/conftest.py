"""Fixtures shared by every test: free ports, hub settings on a temporary data directory,
and the two FHIR validators every FHIR output of the hub must pass (docs/fhir.md)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from hub.adapters.tokens import Role, mint_token
from hub.config import AuthSettings, Settings
from tests.unit.fhir.validators import Medplum, hl7_errors, r4b_errors

# The token secret of every hub a test runs: the test environment, like production, refuses
# the development secret. Fresh per run, so no token minted by a test outlives it.
TEST_AUTH = AuthSettings(secret=secrets.token_urlsafe(32))


def bearer(
    role: Role, subject: str, now: datetime, auth: AuthSettings = TEST_AUTH, **claims: Any
) -> dict[str, str]:
    """The ``Authorization`` header of a token for ``subject`` in ``role`` minted at ``now``
    (with :data:`TEST_AUTH`'s secret unless ``auth`` says otherwise)."""
    token = mint_token(auth, subject=subject, role=role, now=now, **claims)
    return {"Authorization": f"Bearer {token}"}


def hub_environment(values: dict[str, str]) -> dict[str, str]:
    """The environment of a ``hub`` subprocess under test: this process's without its
    ``HUB_*`` variables, the test environment with :data:`TEST_AUTH`'s secret, then
    ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_ENVIRONMENT": "test", "HUB_AUTH__SECRET": TEST_AUTH.secret, **values})
    return env


@contextmanager
def api_client(settings: Settings, now: datetime) -> Iterator[TestClient]:
    """The API in this process on ``settings``, its clock pinned at ``now``: a test's times
    are relative to ``now``, however long the suite has been running."""
    with TestClient(create_app(settings)) as client:
        client.app.state.hub.clock = lambda: now  # type: ignore[attr-defined]
        yield client


def enroll_device(
    client: TestClient,
    now: datetime,
    device_id: str,
    profile: str,
    patient_id: str,
    start: datetime,
) -> None:
    """Register ``device_id`` of ``profile`` (as device maker ``acme``) and enroll it to
    ``patient_id`` from ``start`` (as admin ``ops``), with tokens minted at ``now``."""
    maker = bearer(Role.DEVICE_MAKER, "acme", now)
    device = {"device_id": device_id, "profile": profile}
    assert client.post("/v1/devices", headers=maker, json=device).status_code == 201
    enrollment = {"device_id": device_id, "patient_id": patient_id, "start": start.isoformat()}
    admin = bearer(Role.ADMIN, "ops", now)
    assert client.post("/v1/enrollments", headers=admin, json=enrollment).status_code == 201


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Coverage (`make test`, pytest-cov) is measured in the test process alone, and not during
# property-based tests: under the tracer, the hub processes a test starts would run several
# times slower (the integration tests time them), and Hypothesis's thousands of generated
# examples 3-8 times slower, for lines the example-based tests of the same code reach.


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --cov, property-based tests run unmeasured: a Hypothesis test (``@given``), or one
    marked ``property_based`` (its ``@given`` is inside)."""
    if not config.pluginmanager.hasplugin("_cov"):  # pytest-cov's name, with --cov
        return
    for item in items:
        generated = getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        if generated or item.get_closest_marker("property_based") is not None:
            item.add_marker("no_cover")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture starts a process: pytest-cov tells subprocesses to measure
    themselves through these variables, and sets them again after each unmeasured test."""
    for name in [name for name in os.environ if name.startswith("COV_CORE_")]:
        del os.environ[name]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Tests never read the developer's HUB_* environment.
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
    return Settings(environment="test", data_dir=data_dir, auth=TEST_AUTH)


@pytest.fixture(scope="session")
def medplum() -> Medplum:
    try:
        return Medplum()
    except RuntimeError as err:
        pytest.fail(str(err))


@pytest.fixture
def valid_fhir(medplum: Medplum) -> Callable[[dict[str, Any]], None]:
    """Assert a resource — a Bundle with every resource in it — passes both validators."""

    def check(resource: dict[str, Any]) -> None:
        resources = [resource]
        if resource.get("resourceType") == "Bundle":
            resources += [e["resource"] for e in resource.get("entry", []) if "resource" in e]
            resources += [
                e["response"]["outcome"]
                for e in resource.get("entry", [])
                if "outcome" in e.get("response", {})
            ]
        try:
            problems = r4b_errors(resources) + medplum.errors(resources)
            problems += hl7_errors(resources)
        except RuntimeError as err:
            pytest.fail(str(err))
        assert problems == [], "\n".join(problems)

    return check
