"""The operator console (issue 23): static HTML, CSS and JavaScript shipped in the package
(``smsengine/daemon/console/``) and served under ``/console/``. It holds no logic of its own on
the server: the page calls the public ``/v1`` API with the API key the operator typed, kept in
the browser's ``sessionStorage`` only.

Safety
    Every answer carries a Content-Security-Policy with no ``unsafe-inline`` (all script is in
    files of this folder, no inline ``<script>`` nor ``on*`` attribute), no framing, no form
    target. CSRF: the API authenticates by an ``Authorization: Bearer`` header that the page's
    script adds, never by a cookie, so a form posted from another origin carries no credential
    and is refused 401 (``tests/daemon/test_console.py``); a cross-origin script cannot set the
    header without a CORS preflight, which the daemon does not answer.
"""

from __future__ import annotations

import re
from importlib import resources

from aiohttp import web

__all__ = ["CSP", "add_console_routes"]

#: The policy of every console answer: scripts, styles and requests to this origin only.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript",
          ".svg": "image/svg+xml", ".png": "image/png", ".txt": "text/plain"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def _files() -> dict[str, tuple[bytes, str]]:
    """The folder's files (name -> (bytes, content type)), read once: a handful, small."""
    found: dict[str, tuple[bytes, str]] = {}
    folder = resources.files("smsengine.daemon") / "console"
    for entry in folder.iterdir():
        name = entry.name
        suffix = name[name.rfind("."):] if "." in name else ""
        if entry.is_file() and _NAME.match(name) and suffix in _TYPES:
            found[name] = (entry.read_bytes(), _TYPES[suffix])
    return found


def _headers(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-cache"
    return response


def add_console_routes(app: web.Application) -> None:
    """``GET /console`` (redirect), ``/console/`` (the page) and ``/console/{name}``."""
    files = _files()

    async def redirect(request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": "/console/"})

    async def page(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or "index.html"
        found = files.get(name)
        if found is None:
            raise web.HTTPNotFound(text=f"no console file {name!r}")  # (a problem, 404)
        body, ctype = found
        charset = "utf-8" if ctype.startswith("text/") or ctype.endswith("+xml") else None
        return _headers(web.Response(body=body, content_type=ctype, charset=charset))

    app.router.add_get("/console", redirect)
    app.router.add_get("/console/", page)
    app.router.add_get("/console/{name}", page)
