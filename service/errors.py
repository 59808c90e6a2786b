"""Domain errors -> gRPC status codes, in one decorator at the boundary."""

from __future__ import annotations

import functools
import logging
import time

import grpc

from training.errors import (DeadlineError, InvalidInputError, ModelUnavailableError, NotFoundError,
                             ResourceExhaustedError, StanceError)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[StanceError], grpc.StatusCode] = {
    InvalidInputError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    ModelUnavailableError: grpc.StatusCode.UNAVAILABLE,
    ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    DeadlineError: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def status_for(exc: StanceError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def deadline_of(context: grpc.ServicerContext) -> float | None:
    """The call's deadline as a `time.monotonic()` instant (None: the client set none)."""
    remaining = context.time_remaining()
    return time.monotonic() + remaining if remaining is not None else None


def _check_deadline(context: grpc.ServicerContext) -> None:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the work could start")


def _abort(context: grpc.ServicerContext, exc: Exception, name: str) -> None:
    """Called from an except block: a domain error aborts with its status, anything else with INTERNAL."""
    if isinstance(exc, StanceError):
        context.abort(status_for(exc), str(exc))
    logger.exception("unhandled error in %s", name)
    context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has the details")


def handle_errors(method):
    """Domain errors abort with their own status and message; anything else is INTERNAL, logged with traceback."""

    @functools.wraps(method)
    def wrapper(self, request, context: grpc.ServicerContext):
        _check_deadline(context)
        try:
            return method(self, request, context)
        except Exception as exc:
            _abort(context, exc, method.__name__)

    return wrapper


def handle_stream_errors(method):
    """The same mapping for response-streaming methods (errors surface while the generator runs)."""

    @functools.wraps(method)
    def wrapper(self, request_iterator, context: grpc.ServicerContext):
        _check_deadline(context)
        try:
            yield from method(self, request_iterator, context)
        except Exception as exc:
            _abort(context, exc, method.__name__)

    return wrapper
