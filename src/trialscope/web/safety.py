"""The last safety net: an error that escapes the app's exception handlers becomes its 500.

The app's `Exception` handler cannot see a Rust panic from tantivy: pyo3's PanicException
derives from BaseException, so without this middleware it reaches the server, which answers
a plain-text 500 without the security headers. Here it becomes the app's JSON (API) or HTML
(pages) 500, and one line is logged. Cancellation and interpreter exits pass through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson

log = logging.getLogger("trialscope.web")
_PASS = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


class PanicGuard:
    """Pure ASGI middleware; `html()` renders the app's 500 page."""

    def __init__(self, app, html: Callable[[], str]):
        self.app = app
        self.html = html

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            raise  # the app's own handler has answered and logged it
        except BaseException as exc:
            if isinstance(exc, _PASS) or type(exc).__name__ == "Cancelled":
                raise
            log.error("unhandled %s on %s: %s", type(exc).__name__, scope.get("path"), str(exc)[:200])
            if started:
                return  # the reply is under way: nothing more can be said
            path = scope.get("path") or ""
            if path.startswith("/api/") or path == "/openapi.json":
                body, kind = orjson.dumps({"error": "internal error", "status": 500}), b"application/json"
            else:
                body, kind = self.html().encode(), b"text/html; charset=utf-8"
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
