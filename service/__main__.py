"""`python -m service`: start the gRPC server, load (or first train) the champion model, serve until stopped."""

from __future__ import annotations

import argparse
import logging
import sys

from service.app import serve, serve_workers
from training.logs import configure_logging
from training.settings import SettingsError, load_settings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--address", help="host:port to bind (default STANCE_ADDRESS or 127.0.0.1:50051)")
    parser.add_argument("--workers", type=int, help="server processes (default STANCE_WORKERS or the CPU count)")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings = load_settings(address=args.address, workers=args.workers)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.workers > 1:
        return serve_workers(settings)
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
