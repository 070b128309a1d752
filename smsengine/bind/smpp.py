"""asyncio SMPP binds: the generic :class:`~smsengine.bind.base.Bind` driving the sans-I/O SMPP
:class:`~smsengine.smpp.session.Session`, and a keeper that holds one up.

:class:`SmppBind` is one TCP (optionally TLS) connection and one SMPP bind::

    async with await SmppBind.open("127.0.0.1", 2775, SessionConfig("shop", "secret")) as bind:
        resp = await bind.send(SubmitSm(...))          # waits for a window slot, then the resp
        fut = bind.send_nowait(SubmitSm(...))          # raises NotSentError if the window is full

``send`` returns the response whatever its command_status (ESME_RTHROTTLED and ESME_RMSGQFUL
come back as responses, retriable, for flow control to act on, and are reported as "throttled"
events); it raises :class:`~smsengine.smpp.NotSentError` (nothing reached the SMSC; retry is
safe) or :class:`~smsengine.smpp.OutcomeUnknownError` (written, no answer; do not resend
blindly).

:class:`BindKeeper` reconnects with capped, jittered exponential backoff; authentication failures
(ESME_RINVPASWD, ESME_RINVSYSID) back off much longer and raise an ``alarm`` event; ESME_RALYBND
waits for the carrier to drop the old bind; ``stop()`` drains in-flight requests (bounded) and
unbinds. Everything but the session is :mod:`smsengine.bind.base`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ..link import LinkError
from ..smpp import CommandStatus, NotSentError, Request, Response
from ..smpp.session import Session, SessionConfig
from .base import Backoff, Bind, BindEvent, EventHandler, Keeper, ReceiptHandler

# (Backoff, BindEvent and the handler types live in .base; importable from here as before.)
__all__ = ["Backoff", "BindEvent", "BindKeeper", "EventHandler", "MessageHandler",
           "ReceiptHandler", "ResultCallback", "SmppBind"]

ResultCallback = Callable[[Response | None, LinkError | None], None]
MessageHandler = Callable[[Request], None]


class SmppBind(Bind[SessionConfig, Request, Response]):
    """One connection and one SMPP bind. Create with :meth:`open`."""

    throttle_statuses: ClassVar[frozenset[int]] = frozenset(
        {CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})
    not_sent_error = NotSentError
    session: Session

    def _make_session(self, config: SessionConfig, now: float) -> Session:
        return Session(config, now)


class BindKeeper(Keeper[SessionConfig, Request, Response]):
    """Keeps one SMPP bind up for the life of the process; see the module docstring."""

    bind_class = SmppBind
