# ruff: noqa: RUF001  (Chinese text has full-width punctuation)
"""A shop's backend talking to ``smsengine serve`` over HTTP, with nothing but the standard
library: what a Java, PHP or Go system does with its own HTTP client.

1. a login-code template (its ``${code}`` is secret: the store and the status keep it masked);
2. a templated code sent, then its status until the carrier's receipt says DELIVERED;
3. a campaign uploaded as a multipart form (the fields, then the CSV as the part
   ``recipients``: what an HTML upload form or ``curl -F`` sends), and its progress until
   every recipient is final.

Run it against your daemon (``--url http://127.0.0.1:8080 --key …``), or with no arguments: it
then starts ``smsengine serve --demo`` (a fresh store and a fake SMSC) and stops it at the end.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any


class Api:
    def __init__(self, url: str, key: str) -> None:
        self.url = url.rstrip("/")
        self.key = key

    def call(self, method: str, path: str, body: Any = None, *,
             content_type: str = "application/json") -> tuple[int, Any]:
        """One request; the status code and the decoded JSON answer (problems included)."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:  # 4xx/5xx: an RFC 9457 problem
            return exc.code, json.load(exc)


def multipart(fields: dict[str, str], filename: str, csv: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body: the option fields first, then the CSV file part."""
    boundary = uuid.uuid4().hex
    out = b""
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n").encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="recipients"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n').encode()
    out += csv + f"\r\n--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if (found := check()) is not None:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.2)


def run(api: Api) -> None:
    # 1. A template for login codes (admin scope). A second run finds it there: 409.
    code, answer = api.call("POST", "/v1/templates", {
        "name": "order_login", "kind": "otp", "max_parts": 1,
        "text": "您的验证码是${code}，5分钟内有效。"})
    if code not in (201, 409):
        raise SystemExit(f"template: {code} {answer}")

    # 2. A templated code; 202 once it is committed to the outbox.
    code, sent = api.call("POST", "/v1/messages", {
        "to": "8613800138000", "template": "order_login", "params": {"code": "402113"}})
    if code != 202:
        raise SystemExit(f"send: {code} {sent}")
    message_id = sent["id"]

    def final() -> Any:
        status = api.call("GET", f"/v1/messages/{message_id}")[1]
        return status if status["state"] in ("delivered", "undeliverable", "expired",
                                             "failed", "unknown") else None

    status = wait_for("the code's receipt", final)
    print(f"code {message_id}: {status['state'].upper()}, stored as {status['text']!r}")

    # 3. A campaign from a CSV file, uploaded as a multipart form.
    csv = "to,name\n" + "".join(f"86139000{n:05d},客户{n}\n" for n in range(20))
    body, ctype = multipart({"template": "sale", "rate": "100"}, "recipients.csv",
                            csv.encode())
    code, campaign = api.call("POST", "/v1/campaigns", body, content_type=ctype)
    if code != 201:
        raise SystemExit(f"campaign: {code} {campaign}")

    def finished() -> Any:
        found = api.call("GET", f"/v1/campaigns/{campaign['id']}")[1]
        progress = found["progress"]
        waiting = progress["queued"] + progress["sending"] + progress["submitted"]
        return progress if waiting == 0 else None

    progress = wait_for("the campaign's receipts", finished)
    print(f"campaign {campaign['id']}: {progress['recipients']} recipients, "
          f"{progress['delivered']} delivered, {progress['failed']} failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="the daemon, e.g. http://127.0.0.1:8080")
    parser.add_argument("--key", help="an API key with the send, read and admin scopes")
    args = parser.parse_args()
    if args.url and args.key:
        run(Api(args.url, args.key))
        return 0
    demo = subprocess.Popen([sys.executable, "-m", "smsengine", "serve", "--demo"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert demo.stdout is not None
        url = key = None
        for line in demo.stdout:
            if found := re.search(r"API key: (\S+)", line):
                key = found.group(1)
            if found := re.search(r"listening on (http://\S+)", line):
                url = found.group(1)
            if url and key:
                break
        if not (url and key):
            raise SystemExit("smsengine serve --demo did not start")
        run(Api(url, key))
    finally:
        demo.terminate()
        demo.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
