"""Run ``simlab serve``: bind the socket, start uvicorn (one process, one inference thread), load the model in
the background, drain on SIGTERM.

Drain (SIGTERM, as Kubernetes and systemd send it): the phase becomes ``draining``, so ``/ready`` and new API
requests answer 503 with ``Retry-After`` while the requests already accepted run to completion; when none is in
flight (or after ``drain_timeout_s``) uvicorn shuts down as usual. A second SIGTERM or a Ctrl-C exits at once.

>>> run(ServeConfig(model="minilm", port=0))                    # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import threading
import time

from simlab.serve.config import ServeConfig
from simlab.serve.lifecycle import ServerState


def log(msg: str) -> None:
    print(f"simlab serve: {msg}", file=sys.stderr, flush=True)


def _server_class():
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn's Server whose first SIGTERM drains before it exits."""

        state: ServerState

        def handle_exit(self, sig, frame):
            if sig == signal.SIGTERM and self.state.phase in ("ready", "starting"):
                self.state.phase = "draining"
                threading.Thread(target=self._drain, name="simlab-drain", daemon=True).start()
                return
            super().handle_exit(sig, frame)

        def _drain(self):
            t0 = time.monotonic()
            log(f"SIGTERM: draining {self.state.in_flight} requests in flight (new requests get 503)")
            time.sleep(0.05)  # let requests already past the gate register
            self.state.idle.wait(self.state.config.drain_timeout_s)
            log(f"drained in {time.monotonic() - t0:.2f} s; shutting down")
            self.should_exit = True

    return DrainingServer


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: a free one), so the real port is known before uvicorn starts.

    Made with ``proto=IPPROTO_TCP`` and ``TCP_NODELAY``: asyncio sets TCP_NODELAY on an accepted connection only
    when its socket says ``proto == IPPROTO_TCP``, and a socket made with the default proto 0 says 0. Without it,
    Nagle's algorithm held the response's second write (the body after the headers) until the client's delayed
    ACK, up to 40 ms later on Linux, on every request (issue 23's single-request latency; test_ops checks it).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets on Linux
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from simlab.errors import BadInputError

        raise BadInputError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server on that port? "
                            f"choose another with --port, or --port 0 for a free one)") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(cfg: ServeConfig) -> int:
    """Serve until SIGTERM / Ctrl-C; a start-up failure (model, whitening, index) is re-raised afterwards."""
    import uvicorn

    from simlab.serve.app import create_app
    from simlab.serve.startup import load

    state = ServerState(cfg)
    sock = bind(cfg.host, cfg.port)
    host, port = sock.getsockname()[:2]
    server_box: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        threading.Thread(target=load, args=(state, log), name="simlab-load", daemon=True).start()
        watch = asyncio.create_task(_stop_on_failure(state, server_box))
        yield
        watch.cancel()
        state.close()

    app = create_app(state, lifespan=lifespan)
    config = uvicorn.Config(app, log_level=cfg.log_level, access_log=False, timeout_graceful_shutdown=
                            cfg.drain_timeout_s, h11_max_incomplete_event_size=cfg.limits.max_header_bytes,
                            server_header=False, date_header=True, timeout_keep_alive=30)
    # http / loop "auto": httptools and uvloop where installed (the serve extra installs them, so the event loop
    # takes less CPU from the forward pass); the header cap is the payload middleware's, so it holds under either
    server = _server_class()(config)
    server.state = state
    server_box["server"] = server
    log(f"listening on http://{'[' + host + ']' if ':' in host else host}:{port} (loading {cfg.model}; GET /ready "
        f"says when it is ready)")
    server.run(sockets=[sock])
    if state.error is not None:
        raise state.error
    return 0


async def _stop_on_failure(state: ServerState, box: dict) -> None:
    while state.phase in ("starting", "ready", "draining"):
        await asyncio.sleep(0.1)
    if state.phase == "failed":
        box["server"].should_exit = True
