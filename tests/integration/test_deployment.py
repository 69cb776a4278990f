"""The deployment files: docker-compose.yml validated by a compose CLI, no default secret in it,
.env.example complete; the Prometheus configuration and alert rules checked and unit-tested
by promtool. Both tools come from Debian's packages (``docker-compose``, ``prometheus``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
PROMETHEUS = ROOT / "deploy" / "prometheus"
PROFILES = ["--profile", "tools", "--profile", "monitoring"]


def compose_cli() -> list[str]:
    """docker-compose (v1, Debian bookworm) or the docker CLI's compose plugin (v2)."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    pytest.fail("no compose CLI to validate docker-compose.yml: apt-get install docker-compose")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: apt-get install --no-install-recommends prometheus")
    return found


def compose_variables() -> set[str]:
    return set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))


def env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {name: value for name, value in pairs}


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    files = ["--project-directory", str(ROOT), "-f", str(COMPOSE), "--env-file", str(env_file)]
    return subprocess.run(
        [*compose_cli(), *files, *PROFILES, "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_compose_file_is_valid_once_every_secret_is_set(tmp_path: Path) -> None:
    env = tmp_path / "filled.env"
    values = {name: f"value-of-{name.lower()}" for name in compose_variables()}
    values["HUB_TLS_DIR"] = str(tmp_path / "certs")  # a path: compose mounts it
    env.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    done = compose_config(env)
    assert done.returncode == 0, done.stderr


def test_the_compose_file_has_no_default_secret() -> None:
    text = COMPOSE.read_text()
    # Every variable is required (`${X:?message}`): none has a fallback (`:-`, `-`).
    interpolations = re.findall(r"\$\{[^}]*\}", text)
    assert interpolations
    assert [i for i in interpolations if not re.fullmatch(r"\$\{\w+:\?[^}]+\}", i)] == []
    # The example leaves every value to the operator: compose stops at the first one missing.
    assert set(env_example()) - {"COMPOSE_PROJECT_NAME"} == compose_variables()
    assert {v for k, v in env_example().items() if k != "COMPOSE_PROJECT_NAME"} == {""}
    refused = compose_config(ENV_EXAMPLE)
    assert refused.returncode != 0
    assert re.search(r"set \w+ .*in \.env", refused.stderr), refused.stderr


def test_prometheus_configuration_and_alert_rules_are_valid() -> None:
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"]):
        done = subprocess.run(
            [promtool(), *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_fires_on_its_case_and_stays_quiet_on_healthy_series() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", "alerts.test.yml"],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rules = set(re.findall(r"- alert: (\w+)", (PROMETHEUS / "alerts.yml").read_text()))
    tested = set(re.findall(r"alertname: (\w+)", (PROMETHEUS / "alerts.test.yml").read_text()))
    assert rules == tested
