"""`python -m service`: start the gRPC server, load (or first train) the champion model, serve until stopped."""

from __future__ import annotations

import argparse
import logging

import prometheus_client
import signal
import sys
import threading

from service.server import create_server, set_serving
from training.settings import SettingsError, load_settings
from training.serving import ModelSlot, ModelWatcher, ensure_served

logger = logging.getLogger(__name__)


def serve(settings) -> None:
    slot = ModelSlot()
    server, port, health_servicer = create_server(settings.address, slot, settings)
    server.start()
    if settings.metrics_port:
        prometheus_client.start_http_server(settings.metrics_port, addr="127.0.0.1")
        logger.info("metrics on http://127.0.0.1:%d/metrics", settings.metrics_port)
    host = settings.address.rsplit(":", 1)[0]
    logger.info("listening on %s:%d (NOT_SERVING until the model is loaded)", host, port)
    stop = threading.Event()

    def _stop(signum, frame):
        logger.info("signal %d: shutting down", signum)
        set_serving(health_servicer, False)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        slot.set(ensure_served(settings))
    except Exception:
        logger.exception("could not load or train a model; requests get UNAVAILABLE")
    else:
        set_serving(health_servicer, True)
        served = slot.get()
        logger.info("SERVING %s v%s on %s:%d", served.name, served.version, host, port)
    watcher = ModelWatcher(settings, slot).start()
    stop.wait()
    # Health already says NOT_SERVING; new calls are refused, calls in flight get the grace period.
    watcher.stop()
    server.stop(grace=settings.grace_seconds).wait()
    logger.info("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--address", help="host:port to bind (default STANCE_ADDRESS or 127.0.0.1:50051)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings(address=args.address)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
