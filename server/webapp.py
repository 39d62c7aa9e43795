"""The web app (clients/web, built into ``clients/web/dist``) served at ``/``,
beside ``/ws`` and ``/v1`` on the same origin, so it needs no CORS.

Every answer carries a strict Content-Security-Policy: scripts only from this
origin (plus WebAssembly, for libsodium.js), connections only to this host,
no frames, no plugins. The service worker and the page shell are revalidated
on every load so a new build reaches users at once; the rest is compressed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUILT_APP", "web_routes"]

BUILT_APP = Path(__file__).resolve().parent.parent / "clients" / "web" / "dist"

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",  # same origin, ws: and wss: included (CSP Level 3)
        "img-src 'self' blob:",  # blob: decrypted photos
        "media-src 'self' blob:",  # and decrypted audio or video
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
]
log = logging.getLogger(__name__)
ALWAYS_REVALIDATE = {"/", "/index.html", "/sw.js", "/manifest.webmanifest"}


class _Headers:
    """Adds the security headers, and ``no-cache`` to the shell and worker."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        revalidate = scope.get("path") in ALWAYS_REVALIDATE

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + HEADERS
                if revalidate:
                    headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def web_routes(directory: str) -> list[Mount]:
    """The app's route, placed after the API's; none when ``directory`` holds
    no built app (then ``/`` is a 404, and the log says how to build it)."""
    root = Path(directory) if directory else BUILT_APP
    if not (root / "index.html").is_file():
        log.warning("no web app in %s: build it with `npm run --prefix clients/web build`", root)
        return []
    files = StaticFiles(directory=root, html=True)
    return [Mount("/", app=_Headers(GZipMiddleware(files, minimum_size=512)), name="app")]
