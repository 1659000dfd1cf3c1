"""Errors a user can cause, each with an HTTP status and a stable machine-readable code.

Raised anywhere below the routers; one exception handler turns them into
``{"error": {"code": ..., "message": ...}}``. The message says what was wrong and what is allowed.
"""
from __future__ import annotations


class ConvlensError(Exception):
    status_code = 422
    code = "invalid_request"

    def __init__(self, message: str, code: str | None = None, limit: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if limit:
            self.limit = limit  # the operator's setting (an environment variable), JSON field `limit` only


class LimitExceeded(ConvlensError):
    """A request larger than a configured limit. The message is for the person at the page: what they
    asked for and what is allowed. The setting that sets the limit (an environment variable, of no use
    to a learner) is only in the JSON error's ``limit`` field, for operators and programs."""
    status_code = 413
    code = "limit_exceeded"

    def __init__(self, what: str, asked: int | float, limit: int, setting: str):
        super().__init__(f"{what} is {asked:,}, but at most {limit:,} is allowed",
                         limit=f"CONVLENS_{setting.upper()}")
        self.what, self.asked, self.allowed = what, asked, limit


class Overflow(ConvlensError):
    """Finite inputs and weights whose products or sums leave float32's range (beyond ±3.4·10³⁸): the
    engine computes in float32, as torch does, so those values are ±inf or NaN; refused, not shown."""
    status_code = 422
    code = "overflow"

    def __init__(self, what: str):
        super().__init__(f"{what} overflow float32 (a value beyond ±3.4·10³⁸, which becomes infinity): "
                         "scale the input or the weights down")


class BadUpload(ConvlensError):
    status_code = 422
    code = "bad_upload"


class ImageTooLarge(ConvlensError):
    """An image that declares (or decodes to) more pixels than allowed: a limit, so 413."""
    status_code = 413
    code = "image_too_large"


class NotFound(ConvlensError):
    status_code = 404
    code = "not_found"


class StoreFull(ConvlensError):
    """The upload store cannot take this input now: its quota is held by recently used inputs, or the disk
    is full (ENOSPC/EDQUOT). 507 Insufficient Storage; ``headers`` carries a Retry-After when known."""
    status_code = 507
    code = "store_full"

    def __init__(self, message: str, retry_after_s: int | None = None, limit: str | None = None):
        super().__init__(message, limit=limit)
        self.headers = {"Retry-After": str(retry_after_s)} if retry_after_s else None


def check_limit(what: str, asked: int, limit: int, setting: str) -> None:
    if asked > limit:
        raise LimitExceeded(what, asked, limit, setting)


class Busy(ConvlensError):
    """Every slot for this kind of work is taken and none freed in time: 503, come back shortly."""
    status_code = 503
    code = "busy"

    def __init__(self, message: str, retry_after_s: int, limit: str):
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, retry_after_s))}
        self.limit = limit
