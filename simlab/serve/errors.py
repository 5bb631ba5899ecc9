"""Every error of ``simlab serve`` as ONE JSON envelope, OpenAI's: ``{"error": {"message", "type", "param", "code"}}``.

Schema errors and malformed JSON are 400 (not FastAPI's 422), as OpenAI answers them; 429 and 503 carry
``Retry-After`` (the openai client waits that long before its retry); a deterministic 500 carries
``x-should-retry: false`` so the client does not retry it (openai-python ``_should_retry``).

>>> import json
>>> r = error_response(APIError(400, "no input", param="input", code="empty_input"))
>>> json.loads(r.body)["error"]["code"], r.status_code
('empty_input', 400)
"""

from __future__ import annotations

import logging

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("simlab.serve")

TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
         429: "rate_limit_error", 431: "invalid_request_error", 500: "server_error", 503: "server_error"}


class APIError(Exception):
    """An error answer: HTTP ``status`` and the envelope's fields (``headers`` e.g. Retry-After)."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = int(status), message, param, code
        self.type = type or TYPES.get(self.status, "invalid_request_error")
        self.headers = dict(headers or {})


class PayloadTooLarge(HTTPException):
    """Raised from the body stream by :mod:`simlab.serve.limits`; an HTTPException so FastAPI's body reader
    re-raises it as is (it turns any other exception into a 400)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body exceeds the payload limit of {limit} bytes "
                              f"(send fewer or shorter inputs per request; the server splits batches itself)")


def envelope(message: str, type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(exc: APIError) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.status == 500:
        headers.setdefault("x-should-retry", "false")
    return JSONResponse(envelope(exc.message, exc.type, exc.param, exc.code), status_code=exc.status,
                        headers=headers)


def _param(loc) -> str | None:
    """``("body", "input", 0)`` -> ``"input"``; the first field name, OpenAI's ``param``."""
    parts = [str(p) for p in loc if p != "body" and not isinstance(p, int)]
    return parts[0] if parts else None


def validation_error(exc: RequestValidationError) -> APIError:
    """FastAPI/pydantic's validation errors as one 400 (OpenAI's codes: invalid_json, missing_required_parameter,
    invalid_value, invalid_dimensions, invalid_type)."""
    errors = exc.errors()
    first = errors[0] if errors else {"type": "value_error", "loc": (), "msg": "invalid request"}
    kind, param = first.get("type", ""), _param(first.get("loc", ()))
    if kind == "json_invalid":
        return APIError(400, f"the request body is not valid JSON: {first.get('msg', '')} "
                             f"({(first.get('ctx') or {}).get('error', '')})".strip(), code="invalid_json")
    if kind == "missing":
        what = f"'{param}'" if param else "a JSON body"
        return APIError(400, f"you must provide {what}", param=param, code="missing_required_parameter")
    if param == "dimensions":
        return APIError(400, f"'dimensions' must be a positive integer: {first.get('msg')}", param=param,
                        code="invalid_dimensions")
    if kind in ("literal_error", "enum"):
        return APIError(400, f"invalid value for '{param}': {first.get('msg')}", param=param, code="invalid_value")
    if param == "input":
        return APIError(400, "'input' must be a string, a list of strings, a list of token ids (non-negative "
                             "integers) or a list of such lists", param="input", code="invalid_type")
    where = f"'{param}'" if param else "request body"
    return APIError(400, f"invalid {where}: {first.get('msg', 'invalid value')}", param=param,
                    code="invalid_type" if "type" in kind or kind.endswith("_parsing") else "invalid_value")


def install_handlers(app) -> None:
    """Route APIError, validation errors, Starlette's HTTP errors (404, 405, 413) and anything unexpected
    (500) through :func:`error_response`."""

    async def on_api_error(request, exc: APIError):
        return error_response(exc)

    async def on_validation(request, exc: RequestValidationError):
        err = validation_error(exc)
        ctype = request.headers.get("content-type", "")
        if err.param is None and err.code == "invalid_type" and "json" not in ctype:
            err.message = f"the body must be a JSON object sent with Content-Type: application/json (got {ctype!r})"
        return error_response(err)

    async def on_http(request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            msg = f"no route {request.method} {request.url.path} (see /docs)"
        code = {413: "payload_too_large", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(APIError(exc.status_code, msg, code=code, headers=getattr(exc, "headers", None)))

    async def on_bug(request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(APIError(500, f"internal error ({type(exc).__name__}); this is a bug in simlab serve",
                                       code="internal_error"))

    app.add_exception_handler(APIError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
