"""The operator console's serving (issue 23), without a browser: ``smsengine serve`` as a
subprocess, plain HTTP. Its pages in a real browser are tests/daemon/console/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from smsengine.daemon.console import CSP
from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import KEY, READ_KEY, SEND_KEY, Daemon, daemon, daemon_config

FOLDER = Path(__file__).parents[2] / "smsengine" / "daemon" / "console"


@pytest.fixture
async def gw(smsc: FakeSMSC, tmp_path: Path) -> AsyncIterator[Daemon]:
    async with daemon(daemon_config(tmp_path, smsc.port)) as running:
        yield running


async def _get(gw: Daemon, path: str) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(gw.base + path,
                                                         allow_redirects=False) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


async def test_pages_are_served_with_a_strict_csp(gw: Daemon) -> None:
    status, body, headers = await _get(gw, "/console/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert body == (FOLDER / "index.html").read_bytes()
    csp = headers["Content-Security-Policy"]
    assert csp == CSP
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src is not None and script_src.group(1) == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    for name, ctype in (("console.js", "text/javascript"), ("i18n.js", "text/javascript"),
                        ("console.css", "text/css")):
        status, body, headers = await _get(gw, "/console/" + name)
        assert status == 200 and headers["Content-Type"].startswith(ctype), name
        assert headers["Content-Security-Policy"] == CSP
        assert body == (FOLDER / name).read_bytes()
    status, _, headers = await _get(gw, "/console")
    assert status == 302 and headers["Location"] == "/console/"


async def _get_raw(gw: Daemon, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written: aiohttp's client (as a browser) resolves ``..`` before
    sending, so a traversal would never reach the daemon."""
    host, port = gw.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_nothing_else_is_served(gw: Daemon) -> None:
    app = (FOLDER.parent / "app.py").read_bytes()
    for path in ("/console/nope.js", "/console/..%2fconsole.py", "/console/%2e%2e%2fapp.py",
                 "/console/.hidden.js", "/console/../app.py", "/console/../daemon/app.py",
                 "/console/./../app.py", "/console/..%2f..%2fdaemon%2fapp.py",
                 "/console/%2e%2e/app.py", "/console/..\\app.py"):
        status, body = await _get_raw(gw, path)
        assert status == 404, (path, body[:200])
        assert app[:200] not in body


def test_no_inline_script_or_handler_in_the_markup() -> None:
    """CSP would block them; the markup is kept free of them so nothing silently breaks."""
    html = (FOLDER / "index.html").read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S):
        assert tag == ""
    assert re.findall(r"<script\b([^>]*)>", html) == [' src="i18n.js" defer',
                                                      ' src="console.js" defer']
    assert not re.search(r"\son[a-z]+\s*=", html, re.I)
    assert "style=" not in html
    script = (FOLDER / "console.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "document.write" not in script and "eval(" not in script
    assert "localStorage" not in script  # the key lives in sessionStorage only


async def test_me_names_the_key_and_its_scopes(gw: Daemon) -> None:
    for key, name, scopes in ((KEY, "admin", ["admin"]), (SEND_KEY, "sender", ["send"]),
                              (READ_KEY, "reader", ["read"])):
        status, body, _ = await gw.request("GET", "/v1/me", key=key)
        assert status == 200 and body == {"name": name, "scopes": scopes}
    status, body, headers = await gw.request("GET", "/v1/me", key=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    status, body, _ = await gw.request("GET", "/v1/me", key="not-a-key")
    assert status == 401
    _, doc, _ = await gw.request("GET", "/openapi.json")
    assert doc["paths"]["/v1/me"]["get"]["security"] == [{"bearer": []}]


async def test_a_cross_origin_form_post_is_refused(gw: Daemon) -> None:
    """CSRF: the API takes its key from the Authorization header only (the console keeps it in
    sessionStorage and adds the header itself), never from a cookie, so a form another site
    makes the browser post carries no credential. Such a post is refused and sends nothing."""
    forms = [("application/x-www-form-urlencoded", b"to=8613800000001&text=hi"),
             ("text/plain", b'{"to": "8613800000001", "text": "hi", "x": "="}'),
             ("multipart/form-data; boundary=b",
              b'--b\r\nContent-Disposition: form-data; name="template"\r\n\r\nx\r\n--b--\r\n')]
    async with aiohttp.ClientSession() as http:
        for ctype, body in forms:
            for path in ("/v1/messages", "/v1/campaigns", "/v1/templates"):
                async with http.post(gw.base + path, data=body, headers={
                        "Content-Type": ctype, "Origin": "https://evil.example",
                        "Cookie": "session=whatever"}) as resp:
                    assert resp.status == 401, (path, ctype, await resp.text())
                    assert "Access-Control-Allow-Origin" not in resp.headers
        async with http.options(gw.base + "/v1/messages", headers={
                "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization"}) as resp:
            assert "Access-Control-Allow-Origin" not in resp.headers
    status, page, _ = await gw.request("GET", "/v1/messages?to=8613800000001")
    assert status == 200 and page["messages"] == []
