"""asyncio CMPP connections: the generic :class:`~smsengine.bind.base.Bind` driving a
sans-I/O :class:`~smsengine.cmpp.session.CmppSession`, and a keeper that holds one up.

:class:`CmppBind` brings its session and CMPP Result 8 (flow control) as its "throttled"
status; everything else — one write per loop tick, one timer, backpressure, honest outcomes,
reconnect back-off, the alarm and long wait after an authentication failure (CONNECT_RESP
Status 2 or 3) — is :mod:`smsengine.bind.base`'s::

    config = CmppSessionConfig("900001", "secret")
    async with await CmppBind.open("127.0.0.1", 7890, config) as bind:
        resp = await bind.send(Submit(...))        # SubmitResp, whatever its Result

The CONNECT Timestamp is taken from ``config.clock``, by default ``time.localtime``: the host's
time zone, which should be China time (section 5 of the CMPP reference); pass a clock that
converts when the host runs on another zone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from ..cmpp import CmppNotSentError, Request, Response, SubmitResult
from ..cmpp.session import CmppSession, CmppSessionConfig
from ..link import LinkError
from .base import Bind, Keeper

__all__ = ["CmppBind", "CmppBindKeeper", "CmppMessageHandler", "CmppResultCallback"]

CmppResultCallback = Callable[[Response | None, LinkError | None], None]
CmppMessageHandler = Callable[[Request], None]


class CmppBind(Bind[CmppSessionConfig, Request, Response]):
    """One connection and one CMPP login (CONNECT … TERMINATE). Create with :meth:`open`."""

    throttle_statuses: ClassVar[frozenset[int]] = frozenset({SubmitResult.FLOW_CONTROL})
    not_sent_error = CmppNotSentError
    session: CmppSession

    def _make_session(self, config: CmppSessionConfig, now: float) -> CmppSession:
        return CmppSession(config, now, clock=config.clock or time.localtime)


class CmppBindKeeper(Keeper[CmppSessionConfig, Request, Response]):
    """Keeps one CMPP connection up for the life of the process (see
    :class:`~smsengine.bind.base.Keeper`): reconnects with back-off, raises an ``alarm``
    and waits ``auth_failure_delay`` when the ISMG refuses the credentials."""

    bind_class = CmppBind
