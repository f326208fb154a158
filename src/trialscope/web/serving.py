"""uvicorn's HTTP protocol with TCP_NODELAY set on every connection (`trialscope serve`).

With `--workers N` uvicorn binds the shared socket itself, as `socket.socket(family)`, whose
proto is 0, and asyncio sets TCP_NODELAY only on sockets whose proto is TCP. Every response
small enough to leave in two writes (headers, then body) then waited for the client's
delayed ACK: /healthz took 44 ms with 2 workers against 1.8 ms with one. A module of its own
so that uvicorn's worker processes (spawned, not forked) can import the class by name.
"""

from __future__ import annotations

import socket
from contextlib import suppress

from uvicorn.protocols.http.auto import AutoHTTPProtocol


class NoDelayHTTP(AutoHTTPProtocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
