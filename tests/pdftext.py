"""The text of a PDF as ``pdftotext`` (Debian ``poppler-utils``) extracts it, whitespace
collapsed: what a reader, a screen reader or a search engine gets back. A missing
``pdftotext`` fails the test with the command that installs it — never a skip."""

from __future__ import annotations

import shutil
import subprocess

import pytest

INSTALL = "apt-get install poppler-utils"


def pdf_text(data: bytes) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.fail(f"pdftotext is not installed: {INSTALL}")
    done = subprocess.run(
        [exe, "-layout", "-enc", "UTF-8", "-", "-"],
        input=data,
        capture_output=True,
        timeout=60,
        check=True,
    )
    return " ".join(done.stdout.decode().split())
