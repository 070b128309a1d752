"""The operator console in a real browser (issue 23): Debian's ``chromium`` driven by Playwright
for Python (``executable_path``: Playwright never downloads a browser here), against a real
``smsengine serve --demo`` subprocess (its fake SMSC, its fresh key).

Without chromium or the playwright package the tests skip, loudly; under ``CI=true`` (where
``make test`` installs chromium through apt-get first) a missing browser is a failure.
Screenshots of each step go to the test's ``tmp_path`` (pytest keeps the last runs' folders, so a
failure keeps them); ``SMSENGINE_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests._support.services import unavailable

CHROMIUM = os.environ.get("SMSENGINE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


def _need_browser(*, module: bool = False) -> None:
    reason = _missing()
    if reason is not None:
        unavailable("the console's browser tests", reason, module=module)


def playwright_expect() -> Any:
    """Playwright's ``expect``, for a test module to import: without the package the module
    skips (loudly; under CI=true it fails) instead of failing to import."""
    _need_browser(module=True)
    from playwright.sync_api import expect

    return expect


@dataclass
class Demo:
    base: str
    key: str
    proc: subprocess.Popen[str]
    out: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """``smsengine serve --demo``: its base URL and API key, read from what it prints."""
    _need_browser()
    proc = subprocess.Popen([sys.executable, "-m", "smsengine", "serve", "--demo"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out: list[str] = []
    base = key = ""
    timer = threading.Timer(30.0, proc.kill)  # (a daemon that never starts ends the read)
    timer.start()
    for line in proc.stdout:
        out.append(line)
        if m := re.match(r"smsengine serve listening on (http://\S+)", line):
            base = m.group(1)
        if m := re.match(r"API key: (\S+)", line):
            key = m.group(1)
        if base and key:
            break
    timer.cancel()
    assert base and key, "".join(out)
    # (the rest of what it prints is drained, so the pipe never fills)
    threading.Thread(target=out.extend, args=(proc.stdout,), daemon=True).start()
    try:
        yield Demo(base, key, proc, out)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _started(cmd: list[str], pattern: str, what: str) -> tuple[subprocess.Popen[str], str]:
    """A process started and the first match of ``pattern`` in what it prints (the rest is
    drained, so its pipe never fills)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    timer = threading.Timer(30.0, proc.kill)  # (one that never starts ends the read)
    timer.start()
    out: list[str] = []
    found = None
    for line in proc.stdout:
        out.append(line)
        if found := re.match(pattern, line):
            break
    timer.cancel()
    assert found, f"{what} did not start: {''.join(out)[-2000:]}"
    threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
    return proc, found.group(1)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


ADMIN_KEY = "console-admin-key-0123456789"
READ_KEY = "console-reader-key-0123456789"


@pytest.fixture(scope="module")
def expiring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Demo]]:
    """A real ``smsengine serve --config`` whose carrier (``smsengine fakesmsc``, another
    process) expires every message (stat EXPIRED, err 00A), with an admin key and a read-only
    key: what the demo cannot show (its carrier delivers everything, its one key is admin).
    Its ``Demo`` per key name."""
    _need_browser()
    folder = tmp_path_factory.mktemp("expiring")
    (folder / "smsc.toml").write_text("""
[[accounts]]
system_id = "shop"
password = "secret"
bind_modes = ["transceiver"]
[receipts]
delay = { kind = "uniform", low = 0.05, high = 0.2 }
statuses = { EXPIRED = 1.0 }
err_codes = { EXPIRED = "00A" }
""", encoding="utf-8")
    smsc, port = _started(
        [sys.executable, "-m", "smsengine", "fakesmsc", "--port", "0", "--config",
         str(folder / "smsc.toml")],
        r"fakesmsc listening on 127\.0\.0\.1:(\d+)", "the fake SMSC")
    try:
        (folder / "smsengine.toml").write_text(f"""
[[channels]]
name = "carrier"
host = "127.0.0.1"
port = {port}
system_id = "shop"
password = "secret"
default_source = "SHOP"
[server]
host = "127.0.0.1"
port = 0
[store]
path = "{folder / 'outbox.db'}"
[[api_keys]]
name = "ops"
key = "{ADMIN_KEY}"
scopes = ["send", "read", "admin"]
[[api_keys]]
name = "reader"
key = "{READ_KEY}"
scopes = ["read"]
""", encoding="utf-8")
        daemon, base = _started(
            [sys.executable, "-m", "smsengine", "serve", "--config",
             str(folder / "smsengine.toml")],
            r"smsengine serve listening on (http://\S+)", "smsengine serve")
        try:
            yield {"ops": Demo(base, ADMIN_KEY, daemon), "reader": Demo(base, READ_KEY, daemon)}
        finally:
            _stop(daemon)
    finally:
        _stop(smsc)


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


class Console:
    """A browser tab on the console, with what went wrong in it (page errors, CSP reports,
    failed requests) and a screenshot per step."""

    def __init__(self, page: Any, demo: Demo, folder: Path) -> None:
        self.page = page
        self.demo = demo
        self.folder = folder
        self.step = 0
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("console", self._console)
        page.set_default_timeout(10_000)

    def _console(self, message: Any) -> None:
        # A 4xx the page asked for and shows (a wrong key, a refused template) is logged by
        # chromium as "Failed to load resource"; anything else logged as an error (a CSP
        # violation, an exception) fails the test.
        if message.type == "error" and not message.text.startswith(
                "Failed to load resource: the server responded with a status of 4"):
            self.errors.append(f"console {message.type}: {message.text}")

    def shot(self, name: str) -> Path:
        self.step += 1
        path = self.folder / f"{self.step:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def login(self) -> None:
        self.page.goto(self.demo.base + "/console/")
        self.page.fill("#login-key", self.demo.key)
        self.page.click("#login-submit")
        self.page.wait_for_selector("#page-dashboard:not([hidden])")

    def go(self, name: str) -> None:
        self.page.click(f'#nav a[data-page="{name}"]')
        self.page.wait_for_selector(f"#page-{name}:not([hidden])")


@pytest.fixture
def console_factory(browser: Any, demo: Demo, tmp_path: Path
                    ) -> Iterator[Callable[..., Console]]:
    contexts: list[Any] = []
    made: list[Console] = []

    def make(locale: str = "en-GB", daemon: Demo | None = None) -> Console:
        """A tab on the demo's console, or on ``daemon``'s (logged in with its key)."""
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        console = Console(context.new_page(), daemon or demo, tmp_path)
        made.append(console)
        return console

    yield make
    for context in contexts:
        context.close()
    for console in made:
        assert not console.errors, console.errors


@pytest.fixture
def console(console_factory: Callable[..., Console]) -> Console:
    return console_factory()
