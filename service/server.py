"""Server assembly: create_server(address, slot) -> (server, port), with health checking and reflection."""

from __future__ import annotations

import logging
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.api.stance.v1 import stance_pb2, stance_pb2_grpc
from service.interceptors import AuthInterceptor, ObservabilityInterceptor
from service.servicer import StanceServicer
from training.serving import ModelSlot
from training.settings import Settings

logger = logging.getLogger(__name__)

SERVICE_NAME = stance_pb2.DESCRIPTOR.services_by_name["StanceService"].full_name
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def add_health(server: grpc.Server) -> health.HealthServicer:
    """Standard health service; starts NOT_SERVING until `set_serving` is called."""
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for name in ("", SERVICE_NAME):
        servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    return servicer


def set_serving(servicer: health.HealthServicer, serving: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", SERVICE_NAME):
        servicer.set(name, status)


def create_server(address: str, slot: ModelSlot, settings: Settings | None = None,
                  ) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Bind `address` (port 0 picks a free port) and return the server, the real port and its health servicer.

    Limits, authentication and TLS come from `settings` (defaults: Settings())."""
    settings = settings or Settings()
    interceptors: list[grpc.ServerInterceptor] = [ObservabilityInterceptor()]
    if settings.auth_token:
        interceptors.append(AuthInterceptor(settings.auth_token))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_workers),
        interceptors=interceptors,
        # Beyond this many calls in progress, new ones fail fast with RESOURCE_EXHAUSTED instead of queueing.
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.so_reuseport", 1)],
    )
    stance_pb2_grpc.add_StanceServiceServicer_to_server(StanceServicer(slot, settings.max_stream_documents,
                                                                         settings.batch_size), server)
    health_servicer = add_health(server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    if settings.tls_cert:
        creds = grpc.ssl_server_credentials([(Path(settings.tls_key).read_bytes(), Path(settings.tls_cert).read_bytes())])
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not bind {address}")
    return server, port, health_servicer
