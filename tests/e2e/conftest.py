"""The real hub API process for browser tests, and headless Chromium (Debian's package).

Nothing is mocked or downloaded: ``python -m hub api`` on a free port with its own data
directory, and ``/usr/bin/chromium`` driven by Playwright for Python. A missing browser or
driver fails the test with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_AUTH, free_port, hub_environment
from tests.integration.conftest import HubProcesses

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[HubProcesses]:
    port = free_port()
    env = hub_environment(
        {
            "HUB_DATA_DIR": str(tmp_path / "var"),
            "HUB_API__PORT": str(port),
            "HUB_API__INGEST_BURST": "100",
        }
    )
    processes = HubProcesses(env, f"http://127.0.0.1:{port}", TEST_AUTH, tmp_path)
    processes.start("api")
    yield processes
    processes.stop("api")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `apt-get install -y chromium` "
            "(Debian's package; `make test` installs it as root)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: run `.venv/bin/pip install -e '.[dev]'`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
