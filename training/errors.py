"""Domain errors: each says what the caller must fix; the transport layer maps them to its status codes."""


class StanceError(Exception):
    """Base class of errors the model layer raises on purpose."""


class InvalidInputError(StanceError):
    """The request cannot be processed as given (empty text, text too long, malformed issue...)."""


class NotFoundError(StanceError):
    """The request names something that does not exist (an unknown issue id)."""


class ModelUnavailableError(StanceError):
    """No trained model is available to answer."""


class ResourceExhaustedError(StanceError):
    """A per-call limit was reached (documents on one stream)."""


class DeadlineError(StanceError):
    """The caller's deadline passed while the work was running; the rest of it was not done."""
