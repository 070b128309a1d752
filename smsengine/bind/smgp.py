"""asyncio SMGP connections: the generic :class:`~smsengine.bind.base.Bind` driving a sans-I/O
:class:`~smsengine.smgp.session.SmgpSession`, and a keeper that holds one up.

:class:`SmgpBind` brings its session and SMGP Status 1 (system busy) as its "throttled"
status; everything else — one write per loop tick, one timer, backpressure, honest outcomes,
reconnect back-off, the alarm and long wait after an authentication failure (Login_Resp
Status 20, 21 or 3) — is :mod:`smsengine.bind.base`'s::

    config = SmgpSessionConfig("sp001", "secret")
    async with await SmgpBind.open("127.0.0.1", 8890, config) as bind:
        resp = await bind.send(Submit(...))        # SubmitResp, whatever its Status

The Login TimeStamp is taken from ``config.clock``, by default ``time.localtime``: the host's
time zone, which should be China time (section 6 of the SMGP reference); pass a clock that
converts when the host runs on another zone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from ..link import LinkError
from ..smgp import Request, Response, SmgpNotSentError, Status
from ..smgp.session import SmgpSession, SmgpSessionConfig
from .base import Bind, Keeper

__all__ = ["SmgpBind", "SmgpBindKeeper", "SmgpMessageHandler", "SmgpResultCallback"]

SmgpResultCallback = Callable[[Response | None, LinkError | None], None]
SmgpMessageHandler = Callable[[Request], None]


class SmgpBind(Bind[SmgpSessionConfig, Request, Response]):
    """One connection and one SMGP login (Login … Exit). Create with :meth:`open`."""

    throttle_statuses: ClassVar[frozenset[int]] = frozenset({Status.SYSTEM_BUSY})
    not_sent_error = SmgpNotSentError
    session: SmgpSession

    def _make_session(self, config: SmgpSessionConfig, now: float) -> SmgpSession:
        return SmgpSession(config, now, clock=config.clock or time.localtime)


class SmgpBindKeeper(Keeper[SmgpSessionConfig, Request, Response]):
    """Keeps one SMGP connection up for the life of the process (see
    :class:`~smsengine.bind.base.Keeper`): reconnects with back-off, raises an ``alarm``
    and waits ``auth_failure_delay`` when the SMGW refuses the credentials."""

    bind_class = SmgpBind
