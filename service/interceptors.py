"""Cross-cutting request handling: token authentication, metrics, and one structured log line per call."""

from __future__ import annotations

import hmac
import logging
import time
import uuid

import grpc
from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

REQUESTS = Counter("stance_requests_total", "gRPC calls by method and status code", ["method", "code"])
LATENCY = Histogram("stance_request_seconds", "gRPC call latency by method", ["method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
BATCH_DOCUMENTS = Histogram("stance_batch_documents", "documents parsed together per batch (Analyze calls that "
                            "waited for the model, or a stream's arrived documents)", ["method"],
                            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32))
# With several workers (prometheus_client multiprocess mode) the served value is the sum over live workers.
IN_FLIGHT = Gauge("stance_requests_in_flight", "gRPC calls being processed", multiprocess_mode="livesum")

# Health checks and reflection stay open so orchestrators and tools work without the token.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _wrap(handler: grpc.RpcMethodHandler, wrap_unary, wrap_stream) -> grpc.RpcMethodHandler:
    kwargs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(wrap_unary(handler.unary_unary), **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(wrap_stream(handler.unary_stream), **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(wrap_unary(handler.stream_unary), **kwargs)
    return grpc.stream_stream_rpc_method_handler(wrap_stream(handler.stream_stream), **kwargs)


class AuthInterceptor(grpc.ServerInterceptor):
    """Requires `authorization: Bearer <token>`; UNAUTHENTICATED otherwise."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith(PUBLIC_PREFIXES):
            return handler
        given = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(given.encode(), self._expected):
            return handler

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "missing or wrong token: send metadata 'authorization: Bearer <STANCE_AUTH_TOKEN>'")

        def deny_stream(request, context):
            deny(request, context)
            yield  # pragma: no cover

        return _wrap(handler, lambda f: deny, lambda f: deny_stream)


class ObservabilityInterceptor(grpc.ServerInterceptor):
    """Counts calls by code, times them, and logs `method code ms request_id` for every call."""

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method
        rid = dict(details.invocation_metadata or ()).get("x-request-id") or uuid.uuid4().hex[:12]

        def finish(context, t0: float, failed: bool) -> None:
            code = context.code() if hasattr(context, "code") else None
            remaining = context.time_remaining()
            if code is None and remaining is not None and remaining <= 0:
                code = grpc.StatusCode.DEADLINE_EXCEEDED  # the client got this, whatever we computed
            name = (code or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)).name
            seconds = time.perf_counter() - t0
            REQUESTS.labels(method, name).inc()
            LATENCY.labels(method).observe(seconds)
            IN_FLIGHT.dec()
            logger.info("rpc method=%s code=%s ms=%.1f request_id=%s", method, name, seconds * 1000, rid)

        def wrap_unary(fn):
            def inner(request, context):
                t0, failed = time.perf_counter(), False
                IN_FLIGHT.inc()
                try:
                    return fn(request, context)
                except BaseException:
                    failed = True
                    raise
                finally:
                    finish(context, t0, failed)
            return inner

        def wrap_stream(fn):
            def inner(request, context):
                t0, failed = time.perf_counter(), False
                IN_FLIGHT.inc()
                try:
                    yield from fn(request, context)
                except BaseException:
                    failed = True
                    raise
                finally:
                    finish(context, t0, failed)
            return inner

        return _wrap(handler, wrap_unary, wrap_stream)
