"""Domain errors -> gRPC status codes, in one decorator at the boundary."""

from __future__ import annotations

import functools
import logging

import grpc

from training.errors import InvalidInputError, ModelUnavailableError, NotFoundError, StanceError

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[StanceError], grpc.StatusCode] = {
    InvalidInputError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    ModelUnavailableError: grpc.StatusCode.UNAVAILABLE,
}


def status_for(exc: StanceError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def handle_errors(method):
    """Domain errors abort with their own status and message; anything else is INTERNAL, logged with traceback."""

    @functools.wraps(method)
    def wrapper(self, request, context: grpc.ServicerContext):
        try:
            return method(self, request, context)
        except StanceError as exc:
            context.abort(status_for(exc), str(exc))
        except Exception:
            logger.exception("unhandled error in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has the details")

    return wrapper
