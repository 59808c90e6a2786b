"""The serving process(es): one server with health, metrics and hot reload, or several sharing a port."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading

import prometheus_client
from prometheus_client import multiprocess

from service.server import create_server, set_serving
from training.logs import configure_logging
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


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _worker(settings, index: int) -> None:
    configure_logging(f"worker{index}")
    serve(settings)


def serve_workers(settings) -> int:
    """Several server processes on one port (SO_REUSEPORT), each with its own model: the kernel spreads
    connections over them. The parent trains first if needed, then only forwards SIGTERM/SIGINT."""
    host, port = settings.address.rsplit(":", 1)
    if port == "0":
        port = str(free_port(host))
    ensure_served(settings)  # one training run at most, before the workers race for the registry
    metrics_dir = None
    if settings.metrics_port:
        # One endpoint for all workers: each worker writes its counters to files in a shared directory
        # (prometheus_client's multiprocess mode), the parent serves their sum.
        metrics_dir = tempfile.mkdtemp(prefix="stance-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=metrics_dir)
        prometheus_client.start_http_server(settings.metrics_port, addr="127.0.0.1", registry=registry)
        logger.info("metrics of all workers on http://127.0.0.1:%d/metrics", settings.metrics_port)
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for k in range(settings.workers):
        worker_settings = dataclasses.replace(settings, address=f"{host}:{port}", workers=1, metrics_port=0)
        proc = ctx.Process(target=_worker, args=(worker_settings, k), name=f"stance-worker-{k}")
        proc.start()
        procs.append(proc)
    logger.info("%d workers on %s:%s (pids %s)", len(procs), host, port, [p.pid for p in procs])

    def _forward(signum, frame):
        for proc in procs:
            if proc.is_alive():
                os.kill(proc.pid, signum)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    for proc in procs:
        proc.join()
        if metrics_dir:
            multiprocess.mark_process_dead(proc.pid, path=metrics_dir)
    if metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return max((p.exitcode or 0) for p in procs)
