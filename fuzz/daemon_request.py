"""Fuzz target ``daemon_request``: the daemon's request decoding (smsengine.daemon.app).

Each input is the body of ``POST /v1/messages``. ``Api._decode`` reads it (one message, or
``{"messages": [...]}``) as the route does, on an ``Api`` built from a config given to
``daemon_config_from_dict`` (no gateway and no keyring: decoding needs neither); then what the
client would get is encoded as the middleware and the route encode it: a ProblemError as its
problem details, each decoded message and each per-message error as JSON.

Documented error: ProblemError (a 4xx answer naming the field). Anything else is a crash: it
would be a 500.

Known crash, reported and not fixed here (smsengine/daemon is not this harness's to change):
``daemon-deep-json`` — a body nesting arrays or objects about 1000 deep inside the top-level
object (``{"to": [[[[…``, 3 KB) raises RecursionError from ``_decode_top`` (msgspec skipping
the nested value for msgspec.Raw), which ``_decode`` does not catch: a 500, not a 400. It is
counted, not stopped at (see _common.fuzz); tests/fuzz checks it still reproduces.
"""

from __future__ import annotations

from typing import Any

import atheris
from _common import fuzz, raised_in, touch

with atheris.instrument_imports(include=["smsengine"]):
    import msgspec

    from smsengine.daemon.app import _PROBLEM, Api, ProblemError
    from smsengine.daemon.config import daemon_config_from_dict
    from smsengine.daemon.schema import Problem

CONFIG = daemon_config_from_dict({
    "channels": [{"name": "carrier", "host": "127.0.0.1", "port": 2775, "system_id": "shop",
                  "password": "secret"}],
    "store": {"path": "/nonexistent/fuzz.sqlite3"},  # never opened
})
API = Api(CONFIG, None, None)  # type: ignore[arg-type]
_encode = msgspec.json.Encoder().encode


def test_one(data: bytes) -> None:
    try:
        items, _batch = API._decode(data)
    except ProblemError as exc:
        _encode(Problem(type=_PROBLEM + exc.kind, title=exc.title, status=exc.status,
                        detail=exc.detail, instance="/v1/messages", request_id=None,
                        errors=exc.errors, limit=exc.limit))
        if not 400 <= exc.status < 500:
            raise AssertionError(f"a bad body answered {exc.status}") from exc
        raise
    item: Any
    for item in items:
        touch(item)
        _encode(item)


if __name__ == "__main__":
    fuzz("daemon_request", test_one, (ProblemError,), known={
        "daemon-deep-json": lambda exc: isinstance(exc, RecursionError)
        and raised_in(exc, "smsengine/daemon/app.py", "_decode"),
    })
