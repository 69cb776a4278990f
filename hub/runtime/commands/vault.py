"""``hub vault``: the reference document vault (IHE MHD Document Recipient and Responder, a
subset) on its own port and storage, standing in for the health space's core vault in local
runs and tests (docs/documents.md)."""

from __future__ import annotations

import argparse

from hub.config import Settings

NAME = "vault"
HELP = "run the reference document vault (IHE MHD ITI-65/67/68)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__


def run(settings: Settings, _args: argparse.Namespace) -> int:
    import uvicorn

    from api.vault.app import create_vault_app

    uvicorn.run(
        create_vault_app(settings),
        host=settings.vault.host,
        port=settings.vault.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )
    return 0
