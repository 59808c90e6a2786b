"""Log set-up of the command-line entry points (training, the server and its worker processes)."""

from __future__ import annotations

import logging

QUIET = ("mlflow", "alembic", "urllib3")


def configure_logging(tag: str = "") -> None:
    """INFO lines with time, level and logger; `tag` names the process ("worker0"); MLflow's chatter is
    kept to warnings."""
    prefix = f"{tag} " if tag else ""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
