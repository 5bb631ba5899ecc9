"""API keys: ``Authorization: Bearer KEY`` compared in constant time against every configured key.

``hmac.compare_digest`` takes the same time wherever two equal-length strings differ; comparing the SHA-256
digests makes the lengths equal too, and every key is compared (no early exit), so neither the position of the
first wrong byte, the key's length nor which key matched leaks through the response time.

>>> keys = hashed_keys(["s3cret"])
>>> key_ok("Bearer s3cret", keys), key_ok("Bearer wrong", keys), key_ok(None, keys)
(True, False, False)
"""

from __future__ import annotations

import hashlib
import hmac

OPEN_PATHS = frozenset({"/health", "/ready", "/", "/docs", "/openapi.json", "/favicon.ico"})


def hashed_keys(keys) -> list[bytes]:
    return [hashlib.sha256(k.encode("utf-8")).digest() for k in keys]


def key_ok(authorization: str | None, keys: list[bytes]) -> bool:
    """Whether an ``Authorization`` header carries one of the keys (``keys`` from :func:`hashed_keys`)."""
    scheme, _, token = (authorization or "").partition(" ")
    given = hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).digest()
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(given, k)
    return ok and scheme.lower() == "bearer"


class APIKeyMiddleware:
    """Pure ASGI middleware: a 401 in OpenAI's envelope unless the path is open or the key is right."""

    def __init__(self, app, keys):
        self.app, self.keys = app, hashed_keys(keys)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.keys or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if key_ok(header, self.keys):
            return await self.app(scope, receive, send)
        from simlab.serve.errors import APIError, error_response

        msg = ("missing API key: send 'Authorization: Bearer KEY' (the openai client's api_key)" if header is None
               else "incorrect API key provided")
        response = error_response(APIError(401, msg, code="invalid_api_key",
                                           headers={"www-authenticate": "Bearer"}))
        await response(scope, receive, send)
