"""Request limits: the payload cap (checked on the byte stream, before any JSON is parsed) and OpenAI's input
limits (2,048 inputs, 300,000 tokens summed per request; specs/serve.md §9.1), all from :class:`Limits`.

>>> from simlab.serve.config import Limits
>>> check_counts([3, 4], Limits(max_tokens_per_request=10))
7
>>> check_counts([8, 4], Limits(max_tokens_per_request=10))
Traceback (most recent call last):
...
simlab.serve.errors.APIError: the inputs hold 12 tokens in all, more than the limit of 10 per request; split them over several requests
"""

from __future__ import annotations

from simlab.serve.errors import APIError, PayloadTooLarge, error_response


def check_inputs(texts: list, limits) -> None:
    """400 for no input, an empty string, or more inputs than ``limits.max_inputs``."""
    if not texts:
        raise APIError(400, "'input' is empty: send a non-empty string or list", param="input", code="empty_input")
    if len(texts) > limits.max_inputs:
        raise APIError(400, f"{len(texts)} inputs in one request, more than the limit of {limits.max_inputs}; split "
                            f"them over several requests", param="input", code="too_many_inputs")
    for i, t in enumerate(texts):
        if isinstance(t, str) and not t.strip():
            raise APIError(400, f"input {i} is an empty string; every input must contain text", param="input",
                           code="empty_input")
        if isinstance(t, list) and not t:
            raise APIError(400, f"input {i} is an empty list of token ids", param="input", code="empty_input")


def check_counts(counts: list[int], limits) -> int:
    """The total token count, or a 400 over ``limits.max_tokens_per_request``."""
    total = int(sum(counts))
    if total > limits.max_tokens_per_request:
        raise APIError(400, f"the inputs hold {total} tokens in all, more than the limit of "
                            f"{limits.max_tokens_per_request} per request; split them over several requests",
                       param="input", code="too_many_tokens")
    return total


class PayloadLimitMiddleware:
    """Pure ASGI: 431 when the headers exceed their cap; 413 when ``Content-Length`` exceeds the cap, or when the streamed body does (chunked uploads):
    the byte count is kept in ``receive``, so nothing over the cap is buffered or parsed."""

    def __init__(self, app, max_bytes: int, max_header_bytes: int = 16 * 1024):
        self.app, self.max_bytes, self.max_header_bytes = app, int(max_bytes), int(max_header_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        header_bytes = sum(len(n) + len(v) for n, v in scope.get("headers", ()))
        if header_bytes > self.max_header_bytes:  # httptools has no such limit of its own (h11 has 16 kB)
            response = error_response(APIError(431, f"the request headers hold {header_bytes} bytes, more than the "
                                                    f"limit of {self.max_header_bytes}", code="headers_too_large"))
            return await response(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
                if length > self.max_bytes or length < 0:
                    msg = (str(PayloadTooLarge(self.max_bytes).detail) if length > 0 else
                           "the Content-Length header is not a number")
                    response = error_response(APIError(413 if length > 0 else 400, msg,
                                                       code="payload_too_large" if length > 0 else "invalid_header"))
                    return await response(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
