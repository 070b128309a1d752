# ruff: noqa: RUF001  (Chinese text has full-width punctuation)
"""Each page of the operator console in Chromium against ``smsengine serve --demo`` (issue 23):
log in; send a code, find it by number, see it DELIVERED; create a template, upload a 1 000-row
CSV campaign, pause and resume it, see it reach 100 %; opt-outs; ``<script>`` in what users
type shows as text and never runs; Chinese for a zh-CN browser; a cross-origin form post is
refused."""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .conftest import Console, Demo, playwright_expect

expect = playwright_expect()

PWNED = "() => window.__pwned === undefined && document.querySelectorAll('script').length === 2"


def _api(demo: Demo, path: str) -> Any:
    request = urllib.request.Request(demo.base + path,
                                     headers={"Authorization": f"Bearer {demo.key}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def _number() -> str:
    return "86139" + "".join(secrets.choice("0123456789") for _ in range(8))


def test_login(console: Console) -> None:
    page = console.page
    page.goto(console.demo.base + "/console/")
    expect(page.locator("#page-login")).to_be_visible()
    expect(page.locator("#top")).to_be_hidden()
    console.shot("login")
    page.fill("#login-key", "not-the-key")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("This API key is not known to the daemon.")
    assert page.evaluate("sessionStorage.length") == 0
    console.shot("wrong-key")
    console.login()
    # The key is in this tab's sessionStorage only: no cookie, nothing in localStorage.
    assert page.evaluate("sessionStorage.getItem('smsengine.console.key')") == console.demo.key
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    expect(page.locator("#who")).to_have_text("demo · admin, read, send")
    row = page.locator('#dash-channels tr[data-channel="demo"]')
    expect(row.locator("td").nth(1)).to_have_text("2 / 2")
    expect(page.locator("#dash-chart polyline")).to_have_count(3)
    console.shot("dashboard")
    # A reload keeps the session (same tab); logging out forgets the key.
    page.reload()
    expect(page.locator("#page-dashboard")).to_be_visible()
    page.click("#logout")
    expect(page.locator("#page-login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('smsengine.console.key')") is None
    console.shot("logged-out")


def test_send_a_code_then_find_it_delivered(console: Console) -> None:
    page = console.page
    number = _number()
    console.login()
    console.go("send")
    page.fill("#send-to", number)
    out_id = "order-" + secrets.token_hex(4)
    page.fill("#send-outid", out_id)
    page.check('input[name="send-mode"][value="template"]')
    page.select_option("#send-template", "login")
    page.fill('#send-params input[data-param="code"]', "482913")
    meta = page.locator("#preview-meta")
    expect(meta).to_have_attribute("data-parts", "1")
    expect(page.locator("#preview-text")).to_contain_text("Your code is ******")
    console.shot("send-preview")
    page.click("#send-submit")
    expect(page.locator("#send-result")).to_have_class("ok")
    message_id = page.locator("#send-result").get_attribute("data-id")
    console.shot("sent")
    console.go("messages")
    rows = page.locator("#search-results tbody tr")
    row = page.locator(f'#search-results tr[data-id="{message_id}"]')
    # By out_id; by number within a time range (the browser's local time); none an hour on.
    page.fill("#search-outid", out_id)
    page.click("#search-submit")
    expect(row).to_have_count(1)
    expect(rows).to_have_count(1)
    page.fill("#search-outid", "")
    page.fill("#search-to", number)
    now = datetime.now()
    page.fill("#search-since", (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#search-until", (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#search-submit")
    expect(row).to_have_count(1)
    console.shot("found")
    page.fill("#search-since", (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#search-until", (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#search-submit")
    expect(rows).to_have_text(["No message found."])
    page.fill("#search-since", "")
    page.fill("#search-until", "")
    page.click("#search-submit")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text(number)
    row.locator("a").click()
    detail = page.locator("#message-detail")
    expect(detail).to_have_attribute("data-state", "delivered", timeout=15_000)
    expect(detail.locator('dd[data-field="state"]')).to_have_text("delivered")
    expect(detail.locator('dd[data-field="outid"]')).to_have_text(out_id)
    expect(page.locator("#detail-parts tbody tr")).to_have_count(1)
    smsc_id = page.locator("#detail-parts tbody td").nth(1).text_content()
    assert smsc_id and smsc_id != "–"
    expect(page.locator("#detail-timeline li")).to_have_count(4)
    expect(page.locator("#detail-timeline li").last).to_contain_text("Final: delivered")
    console.shot("delivered")
    # The dashboard counts it in the last minute, once (the first message this daemon sent:
    # the tests before this one send none).
    console.go("dashboard")
    delivered = page.locator('#dash-states tr[data-state="delivered"] td').nth(1)
    expect(delivered).to_have_text("1")
    page.wait_for_timeout(2500)  # (a poll or two later, still once)
    expect(delivered).to_have_text("1")
    expect(page.locator("#dash-rate")).to_have_text("100.0 %")
    console.shot("dashboard-after")


def test_template_and_a_1000_row_campaign(console: Console, tmp_path: Path) -> None:
    page = console.page
    name = "promo_" + secrets.token_hex(3)
    console.login()
    console.go("templates")
    page.fill("#tpl-name", name)
    page.select_option("#tpl-kind", "marketing")
    page.fill("#tpl-text", "Hi ${name}, coupon ${coupon} is yours.")
    expect(page.locator('#tpl-vars input[data-sample="coupon"]')).to_have_count(1)
    page.fill('#tpl-vars input[data-sample="name"]', "Li")
    expect(page.locator("#tpl-preview-text")).to_contain_text("Hi Li, coupon coupon is yours.")
    expect(page.locator("#tpl-preview-meta")).to_have_attribute("data-parts", "1")
    console.shot("template-preview")
    page.click("#tpl-save")
    expect(page.locator("#tpl-result")).to_have_text(f"Saved {name}, version 1.")
    row = page.locator(f'#templates-list tr[data-name="{name}"]')
    expect(row).to_have_count(1)
    # Edit: a new version.
    row.locator("button").click()
    page.fill("#tpl-text", "Hi ${name}, coupon ${coupon} is yours today.")
    page.click("#tpl-save")
    expect(page.locator("#tpl-result")).to_have_text(f"Saved {name}, version 2.")
    console.shot("template-saved")

    csv = tmp_path / "recipients.csv"
    lines = ["phone,first_name,coupon"] + [f"86137{i:08d},User{i},C{i:05d}" for i in range(1000)]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    console.go("campaigns")
    page.fill("#cmp-name", "spring sale")
    page.select_option("#cmp-template", name)
    page.set_input_files("#cmp-file", str(csv))
    expect(page.locator("#cmp-rows-info")).to_contain_text("1000 recipients")
    # "to" and "coupon" are guessed from the header; first_name is mapped by hand.
    expect(page.locator('select[data-field="to"]')).to_have_value("0")
    expect(page.locator('select[data-field="coupon"]')).to_have_value("2")
    page.select_option('select[data-field="name"]', "1")
    page.fill("#cmp-rate", "80")
    page.fill("#cmp-price", "0.05")
    console.shot("campaign-mapped")
    page.click("#cmp-estimate")
    fields = page.locator("#cmp-estimate-fields")
    expect(fields.locator('dd[data-field="recipients"]')).to_have_text("1000")
    expect(fields.locator('dd[data-field="parts"]')).to_have_text("1000")
    expect(fields.locator('dd[data-field="cost"]')).to_have_text("50.00")
    expect(fields.locator('dd[data-field="example"]')).to_contain_text(
        "Hi User0, coupon C00000 is yours today.")
    console.shot("campaign-estimate")
    page.click("#cmp-confirm")
    expect(page.locator("#cmp-result")).to_have_class("ok")
    cid = page.locator("#cmp-result").get_attribute("data-id")
    row = page.locator(f'#campaigns-list tr[data-id="{cid}"]')
    expect(row).to_have_attribute("data-state", "running")
    # Pause once some are delivered, long before the end (80/s: 12.5 s for all).
    expect(row).not_to_have_attribute("data-pct", "0", timeout=10_000)
    row.locator('button[data-action="pause"]').click()
    expect(row).to_have_attribute("data-state", "paused")
    console.shot("campaign-paused")
    queued = int(row.get_attribute("data-queued") or "0")
    assert queued > 0
    page.wait_for_timeout(1500)
    assert int(row.get_attribute("data-queued") or "0") == queued  # nothing more handed over
    assert int(row.get_attribute("data-pct") or "0") < 100
    row.locator('button[data-action="resume"]').click()
    expect(row).to_have_attribute("data-state", "running")
    expect(row.locator(".pct")).to_have_text("100 %", timeout=40_000)
    console.shot("campaign-done")
    found = _api(console.demo, f"/v1/campaigns/{cid}")
    assert found["progress"]["delivered"] + found["progress"]["failed"] == 1000
    assert found["name"] == "spring sale" and found["version"] == 2

    # The same list scheduled for tomorrow, then cancelled (the button asks once more).
    page.fill("#cmp-name", "tomorrow")
    page.check('input[name="cmp-when"][value="later"]')
    page.fill("#cmp-send-at", (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#cmp-estimate")
    expect(page.locator('#cmp-estimate-fields dd[data-field="start"]')).not_to_have_text("Now")
    page.click("#cmp-confirm")
    expect(page.locator("#cmp-result")).to_have_attribute("data-id", re.compile("cmp_"))
    later = page.locator("#cmp-result").get_attribute("data-id")
    assert later != cid
    row = page.locator(f'#campaigns-list tr[data-id="{later}"]')
    expect(row).to_have_attribute("data-state", "scheduled")
    cancel = row.locator('button[data-action="cancel"]')
    cancel.click()
    expect(cancel).to_have_text("Sure?")
    cancel.click()
    expect(row).to_have_attribute("data-state", "cancelled")
    console.shot("campaign-cancelled")
    assert _api(console.demo, f"/v1/campaigns/{later}")["progress"]["delivered"] == 0


def test_opt_outs(console: Console) -> None:
    page = console.page
    number = _number()
    console.login()
    console.go("optouts")
    page.fill("#optout-number", number)
    page.fill("#optout-reason", "asked by phone")
    page.click("#optout-add-submit")
    row = page.locator(f'#optouts-list tr[data-number="{number}"]')
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("asked by phone")
    expect(row.locator("td").nth(2)).not_to_be_empty()
    console.shot("optout-added")
    assert _api(console.demo, f"/v1/suppressions/{number}")["reason"] == "asked by phone"
    # Search by its first digits: it and its neighbour, nobody else.
    neighbour = number[:-1] + str((int(number[-1]) + 1) % 10)
    page.fill("#optout-number", neighbour)
    page.click("#optout-add-submit")
    expect(page.locator(f'#optouts-list tr[data-number="{neighbour}"]')).to_have_count(1)
    page.fill("#optout-q", number[:-1])
    page.click('#optout-search button[type="submit"]')
    expect(page.locator("#optouts-list tbody tr")).to_have_count(2)
    expect(page.locator(f'#optouts-list tr[data-number="{neighbour}"] td').nth(1)
           ).to_have_text("manual")
    console.shot("optout-found")
    # Marketing to it is refused, and the page says so.
    console.go("send")
    page.fill("#send-to", number)
    page.select_option("#send-kind", "marketing")
    page.fill("#send-text", "Sale today")
    page.click("#send-submit")
    expect(page.locator("#send-result")).to_have_class("error")
    expect(page.locator("#send-result")).to_contain_text("400")
    console.shot("optout-refused")
    console.go("optouts")
    page.fill("#optout-q", number)
    page.click('#optout-search button[type="submit"]')
    expect(page.locator("#optouts-list tbody tr")).to_have_count(1)
    remove = page.locator(f'#optouts-list tr[data-number="{number}"] button')
    remove.click()
    expect(remove).to_have_text("Remove?")
    remove.click()
    expect(page.locator(f'#optouts-list tr[data-number="{number}"]')).to_have_count(0)
    console.shot("optout-removed")
    try:
        _api(console.demo, f"/v1/suppressions/{number}")
        raise AssertionError("still suppressed")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404


def test_user_text_is_shown_never_run(console: Console, tmp_path: Path) -> None:
    page = console.page
    evil = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"
    console.login()
    console.go("templates")
    # A template's name cannot hold markup at all: the API refuses it, the page says so.
    page.fill("#tpl-name", "<script>window.__pwned=3</script>")
    page.fill("#tpl-text", "x")
    page.click("#tpl-save")
    expect(page.locator("#tpl-result")).to_have_class("error")
    expect(page.locator("#tpl-result")).to_contain_text("400")
    # ... its text can, and shows as typed.
    name = "xss_" + secrets.token_hex(3)
    page.fill("#tpl-name", name)
    page.fill("#tpl-text", "Deal ${name} " + evil)
    page.click("#tpl-save")
    cell = page.locator(f'#templates-list tr[data-name="{name}"] td').nth(2)
    expect(cell).to_have_text("Deal ${name} " + evil)
    console.shot("template-text")
    # An SMS text, in the search results and the detail.
    number = _number()
    console.go("send")
    page.fill("#send-to", number)
    page.fill("#send-text", evil)
    expect(page.locator("#preview-text")).to_contain_text(evil)
    page.click("#send-submit")
    expect(page.locator("#send-result")).to_have_class("ok")
    console.go("messages")
    page.fill("#search-to", number)
    page.click("#search-submit")
    expect(page.locator("#search-results tbody td.text")).to_contain_text(evil)
    page.locator("#search-results tbody a").click()
    expect(page.locator('#message-detail dd[data-field="text"]')).to_contain_text(evil)
    console.shot("sms-text")
    # A campaign's name and a CSV cell.
    csv = tmp_path / "evil.csv"
    quoted = '"' + evil.replace('"', '""') + '"'
    csv.write_text(f"to,name\n{_number()},{quoted}\n", encoding="utf-8")
    console.go("campaigns")
    page.fill("#cmp-name", evil)
    page.select_option("#cmp-template", name)
    page.set_input_files("#cmp-file", str(csv))
    page.click("#cmp-estimate")
    expect(page.locator('#cmp-estimate-fields dd[data-field="example"]')).to_contain_text(
        "Deal " + evil)
    page.click("#cmp-confirm")
    expect(page.locator("#cmp-result")).to_have_class("ok")
    cid = page.locator("#cmp-result").get_attribute("data-id")
    expect(page.locator(f'#campaigns-list tr[data-id="{cid}"] td').nth(1)).to_have_text(evil)
    console.shot("campaign-name")
    assert page.evaluate(PWNED)
    assert page.locator("main img").count() == 0


def test_chinese_when_the_browser_asks(console_factory: Callable[..., Console]) -> None:
    console = console_factory(locale="zh-CN")
    page = console.page
    page.goto(console.demo.base + "/console/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#page-login h1")).to_have_text("登录")
    console.shot("login-zh")
    console.login()
    expect(page.locator('#nav a[data-page="dashboard"]')).to_have_text("概览")
    expect(page.locator('#nav a[data-page="optouts"]')).to_have_text("退订名单")
    console.shot("dashboard-zh")
    page.click("#lang-toggle")
    expect(page.locator('#nav a[data-page="dashboard"]')).to_have_text("Dashboard")
    # An English browser gets English.
    english = console_factory(locale="en-US")
    english.page.goto(console.demo.base + "/console/")
    expect(english.page.locator("#page-login h1")).to_have_text("Sign in")


def test_a_cross_origin_form_post_is_refused(console: Console) -> None:
    """CSRF: a page of another origin posts a form to the API (the browser sends whatever
    cookies it has, but no Authorization header): refused, nothing sent."""
    page = console.page
    number = _number()
    console.login()  # (a logged-in tab of the console beside it changes nothing)
    other = page.context.new_page()
    # (enctype text/plain makes the body {"to": …, "y": "="}: JSON a lax parser would take)
    field = f'{{"to": "{number}", "text": "x", "y": "'
    other.set_content(f"""<form method="post" enctype="text/plain"
        action="{console.demo.base}/v1/messages"><input name='{field}'
        value='"}}'><button>go</button></form>""")
    with other.expect_navigation() as navigation:
        other.click("button")
    assert navigation.value.status == 401
    expect(other.locator("body")).to_contain_text("unauthorized")
    other.screenshot(path=str(console.folder / "refused.png"))
    assert _api(console.demo, f"/v1/messages?to={number}")["messages"] == []
    other.close()


def test_why_a_message_failed_in_words(console_factory: Callable[..., Console],
                                       expiring: dict[str, Demo]) -> None:
    """A message the carrier expired (a real one: this daemon's fake SMSC expires everything,
    err 00A): its detail says why in words, in either language."""
    console = console_factory(daemon=expiring["ops"])
    page = console.page
    console.login()
    page.click('#nav a[data-page="send"]')
    page.fill("#send-to", _number())
    page.fill("#send-text", "are you there?")
    page.click("#send-submit")
    expect(page.locator("#send-result")).to_have_class("ok")
    message_id = page.locator("#send-result").get_attribute("data-id") or ""
    deadline = datetime.now() + timedelta(seconds=15)
    while _api(console.demo, "/v1/messages/" + message_id)["state"] != "expired":
        assert datetime.now() < deadline, "the carrier's EXPIRED receipt never came"
        page.wait_for_timeout(100)
    page.goto(console.demo.base + "/console/#/messages/" + message_id)
    expect(page.locator("#detail-error")).to_have_text(
        "the handset was off or out of reach too long, and the carrier gave up (EXPIRED)"
        " · err 00A")
    expect(page.locator("#detail-timeline li").last).to_contain_text("Final: expired")
    console.shot("expired")
    page.click("#lang-toggle")
    expect(page.locator("#detail-error")).to_have_text(
        "手机长时间关机或不在服务区，运营商放弃投递（EXPIRED） · err 00A")
    console.shot("expired-zh")


def test_a_read_key_sees_no_writes(console_factory: Callable[..., Console],
                                   expiring: dict[str, Demo]) -> None:
    """Scopes: logged in with a real read-only key, the page offers what GET /v1/me says it
    may do (the API's own 403s are tested in tests/daemon/test_api.py)."""
    admin = expiring["ops"]
    request = urllib.request.Request(
        admin.base + "/v1/templates", method="POST", headers={
            "Authorization": f"Bearer {admin.key}", "Content-Type": "application/json"},
        data=json.dumps({"name": "login", "kind": "otp", "text": "code ${code}"}).encode())
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 201
    console = console_factory(daemon=expiring["reader"])
    page = console.page
    console.login()
    expect(page.locator("#who")).to_have_text("reader · read")
    expect(page.locator('#nav a[data-page="send"]')).to_be_hidden()
    expect(page.locator('#nav a[data-page="messages"]')).to_be_visible()
    console.go("templates")
    expect(page.locator("#template-form")).to_be_hidden()
    expect(page.locator('#templates-list tr[data-name="login"]')).to_be_visible()  # (listed,
    expect(page.locator('#templates-list tr[data-name="login"] button')).to_be_hidden()  # fixed)
    console.go("campaigns")
    expect(page.locator("#campaign-form")).to_be_hidden()
    console.go("optouts")
    expect(page.locator("#optout-add")).to_be_hidden()
    page.goto(console.demo.base + "/console/#/send")
    expect(page.locator("#flash")).to_contain_text("lacks the send scope")
    expect(page.locator("#page-send")).to_be_hidden()
    console.shot("read-only")


def test_a_hash_that_names_no_page(console: Console) -> None:
    """A hash typed or linked by anyone: an Object property's name is no page, and a stray %
    is no reason to stop. Each shows a page (no exception in the page, which would leave it
    blank and its timers stopped)."""
    page = console.page
    console.login()
    for hash_, shown in (("#/constructor", "dashboard"), ("#/__proto__", "dashboard"),
                         ("#/toString/x", "dashboard"), ("#/messages/%E0%A4%A", "messages")):
        page.goto(console.demo.base + "/console/" + hash_)
        expect(page.locator(f"#page-{shown}")).to_be_visible()
        assert console.errors == [], (hash_, console.errors)


def test_a_daemon_out_of_reach_at_a_reload_is_said(console: Console) -> None:
    """The page asks /v1/me again at a reload. When that request fails (the network, or a
    daemon restarting) the login page says so, and the key is kept for the next reload; it
    was forgotten without a word. (The request is aborted in the browser: a fault injected,
    not an answer played.)"""
    page = console.page
    console.login()
    page.route("**/v1/me", lambda route: route.abort())
    page.reload()
    expect(page.locator("#page-login")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("Could not reach the daemon")
    assert page.evaluate("sessionStorage.getItem('smsengine.console.key')") == console.demo.key
    console.shot("out-of-reach")
    page.unroute("**/v1/me")
    page.reload()
    expect(page.locator("#page-dashboard")).to_be_visible()
    # (chromium logs the aborted request as an error; nothing else may be)
    console.errors[:] = [e for e in console.errors if "net::ERR_FAILED" not in e]
