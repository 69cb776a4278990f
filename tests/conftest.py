"""Fixtures shared by every test: free ports, hub settings on a temporary data directory."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from hub.config import Settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    return Settings(environment="test", data_dir=data_dir)
