"""``dorlab dashboard``: a read-only web page and JSON API that follow a data directory live.

Built on Starlette (a small ASGI toolkit) served by uvicorn; the page draws with plotly.js, served from
the ``plotly`` wheel itself (no CDN: lab networks are often offline). The page is a client of the same
JSON API that lab automation uses, polled every half second, so what the page shows is what the API
says. Every route is GET only: nothing here can reach an instrument or change a file.

Access: bound to 127.0.0.1 by default, with no token (and only requests addressed to 127.0.0.1 or
localhost are answered, so a web page cannot reach it by DNS rebinding). Bound to any other address,
every request must carry the token (``Authorization: Bearer TOKEN`` or ``?token=TOKEN``), else it gets 401; the token is
``--token``, else ``$DORLAB_DASHBOARD_TOKEN``, else generated and printed at start.

API (JSON, SI units, null for unknown):

- ``GET /api/status``: data directory, calibration store status (ok / absent / unreadable), server time.
- ``GET /api/runs``: every run: id, kind, device, bench, status, points done / total, progress, ETA (s).
- ``GET /api/runs/<id>``: one run with its data so far (per kind).
- ``GET /api/devices``: one row per device with its active calibration's a', c', vertex, quality.
- ``GET /api/devices/<name>``: the active parabola over its sweep points, the history of a', c', vertex
  and quality, rejected calibrations with their reasons.

A store that cannot be read answers 503 with ``{"error": ...}`` on the device routes and shows as a
banner on the page; the runs keep updating.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import time
from pathlib import Path

from dorlab.frontends import dashboard_data as data
from dorlab.procedures.jsonout import json_safe

TOKEN_ENV = "DORLAB_DASHBOARD_TOKEN"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
STATIC_DIR = Path(__file__).with_name("dashboard_static")
POLL_SECONDS = 0.5
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")  # Host headers accepted without a token


def is_local(host: str) -> bool:
    """True for the loopback names that need no token: 127.0.0.1, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """(token, generated): the token a bind to ``host`` requires (None on a local bind without one)."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is not None:
        return token, False
    if is_local(host):
        return None, False
    return secrets.token_urlsafe(24), True


def _plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.js is missing from the plotly package ({path})")
    return path


def create_app(data_dir: str | os.PathLike, *, token: str | None = None, poll_seconds: float = POLL_SECONDS):
    """The ASGI app serving ``data_dir`` (read-only); with ``token`` every request must carry it."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse
    from starlette.routing import Route

    root = Path(data_dir)
    plotly_js = _plotly_js()

    def payload(value, status_code=200):
        return JSONResponse(json_safe(value), status_code=status_code)

    def error(message, status_code):
        return JSONResponse({"error": message}, status_code=status_code)

    # plain (non-async) endpoints: Starlette runs them in its thread pool, so a slow disk or a busy
    # store delays one request, never the server
    def page(request):
        html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        query = f"?token={token}" if token else ""
        html = html.replace("{{QUERY}}", query).replace("{{POLL_MS}}", str(int(poll_seconds * 1000)))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def static(request):
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(plotly_js, media_type="text/javascript")
        path = STATIC_DIR / name
        if name not in {"dashboard.js", "dashboard.css"} or not path.is_file():
            return error(f"no static file {name!r}", 404)
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    def status(request):
        return payload({"data_dir": str(root), "store": data.store_status(root), "time": time.time(),
                        "read_only": True, "poll_seconds": poll_seconds})

    def answer(compute):
        """``compute()`` as JSON: 404 for a device or run that does not exist, 503 for a store that
        cannot be read."""
        try:
            return payload(compute())
        except data.NotFound as exc:
            return error(str(exc), 404)
        except data.StoreUnreadable as exc:
            return error(f"calibration store unreadable: {exc}", 503)

    def runs(request):
        return payload({"runs": data.runs(root)})

    def run(request):
        return answer(lambda: data.run(root, request.path_params["run_id"]))

    def devices(request):
        return answer(lambda: {"store": data.store_status(root), "devices": data.devices(root)})

    def device(request):
        return answer(lambda: data.device(root, request.path_params["name"]))

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/api/status", status, methods=["GET"]),
        Route("/api/runs", runs, methods=["GET"]),
        Route("/api/runs/{run_id}", run, methods=["GET"]),
        Route("/api/devices", devices, methods=["GET"]),
        Route("/api/devices/{name}", device, methods=["GET"]),
    ]
    if token:
        middleware = [Middleware(TokenRequired, token=token)]
    else:
        # without a token only this machine may ask: a page elsewhere could otherwise read the lab's data
        # through the browser by pointing a name of its own at 127.0.0.1 (DNS rebinding)
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(LOCAL_HOSTS), www_redirect=False)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.data_dir = root
    return app


class TokenRequired:
    """ASGI middleware: 401 unless the request carries the token (Bearer header or ``token`` query)."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        request = Request(scope)
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else request.query_params.get("token", "")
        if not secrets.compare_digest(given.encode(), self.token):
            response = JSONResponse({"error": "a token is required: send 'Authorization: Bearer TOKEN' "
                                              "or ?token=TOKEN"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def bind(host: str, port: int):
    """A listening socket on (host, port); port 0 picks a free one. Raises OSError with the address."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def serve(app, sock, *, log_level: str = "warning") -> None:
    """Serve ``app`` on the bound socket until interrupted (Ctrl-C stops it cleanly)."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
