"""Server assembly: create_server(address, slot) -> (server, port), with health checking and reflection."""

from __future__ import annotations

import logging
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.api.stance.v1 import stance_pb2, stance_pb2_grpc
from service.servicer import StanceServicer
from training.serving import ModelSlot

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


def create_server(address: str, slot: ModelSlot, max_workers: int = 4) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Bind `address` (port 0 picks a free port) and return the server, the real port and its health servicer."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
    )
    stance_pb2_grpc.add_StanceServiceServicer_to_server(StanceServicer(slot), server)
    health_servicer = add_health(server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not bind {address}")
    return server, port, health_servicer
