"""Every failure becomes ``{"error": {"code", "message"}}`` with a 4xx; a bug becomes a bare 500 with no
stack trace in the body (it is logged by app.api.middleware.Guard)."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.validation_messages import describe
from app.engine.errors import GeometryError
from app.errors import ConvlensError


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ConvlensError)
    async def _convlens(_: Request, exc: ConvlensError):
        extra = {"limit": exc.limit} if getattr(exc, "limit", None) else {}
        return JSONResponse(error_body(exc.code, exc.message, **extra), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(GeometryError)
    async def _geometry(_: Request, exc: GeometryError):
        return JSONResponse(error_body("invalid_layer", str(exc)), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errors = exc.errors()
        details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")}
                   for e in errors[:20]]
        return JSONResponse(error_body("invalid_request", describe(errors, exc.body), details=details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "limit_exceeded"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if isinstance(exc.__cause__, RecursionError):  # FastAPI wraps the JSON parser's failure
            message = "the JSON body is nested too deeply to parse"
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RecursionError)
    async def _deep(_: Request, exc: RecursionError):
        return JSONResponse(error_body("invalid_request", "the JSON body is nested too deeply"), status_code=400)
    # Unhandled errors become a JSON 500 in app.api.middleware.Guard: a handler registered here for
    # Exception would run in Starlette's outermost middleware, without the security headers, and re-raise
    # (uvicorn then closed the keep-alive connection).
