"""The outbox in front of the engine: what the HTTP routes call.

- **Accept** (:meth:`Gateway.accept`): each message is judged as the engine would judge it
  (:meth:`~smsengine.engine.Engine.check`), the good ones are written to the outbox, and the
  answer waits for their commit. Requests in the same loop tick share one commit (group commit).
- **Feed**: queued messages go to the engine only as fast as its lanes have room
  (``[store] feed_ahead`` per kind); the rest wait in the outbox, in order, so an OTP never
  waits behind a campaign held in memory. A message accepted when its kind has no backlog goes
  to the engine straight after its commit.
- **Schedule**: a message with a future ``send_at`` waits in the outbox; it is released within
  a second of its time (a check every 0.25 s), across restarts.
- **Record**: the engine's tracker is observed; a part handed to a bind marks its message
  ``sending`` before the loop can write it (:meth:`~smsengine.engine.Engine.before_write`),
  and every state with its timestamp, SMSC ids and errors goes to the outbox, batched per tick.
- **Recover** (at start): ``queued`` is sent; ``sending`` (it may have left, no answer known)
  ends UNKNOWN, or is sent again where the channel's ``resend_unknown`` says so, counted;
  ``submitted`` waits for its receipts, which the engine correlates from the same file.
- **Policy** (issue 19, from :mod:`smsengine.policy`): a send by template is rendered
  (signature, opt-out suffix, params checked, each refusal naming its param); a text with
  secret params (an OTP's code) is stored masked, its real text kept in memory only until it
  is handed to the engine (``_secrets``: a queued row whose real text is gone, after a
  restart, ends FAILED, never sent masked); frequency caps per number (and API key, source
  IP) refuse before anything is stored; quiet hours hold marketing as scheduled for the
  window's end.
- **Campaigns**: rows ingested a chunk at a time (each chunk one commit, with the campaign's
  counts), fed by the campaign runner through the marketing lane at the campaign's rate, a
  window at a time, paused, resumed and cancelled there.

Time for policy and scheduling comes from :attr:`Gateway.now`: the wall clock, or, as a test
hook only, the wall clock plus the seconds written in the file named by the environment
variable ``SMSENGINE_TEST_CLOCK_FILE`` (re-read when the file changes).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..engine import (
    Engine,
    ErrorInfo,
    Message,
    MessageRefusedError,
    MessageState,
    MessageStatus,
)
from ..engine.mo import MoMessage
from ..engine.sqlite import StoreError
from ..engine.status import status_of
from ..engine.tracker import Change
from ..metrics import EngineMetrics
from ..policy import (
    CapRefusal,
    FrequencyCaps,
    Rendered,
    Renderer,
    SqliteCounterStore,
    SqliteTemplateStore,
    Template,
    TemplateError,
    check_all,
    decorate,
    render,
)
from ..smpp import CommandStatus, status_name
from ..text import Encoding, SplitMethod
from ._errorlog import RepeatedFailure
from .campaigns import MAX_REFUSALS, Campaign, CampaignStore, RowError
from .cluster import ClusterNode
from .cluster_state import take_caps
from .config import DaemonConfig
from .outbox import FROM_ENGINE, NewRow, Outbox, OutboxState, Request, Row
from .schema import Accepted, ErrorOut, MessageIn, Refused, _utc
from .stats import Stats
from .webhooks import EventLog, WebhookSender

__all__ = ["Busy", "Gateway", "RecoveryReport", "StoreUnavailable"]

log = logging.getLogger("smsengine.daemon")

_SENDING = MessageState.SENDING
# The engine's Message field -> the API's.
_API_FIELDS = {"destination": "to", "source": "from", "text": "text", "kind": "kind",
               "channel": "channel"}
_CODES: dict[int, str] = {
    CommandStatus.ESME_RX_R_APPN: "opted_out",
    CommandStatus.ESME_RINVDSTADR: "invalid_number",
    CommandStatus.ESME_RINVMSGLEN: "invalid_text",
    CommandStatus.ESME_RMSGQFUL: "queue_full",
}


class Busy(Exception):
    """The outbox holds ``max_outbox`` messages not final: try again after ``retry_after``."""

    retriable = True

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailable(Exception):
    """The outbox could not commit (disk full, file gone): nothing of the request was kept."""

    retriable = True


_SPLIT = {"udh8": SplitMethod.UDH8, "udh16": SplitMethod.UDH16, "sar": SplitMethod.SAR,
          "payload": SplitMethod.PAYLOAD}
_LOST = ("the code was never stored: request a new one (the daemon restarted before it was "
         "handed to a carrier, and a secret is kept in memory only)")
CAMPAIGN_WINDOW = 2000  # a campaign's messages in the engine not yet submitted, at most


def test_clock() -> Callable[[], float]:
    """The gateway's clock: ``time.time``, or with ``SMSENGINE_TEST_CLOCK_FILE`` set (a test
    hook), the wall clock plus the seconds the file holds, re-read when it changes."""
    path = os.environ.get("SMSENGINE_TEST_CLOCK_FILE")
    if not path:
        return time.time
    seen: list[Any] = [None, 0.0]

    def now() -> float:
        try:
            stamp = os.stat(path).st_mtime_ns
            if stamp != seen[0]:
                with open(path, encoding="ascii") as f:
                    seen[1] = float(f.read().strip() or 0)
                seen[0] = stamp
        except (OSError, ValueError):
            seen[0], seen[1] = None, 0.0
        return time.time() + float(seen[1])

    return now


class Composed(msgspec.Struct, kw_only=True):
    """A message as it will go: the carrier's text, the one kept (masked when secret)."""

    text: str
    kept: str
    kind: str
    template: str | None = None
    version: int | None = None

    @property
    def secret(self) -> bool:
        return self.kept != self.text


class _Run:
    """A campaign being fed: its cursor in the outbox, what is with the engine, its rate."""

    __slots__ = ("campaign", "cursor", "idle_until", "refs", "renderer", "request", "samples",
                 "seen", "tokens")

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.cursor = 0  # the last row handed to the engine (rows past it wait)
        self.refs: set[str] = set()  # handed over, not yet submitted or final
        self.samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)
        self.seen: set[int] | None = None  # numbers so far, while ingesting
        self.renderer: Renderer | None = None  # the template's, while ingesting
        self.request: tuple[tuple[object, ...], bytes] | None = None  # (its fields, tail)
        self.tokens = 0.0
        self.idle_until = 0.0

    def rate(self, now: float) -> float:
        samples = [(t, n) for t, n in self.samples if t > now - 5.0]
        if not samples:
            return 0.0
        span = max(now - samples[0][0], 1.0)
        return sum(n for _, n in samples) / span


def capped(refusal: CapRefusal, field: str) -> ErrorOut:
    """A frequency cap's refusal, naming its rule and when the subject frees."""
    return ErrorOut(code="capped", detail=refusal.describe(), field=field, retriable=True,
                    rule=refusal.rule.describe(), retry_after=math.ceil(refusal.retry_after))


class RecoveryReport(msgspec.Struct, kw_only=True):
    queued: int = 0  # to send (never handed to a carrier link)
    scheduled: int = 0
    awaiting_receipts: int = 0  # submitted: their receipts still correlate
    unknown: int = 0  # handed to a link, no answer recorded: UNKNOWN, not sent again
    resent: int = 0  # the same, sent again because the channel has resend_unknown


class Gateway:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.outbox: Outbox | None = None
        self.engine: Engine | None = None
        # A node of a cluster ([cluster]); None on one node, where nothing of it runs.
        self.cluster: ClusterNode | None = None
        self.recovery = RecoveryReport()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flush_handle: asyncio.Handle | None = None
        self._truncate_wal = False  # (after the next commit: see _checkpoint)
        self._wal_past_limit = asyncio.Event()  # (a checkpoint now: see _checkpoints)
        # (a full disk fails every tick's commit: logged first, then summed up)
        self._commit_failures = RepeatedFailure(log, "outbox commit")
        self._marked: set[str] = set()  # refs marked sending and not final
        # ref -> (principal, out_id) of a message in the engine, for its events
        self._fed: dict[str, tuple[str | None, str | None]] = {}
        self.events: EventLog | None = None
        self.stats: Stats | None = None
        self.registry: CollectorRegistry | None = None
        self.metrics: EngineMetrics | None = None
        self.senders: list[WebhookSender] = []
        self._backlog: dict[str, int] = {}  # kind -> queued rows not yet fed
        self._cursor: dict[str, int] = {}  # kind -> the last ``ready`` fed
        self._open = 0  # messages not final
        self._wake = asyncio.Event()
        self._running = False
        self._feeding = True
        # Idempotency keys being answered: (principal, key) -> that answer, when ready.
        self._answering: dict[tuple[str, str], asyncio.Future[tuple[bytes, int, bytes]]] = {}
        self.counters = dict.fromkeys(("accepted", "refused", "fed", "cancelled",
                                       "store_errors", "released", "events", "capped",
                                       "held", "secrets_lost"), 0)
        self.now = test_clock()
        self.templates: SqliteTemplateStore | None = None
        self.counter_store: SqliteCounterStore | None = None
        self.caps: list[tuple[str, FrequencyCaps]] = []
        self.quiet = config.policy.quiet_hours.build()
        self.campaigns: CampaignStore | None = None
        self._runs: dict[int, _Run] = {}
        self._campaign_of: dict[str, int] = {}  # ref -> campaign, while with the engine
        self._requeued: set[str] = set()  # refs a pause takes back from the engine
        # seq -> the real text of a message with secret params, until handed to the engine
        self._secrets: dict[int, str] = {}
        self._signs = {k.name: (k.sign_name or None,
                                k.sign_placement or config.policy.sign_placement)
                       for k in config.api_keys}
        channels = config.engine.channels
        self._encodings = {c.name: (tuple(Encoding(e) for e in c.encoding_names),
                                    _SPLIT[c.split]) for c in channels}
        self._default_encodings = (self._encodings[channels[0].name] if channels
                                   else ((Encoding.GSM7, Encoding.UCS2), SplitMethod.UDH8))

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        self._loop = asyncio.get_running_loop()
        self.outbox = outbox = Outbox(cfg.store.path, synchronous=cfg.store.synchronous,
                                      retention=cfg.store.retention)
        self.events = events = EventLog(cfg.store.path, record=cfg.recorded_events())
        self.stats = Stats(cfg.store.path, tz=cfg.store.stats_tz)
        self.engine = engine = Engine(cfg.engine, statuses=outbox)
        self.templates = SqliteTemplateStore(cfg.store.path)
        self.counter_store = store = SqliteCounterStore(cfg.store.path)
        policy = cfg.policy
        for scope, rules in (("number", policy.number_caps()), ("api_key", policy.api_key_caps),
                             ("source_ip", policy.source_ip_caps)):
            if any(rules.values()):
                self.caps.append((scope, FrequencyCaps(rules, store, scope=scope)))
        self.campaigns = CampaignStore(cfg.store.path)
        self._recover()
        if cfg.cluster is not None:
            self.cluster = ClusterNode(cfg.cluster)
            engine.channel_setup = self.cluster.setup_channel
        await engine.start()
        if self.cluster is not None:
            engine.suppression = self.cluster.share_suppression(engine.suppression)
            await self.cluster.start()
            engine.before_write(self.cluster.before_write)
        engine.tracker.observe(self._observe)
        engine.before_write(self._before_write)
        engine.on_mo(self._on_mo)
        self.registry = CollectorRegistry()
        self.metrics = EngineMetrics(engine, self.registry, extra=self._metric_families)
        for hook, keys in zip(cfg.webhooks, cfg.webhook_keys(), strict=True):
            sender = WebhookSender(hook, keys, events, self._schedule_flush, self.counters)
            self.senders.append(sender)
            sender.start()
        self._open = outbox.open_count()
        self._running = True
        for coro in (self._feed(), self._schedule(), self._housekeeping(),
                     self._checkpoints(), self._run_campaigns()):
            self._tasks.append(self._loop.create_task(coro))
        log.info("outbox %s: %d messages open (%s)", cfg.store.path, self._open,
                 ", ".join(f"{k} {v}" for k, v in msgspec.structs.asdict(self.recovery).items()))

    def stop_feeding(self) -> None:
        """Shutdown: nothing more goes to the engine; what is queued stays in the outbox."""
        self._feeding = False

    async def stop(self, drain_timeout: float) -> bool:
        """Stop the feeder, let submits in flight get their answers (bounded), record them,
        close. What the engine still holds queued is queued in the outbox for the next start:
        the engine's settling at stop is not recorded. Whether the last state was saved: if a
        commit failed (a full disk), the file holds what the last good commit held, and the
        next start recovers from that as after a kill."""
        self._feeding = False
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(s.stop() for s in self.senders), return_exceptions=True)
        if self.metrics is not None:
            self.metrics.close()
        if self.engine is not None:
            await self.engine.stop(drain_timeout)
        if self.cluster is not None:
            await self.cluster.close()  # (after the binds closed: then the slots go back)
        saved = self.flush_now()  # (the last states, events, statistics and webhook cursors)
        for store in (self.events, self.stats, self.templates, self.counter_store,
                      self.campaigns, self.outbox):
            if store is not None:
                try:
                    store.close()  # (each commits what it holds)
                except (sqlite3.Error, StoreError, OSError) as exc:
                    saved = False
                    log.error("closing the store: %s: %s", type(exc).__name__, exc)
        if not saved:
            log.error("stopped, but the last state could not be saved: the store holds its "
                      "last commit, and the next start recovers from it as after a kill")
        return saved

    # --- accept --------------------------------------------------------------------------------

    def judge(self, item: MessageIn, text: str | None = None) -> int | ErrorOut:
        """The parts ``item`` takes, or why it cannot be sent (naming its field)."""
        assert self.engine is not None
        try:
            return self.engine.check(Message(
                destination=item.to, text=item.text if text is None else text,
                source=item.from_, kind=item.kind, validity=item.validity),
                channel=item.channel)
        except MessageRefusedError as exc:
            field = _API_FIELDS.get(exc.field or "")
            return ErrorOut(code=_CODES.get(exc.status, "refused"), detail=str(exc),
                            field=field, status=exc.status, retriable=exc.retriable)
        except ValueError as exc:  # Message's own checks (a destination over 20 characters)
            return ErrorOut(code="invalid_field", detail=str(exc), field="to")

    def encodings(self, channel: str | None) -> tuple[tuple[Encoding, ...], SplitMethod]:
        """The encodings and split of ``channel`` (else the first): what a template's
        max_parts and a preview are counted with."""
        if channel is not None and channel in self._encodings:
            return self._encodings[channel]
        return self._default_encodings

    def compose(self, *, text: str | None, template: str | None,
                params: dict[str, str | int] | None, kind: str, channel: str | None,
                principal: str | None) -> Composed | ErrorOut:
        """The text a message goes with: a template rendered with its params, or the text
        given, with the API key's signature and the marketing opt-out suffix (policy.
        templates). An ErrorOut names what is wrong (``template``, ``params.code``)."""
        assert self.engine is not None and self.templates is not None
        if (text is None) == (template is None):
            return ErrorOut(code="invalid_field", field="text",
                            detail="give exactly one of text, or template with its params")
        policy = self.config.policy
        sign, placement = self._signs.get(principal or "", (None, policy.sign_placement))
        if template is None:
            assert text is not None
            if params:
                return ErrorOut(code="invalid_field", field="params",
                                detail="params go with a template; this message gives text")
            try:
                lane = self.engine.lane_of(kind)
            except MessageRefusedError as exc:
                return ErrorOut(code="refused", detail=str(exc), field="kind",
                                status=exc.status)
            out = decorate(text, lane, signature=sign, placement=placement,
                           optout_suffix=policy.optout_suffix)
            return Composed(text=out, kept=out, kind=lane)
        found = self.templates.get(template)
        if found is None:
            return ErrorOut(code="unknown_template", field="template",
                            detail=f"no template {template!r} (GET /v1/templates)")
        try:
            lane = self.engine.lane_of(found.kind)
        except MessageRefusedError as exc:
            return ErrorOut(code="refused", field="template",
                            detail=f"template {template!r}: {exc}")
        encodings, method = self.encodings(channel)
        try:
            rendered: Rendered = render(found, params or {}, signature=sign,
                                        placement=placement,
                                        optout_suffix=policy.optout_suffix,
                                        encodings=encodings, method=method)
        except TemplateError as exc:
            return ErrorOut(code="invalid_param" if exc.param else "invalid_template",
                            detail=str(exc), field=exc.field)
        return Composed(text=rendered.text, kept=rendered.masked, kind=lane,
                        template=found.name, version=found.version)

    def cap_checks(self, number: str, principal: str | None,
                   source_ip: str | None) -> list[tuple[FrequencyCaps, str]]:
        checks = []
        for scope, caps in self.caps:
            subject = {"number": number[1:] if number.startswith("+") else number,
                       "api_key": principal, "source_ip": source_ip}.get(scope)
            if subject:
                checks.append((caps, subject))
        return checks

    def check_room(self, n: int) -> None:
        limit = self.config.store.max_outbox
        if self._open + n > limit:
            raise Busy(f"the outbox holds {self._open} messages not yet final (max_outbox "
                       f"{limit})", retry_after=5)

    async def accept(self, items: list[MessageIn | ErrorOut],
                     remember: Callable[[list[Accepted | Refused]], None] | None = None,
                     *, batch: bool = False, principal: str | None = None,
                     source_ip: str | None = None) -> list[Accepted | Refused]:
        """Write the acceptable messages to the outbox and answer once they are committed.
        ``items``: what the request held, an ErrorOut for one that did not decode.
        ``remember(answers)`` keeps the answer (an Idempotency-Key's) in the same commit.
        ``batch``: a refusal names its field by its path in the batch (``messages[3].to``)."""
        outbox, engine = self.outbox, self.engine
        assert outbox is not None and engine is not None and self._loop is not None
        now = self.now()
        answers: list[Accepted | Refused | None] = []
        # (index, item, composed, parts, send_at) of each message judged good so far
        good: list[tuple[int, MessageIn, Composed, int, float | None]] = []
        # A cluster node out of step with the cluster's opt-outs refuses suppressed kinds (503).
        shared = self.cluster.suppression if self.cluster is not None else None

        def refuse(i: int, error: ErrorOut, out_id: str | None) -> None:
            if batch and error.field is not None:
                error = msgspec.structs.replace(error, field=f"messages[{i}].{error.field}")
            answers[i] = Refused(error=error, out_id=out_id)

        for i, item in enumerate(items):
            answers.append(None)
            if isinstance(item, ErrorOut):
                answers[i] = Refused(error=item)
                continue
            composed = self.compose(text=item.text, template=item.template,
                                    params=item.params, kind=item.kind,
                                    channel=item.channel, principal=principal)
            if isinstance(composed, ErrorOut):
                refuse(i, composed, item.out_id)
                continue
            if composed.kind != item.kind:
                item = msgspec.structs.replace(item, kind=composed.kind)
            if shared is not None and composed.kind in engine.config.optout.suppressed_kinds:
                shared.require()
            judged = self.judge(item, composed.text)
            if isinstance(judged, ErrorOut):
                refuse(i, judged, item.out_id)
                continue
            send_at = item.send_at.timestamp() if item.send_at is not None else None
            if composed.secret and send_at is not None and send_at > now + 0.5:
                refuse(i, ErrorOut(code="invalid_field", field="send_at", detail=(
                    "a message with a secret param (a code) cannot be scheduled: its text "
                    "is never stored")), item.out_id)
                continue
            if self.quiet is not None:
                hold = self.quiet.hold_until(composed.kind, max(now, send_at or now))
                if hold is not None:
                    if composed.secret:
                        refuse(i, ErrorOut(code="quiet_hours", field="kind", detail=(
                            f"{composed.kind} is held during quiet hours, and a message with "
                            "a secret param cannot wait")), item.out_id)
                        continue
                    send_at = hold
                    self.counters["held"] += 1
            good.append((i, item, composed, judged, send_at))
        if good:
            self.check_room(len(good))
            secrets = sum(c.secret for _, _, c, _, _ in good)
            if secrets and len(self._secrets) + secrets > self.config.policy.max_secrets:
                raise Busy(f"{len(self._secrets)} codes are waiting for the carrier "
                           f"([policy] max_secrets)", retry_after=1)
        rows: list[NewRow] = []
        secret_rows: list[int] = []
        # A cluster node counts the caps in Redis, all before the rows are made (no await
        # between next_seq and insert); ClusterUnavailable (503) if it cannot.
        shared_caps: dict[int, CapRefusal | None] | None = None
        if self.caps and self.cluster is not None:
            shared_caps = {}
            for i, item, composed, _, _ in good:
                checks = self.cap_checks(item.to, principal, source_ip)
                if checks:
                    shared_caps[i] = await take_caps(self.cluster.caps, checks,
                                                     composed.kind, now)
        for i, item, composed, judged, send_at in good:
            checks = self.cap_checks(item.to, principal, source_ip) if self.caps else []
            if checks:
                refusal = (check_all(checks, composed.kind, now) if shared_caps is None
                           else shared_caps.get(i))
                if refusal is not None:
                    self.counters["capped"] += 1
                    refuse(i, capped(refusal, "to"), item.out_id)
                    continue
                if shared_caps is None:  # (a cluster node's were counted in Redis)
                    for caps, subject in checks:
                        caps.record(subject, composed.kind, now)
            scheduled = send_at is not None and send_at > now + 0.5
            seq = outbox.next_seq()
            rows.append(NewRow(
                seq=seq, state=OutboxState.SCHEDULED if scheduled else OutboxState.QUEUED,
                to=item.to, kind=engine.lane_of(item.kind), out_id=item.out_id,
                channel=item.channel,
                request=Request(text=composed.kept, source=item.from_, validity=item.validity,
                                metadata=item.metadata, principal=principal,
                                template=composed.template, version=composed.version,
                                masked=composed.secret),
                parts=judged, ready=None if scheduled else outbox.next_ready(),
                accepted_at=now, send_at=send_at))
            if composed.secret:
                self._secrets[seq] = composed.text
                secret_rows.append(seq)
            answers[i] = Accepted(id=outbox.id_of(seq), parts=judged, out_id=item.out_id,
                                  state="scheduled" if scheduled else "queued",
                                  scheduled_for=_utc(send_at) if scheduled else None)
        done = [a for a in answers if a is not None]
        assert len(done) == len(answers)
        self.counters["refused"] += len(done) - len(rows)
        if rows:
            outbox.insert(rows)
        if remember is not None:
            remember(done)
        if rows:
            self._open += len(rows)
            try:
                await self.committed()
            except StoreUnavailable:
                self._open -= len(rows)
                for seq in secret_rows:
                    self._secrets.pop(seq, None)
                raise
            self.counters["accepted"] += len(rows)
            self._fast_feed(rows)
        return done

    def remember(self, principal: str, key: str, fingerprint: bytes, code: int,
                 body: bytes) -> None:
        assert self.outbox is not None
        self.outbox.remember(principal, key, fingerprint, code, body, time.time())

    def answered(self, principal: str, key: str) -> tuple[bytes, int, bytes] | None:
        assert self.outbox is not None
        return self.outbox.idempotent(principal, key)

    async def once(self, principal: str, key: str,
                   answer: Callable[[], Any]) -> tuple[bytes, int, bytes]:
        """Run ``answer()`` (a coroutine function giving (fingerprint, code, body)) once per
        key at a time: a second request with the key while the first is being answered waits
        for that answer."""
        pending = self._answering.get((principal, key))
        if pending is not None:
            return await asyncio.shield(pending)
        assert self._loop is not None
        future: asyncio.Future[tuple[bytes, int, bytes]] = self._loop.create_future()
        self._answering[(principal, key)] = future
        try:
            result: tuple[bytes, int, bytes] = await answer()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # (retrieved: a waiter that gave up must not log it)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._answering[(principal, key)]

    # --- commits -------------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_soon(self._flush)

    async def committed(self) -> None:
        """Until what is buffered now is committed (StoreUnavailable if it could not be)."""
        assert self._loop is not None
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        self._schedule_flush()
        await waiter

    def _flush(self) -> bool:
        """Write and commit what is buffered; wake the requests waiting for it. Whether
        nothing is left unsaved (False: the commit failed)."""
        self._flush_handle = None
        waiters, self._waiters = self._waiters, []
        outbox, events, stats = self.outbox, self.events, self.stats
        new_events = False
        try:
            if outbox is not None and (self._dirty or self._truncate_wal):
                # (into the transaction the outbox commits)
                if events is not None:
                    new_events = events.write()
                if stats is not None:
                    stats.flush()
                outbox.flush()
                self._commit_failures.succeeded(time.monotonic())
                if outbox.wal_size() > outbox.wal_limit:  # (a stat, ~1 us)
                    self._wal_past_limit.set()
        except (sqlite3.Error, StoreError, OSError) as exc:
            # The transaction is rolled back whichever write failed (a statement that fails on
            # a full disk may leave it open, half written): the outbox drops the new rows of
            # the requests answered 503 below, and what the events and statistics wrote goes
            # in with the next commit.
            if outbox is not None:
                outbox.abandon()
            if events is not None:
                events.rolled_back()
            if stats is not None:
                stats.rolled_back()
            self.counters["store_errors"] += 1
            self._commit_failures.failed(time.monotonic(), f"{type(exc).__name__}: {exc}")
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(StoreUnavailable(f"the outbox could not commit: {exc}"))
            return False
        if stats is not None:
            stats.committed()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        if events is not None:
            events.committed()
            if new_events:
                for sender in self.senders:
                    sender.wake()
        if self._truncate_wal and outbox is not None:
            try:
                self._truncate_wal = not outbox.truncate_wal()
            except sqlite3.Error as exc:
                log.warning("outbox WAL truncation failed (tried again after the next "
                            "checkpoint): %s", exc)
        return True

    def flush_now(self) -> bool:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        return self._flush()

    def _before_write(self) -> bool:
        """A bind is about to write: what was heard so far (parts handed over, receipts, MO
        and their events) commits first, so nothing leaves (a submit, a deliver_sm_resp)
        ahead of its record. False while that commit fails (a full disk): the bind holds its
        output and asks again (Engine.before_write)."""
        if self._dirty:
            return self._flush()
        return True

    @property
    def _dirty(self) -> bool:
        """Something is buffered for the outbox's next commit (its rows and moves, events,
        statistics)."""
        outbox, events, stats = self.outbox, self.events, self.stats
        return outbox is not None and (outbox.dirty or (events is not None and events.dirty)
                                       or (stats is not None and stats.dirty))

    def _observe(self, ref: str, old: MessageState | None, new: MessageState, at: float,
                 change: Change) -> None:
        handle = change.handle
        if handle is not None and new is _SENDING:
            if ref not in self._marked:
                self._marked.add(ref)
                seq = self.outbox.seq_of(ref) if self.outbox is not None else None
                if seq is not None:
                    self.outbox.mark_sending(seq, handle.channel, at)  # type: ignore[union-attr]
            return
        outbox = self.outbox
        if self.engine is not None and self.engine.tracker.settling:
            return  # (the engine stopping: the outbox keeps its own state for next time)
        if change.part is not None:
            if handle is None and outbox is not None:  # (a part of an earlier run's message)
                outbox.update_part(ref, change.part, new, change.smsc_id, at, change.reason)
            self._schedule_flush()
            return
        if self._requeued and change.final and ref in self._requeued:
            # A paused campaign's message taken back (CANCELLED in the engine, none of it
            # sent): its row stays queued in the outbox, to be fed again on resume.
            self._requeued.discard(ref)
            self._fed.pop(ref, None)
            self._marked.discard(ref)
            if self.engine is not None:
                self.engine.tracker.recent.pop(ref, None)
            self._schedule_flush()
            return
        # The message's state into the outbox (the engine does not write it: self_recording):
        # the whole status when it ends, the state alone while it goes (see Outbox.flush).
        if outbox is not None:
            if handle is None:
                if change.final:
                    outbox.finish(ref, new, at)
            elif change.final:
                outbox.record(status_of(handle))
            elif new is not MessageState.QUEUED:
                outbox.record(MessageStatus(ref=ref, channel=handle.channel, state=new,
                                            final=False))
        if change.final or new is MessageState.SUBMITTED:
            if self._campaign_of:
                campaign = self._campaign_of.pop(ref, None)
                run = self._runs.get(campaign) if campaign is not None else None
                if run is not None:
                    run.refs.discard(ref)
            # (a message of an earlier run: its row, read once, says where and whose it was)
            row = None
            if handle is None and outbox is not None:
                seq = outbox.seq_of(ref)
                row = outbox.row(seq) if seq is not None else None
            self._count(new, at, handle, row)
            events = self.events
            if events is not None:
                kind = "message." + new.value
                if events.wants(kind):
                    self._event(kind, ref, new, at, change, row)
        if change.final:
            self._marked.discard(ref)
            self._fed.pop(ref, None)
            if handle is not None:
                self._open -= 1
                if any(self._backlog.values()):
                    self._wake.set()  # a lane has room again
            elif self.outbox is not None:
                self._open -= 1
        self._schedule_flush()

    def _count(self, new: MessageState, at: float, handle: Any, row: Row | None) -> None:
        """The statistics hear of a message submitted or final (``row``: for one of an
        earlier run, which has no handle)."""
        stats = self.stats
        if stats is None:
            return
        if handle is not None:
            stats.record(channel=handle.channel, kind=handle.message.kind, state=new.value,
                         parts=len(handle.segments), submitted_at=handle.submitted_at,
                         done_at=at)
            return
        if row is not None:
            submitted = row.status.submitted_at if row.status is not None else None
            stats.record(channel=row.channel or "", kind=row.kind, state=new.value,
                         parts=row.parts, submitted_at=submitted, done_at=at)

    def _event(self, kind: str, ref: str, new: MessageState, at: float, change: Change,
               row: Row | None) -> None:
        """A message event into the log (committed with the change, in this tick's flush)."""
        assert self.events is not None
        handle = change.handle
        data: dict[str, Any] = {"id": ref, "state": new.value}
        error: BaseException | None
        if handle is not None:
            principal, out_id = self._fed.get(ref, (None, None))
            data.update(to=handle.message.destination, out_id=out_id, channel=handle.channel,
                        parts=len(handle.segments))
            error, reason = handle.error, handle.reason
        else:  # (finished after a restart: the row says whose it is)
            principal = row.request.principal if row is not None else None
            if row is not None:
                data.update(to=row.to, out_id=row.out_id, channel=row.channel, parts=row.parts)
            error, reason = change.error, change.reason
        if error is not None:
            status = getattr(error, "status", 0)
            data["error"] = {"type": type(error).__name__, "status": status,
                             "retriable": bool(getattr(error, "retriable", False)),
                             "detail": str(error)}
        if reason is not None:
            data["reason"] = msgspec.structs.asdict(reason)
        self.events.add(kind, at, principal, data)
        self.counters["events"] += 1

    def _ended_outside(self, ref: str, state: MessageState, at: float, *, to: str, kind: str,
                       channel: str | None, principal: str | None, out_id: str | None,
                       error: ErrorInfo | None) -> None:
        """A message ended without the engine (refused or expired while it waited in the
        outbox, cancelled there, lost to a restart, UNKNOWN at recovery): its event and its
        count, as the tracker's observer gives them for the others."""
        if self.stats is not None:
            self.stats.record(channel=channel or "", kind=kind, state=state.value, parts=0,
                              submitted_at=None, done_at=at)
        events, kind_name = self.events, "message." + state.value
        if events is not None and events.wants(kind_name):
            data: dict[str, Any] = {"id": ref, "state": state.value, "to": to, "out_id": out_id,
                                    "channel": channel}
            if error is not None:
                data["error"] = {"type": error.type, "status": error.status,
                                 "retriable": error.retriable, "detail": error.message}
            events.add(kind_name, at, principal, data)
            self.counters["events"] += 1
        self._schedule_flush()

    def _on_mo(self, mo: MoMessage) -> None:
        events = self.events
        if events is None or not events.wants("mo.received"):
            return
        assert self.engine is not None
        events.add("mo.received", mo.received_at, None, {
            "from": mo.source, "to": mo.destination, "text": mo.text, "channel": mo.channel,
            "opted_out": mo.source.lstrip("+") in self.engine.suppression})
        self.counters["events"] += 1
        self._schedule_flush()

    # --- feed ----------------------------------------------------------------------------------

    def _fast_feed(self, rows: list[NewRow]) -> None:
        """Straight to the engine after their commit, when their kind has no backlog and its
        lane has room; else into the backlog, for the feeder."""
        engine = self.engine
        assert engine is not None
        woke = False
        for row in rows:
            if row.state is not OutboxState.QUEUED:
                continue
            kind = row.kind
            if (not self._feeding or self._backlog.get(kind, 0)
                    or engine.room(kind, row.channel) <= 0):
                self._backlog[kind] = self._backlog.get(kind, 0) + 1
                woke = True
                continue
            assert row.ready is not None
            if self._submit(row.seq, row.to, row.kind, row.channel, row.request,
                            row.send_at or row.accepted_at, row.out_id):
                self._cursor[kind] = row.ready
            else:
                self._backlog[kind] = self._backlog.get(kind, 0) + 1
                woke = True
        if woke:
            self._wake.set()

    def _submit(self, seq: int, to: str, kind: str, channel: str | None,
                request: Request, since: float, out_id: str | None = None) -> bool:
        """Hand one queued message to the engine: True, or False when its lane is full (it
        stays queued). A message the engine now refuses (opted out since, no route) ends
        FAILED in the outbox. Its validity counts from ``since`` (its acceptance, or its
        send_at): one that waited in the outbox gets what is left of it (or of its kind's
        default), and one with nothing left ends EXPIRED unsent."""
        engine, outbox = self.engine, self.outbox
        assert engine is not None and outbox is not None
        ref = outbox.id_of(seq)
        validity = request.validity
        now = self.now()
        text = request.text
        if request.masked:
            real = self._secrets.get(seq)
            if real is None:  # (a restart came between: never send the masked text)
                lost = ErrorInfo(type="SecretLostError", status=0, name="", retriable=False,
                                 message=_LOST)
                outbox.set_status(seq, MessageStatus(
                    ref=ref, destination=to, kind=kind, state=MessageState.FAILED, final=True,
                    queued_at=since, done_at=now, error=lost))
                self._ended_outside(ref, MessageState.FAILED, now, to=to, kind=kind,
                                    channel=channel, principal=request.principal,
                                    out_id=out_id, error=lost)
                self.counters["secrets_lost"] += 1
                self._open -= 1
                self._schedule_flush()
                return True
            text = real
        if now - since >= 1.0:
            if validity is None:
                validity = engine.default_validity(kind)
            if validity is not None:
                validity -= now - since
                if validity <= 0:
                    lapsed = ErrorInfo(type="MessageExpiredError", status=0, name="",
                                       retriable=False, message="its validity lapsed while "
                                       "it waited in the outbox; it was never sent")
                    outbox.set_status(seq, MessageStatus(
                        ref=ref, destination=to, kind=kind, state=MessageState.EXPIRED,
                        final=True, queued_at=since, done_at=now, error=lapsed))
                    self._ended_outside(ref, MessageState.EXPIRED, now, to=to, kind=kind,
                                        channel=channel, principal=request.principal,
                                        out_id=out_id, error=lapsed)
                    self._secrets.pop(seq, None)
                    self._open -= 1
                    self._schedule_flush()
                    return True
        try:
            engine.submit(Message(destination=to, text=text, source=request.source,
                                  kind=kind, validity=validity), ref=ref, channel=channel)
            if self.events is not None and (request.principal is not None or out_id):
                self._fed[ref] = (request.principal, out_id)
            if request.masked:
                del self._secrets[seq]  # (the engine holds it now, in memory)
        except MessageRefusedError as exc:
            if exc.status == CommandStatus.ESME_RMSGQFUL:
                return False
            self._secrets.pop(seq, None)
            now = self.now()
            refused = ErrorInfo(type=type(exc).__name__, status=exc.status,
                                name=status_name(exc.status), retriable=exc.retriable,
                                message=str(exc))
            outbox.set_status(seq, MessageStatus(
                ref=ref, destination=to, kind=kind, state=MessageState.FAILED, final=True,
                error=refused, done_at=now))
            self._ended_outside(ref, MessageState.FAILED, now, to=to, kind=kind,
                                channel=channel, principal=request.principal, out_id=out_id,
                                error=refused)
            self._open -= 1
            self._schedule_flush()
        except ValueError as exc:
            log.error("message %s cannot be sent: %s", ref, exc)
            self._secrets.pop(seq, None)
            outbox.set_state(seq, OutboxState.FAILED, self.now())
            self._open -= 1
        self.counters["fed"] += 1
        return True

    async def _feed(self) -> None:
        """Queued messages from the outbox to the engine, per kind, as its lanes have room."""
        while self._running:
            self._wake.clear()
            if self._feeding:
                try:
                    self._feed_once()
                except (sqlite3.Error, StoreError) as exc:
                    log.error("outbox read failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.2)

    def _feed_once(self) -> None:
        engine, outbox = self.engine, self.outbox
        assert engine is not None and outbox is not None
        for kind, waiting in list(self._backlog.items()):
            if waiting <= 0:
                continue
            room = engine.room(kind)
            if room <= 0:
                continue
            rows = outbox.backlog(kind, self._cursor.get(kind, 0), min(room, 2000, waiting))
            if not rows:
                self._backlog[kind] = 0  # (cancelled while waiting)
                continue
            for row in rows:
                if not self._submit(row.seq, row.to, row.kind, row.channel, row.request,
                                    row.send_at or row.accepted_at, row.out_id):
                    break
                assert row.ready is not None
                self._cursor[kind] = row.ready
                self._backlog[kind] -= 1
            if self._backlog[kind] > 0:
                self._wake.set()  # more to come at the next turn

    # --- schedule ------------------------------------------------------------------------------

    async def _schedule(self) -> None:
        while self._running:
            try:
                self._release(self.now())
            except (sqlite3.Error, StoreError) as exc:
                log.error("outbox read failed: %s", exc)
            await asyncio.sleep(0.25)

    def _release(self, now: float) -> None:
        outbox = self.outbox
        assert outbox is not None
        due = outbox.due(now)
        if not due:
            return
        released = [(seq, outbox.next_ready()) for seq, _ in due]
        outbox.release(released)
        for _, kind in due:
            self._backlog[kind] = self._backlog.get(kind, 0) + 1
        self.counters["released"] += len(due)
        self._schedule_flush()
        self._wake.set()

    # --- housekeeping --------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while self._running:
            await asyncio.sleep(60.0)
            outbox = self.outbox
            if outbox is None:
                continue
            try:
                self.flush_now()
                self._open = outbox.open_count()  # (the running count drifts on late receipts)
                now = self.now()
                if self.counter_store is not None:
                    self.counter_store.prune(now)
                if gone := outbox.prune(now):
                    log.info("outbox: %d final messages past their retention pruned", gone)
                outbox.prune_keys(now - self.config.server.idempotency_ttl)
                self._prune_events(now)
                if self.stats is not None:
                    self.stats.prune(now - 400 * 86400.0)  # (a year and a bit of days)
            except (sqlite3.Error, StoreError) as exc:
                log.error("outbox prune failed: %s", exc)

    def _prune_events(self, now: float) -> None:
        """Events every webhook has (or none is owed) and past the retention go; past
        max_events the oldest go anyway, dead-lettered first for a webhook still owed them."""
        events = self.events
        if events is None:
            return
        cfg = self.config.events
        owed = [s.cursor for s in self.senders if not s.disabled and s.cursor is not None]
        keep_after = min(owed, default=events.committed_seq)
        over = events.last_seq - cfg.max_events
        if over > 0:
            for sender in self.senders:
                if sender.cursor is not None and sender.cursor < over:
                    lost, _ = events.after(sender.cursor, over - sender.cursor)
                    events.dead_letter(sender.config.name, lost, 0,
                                       "the event log was over [events] max_events",
                                       now)
                    sender.cursor = sender.read = max(sender.read, over)
                    events.set_cursor(sender.config.name, sender.cursor)
                    log.error("webhook %s: %d events past [events] max_events dead-lettered",
                              sender.config.name, len(lost))
        if gone := events.prune(keep_after, now - cfg.retention, cfg.max_events):
            log.info("event log: %d events pruned", gone)
        self._schedule_flush()

    async def _checkpoints(self) -> None:
        """Every second, or at once when a commit finds the WAL past Outbox.wal_limit: a
        second of backlog after a full disk was 30-50 MB of WAL on a tmpfs, enough to fill a
        small disk again before the next checkpoint."""
        while self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wal_past_limit.wait(), 1.0)
            self._wal_past_limit.clear()
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        """The WAL copied into the database from a thread (see Outbox.checkpoint): its fsync
        never stalls the loop. Past Outbox.wal_limit the next commit truncates it as well
        (Outbox.truncate_wal: without that, the WAL is never started again while commits
        never pause)."""
        outbox = self.outbox
        if outbox is None:
            return
        try:
            await asyncio.to_thread(outbox.checkpoint)
        except sqlite3.Error as exc:
            log.warning("outbox checkpoint failed (tried again in a second): %s", exc)
        if outbox.wal_size() > outbox.wal_limit:
            self._truncate_wal = True
            self._schedule_flush()

    # --- recovery ------------------------------------------------------------------------------

    def _recover(self) -> None:
        """What an earlier run left (see the module docstring)."""
        outbox = self.outbox
        assert outbox is not None
        report = RecoveryReport()
        channels = {c.name: c for c in self.config.engine.channels}
        now = time.time()
        for row in outbox.in_state(OutboxState.SENDING):
            channel = channels.get(row.channel or "")
            if channel is not None and channel.resend_unknown:
                outbox.set_state(row.seq, OutboxState.QUEUED, now, ready=outbox.next_ready())
                report.resent += 1
                continue
            status = row.status or MessageStatus(
                ref=row.id, destination=row.to, kind=row.kind, channel=row.channel or "",
                state=MessageState.UNKNOWN, final=True, queued_at=row.accepted_at)
            unknown = ErrorInfo(type="OutcomeUnknownError", status=0, name="", retriable=False,
                                message="the daemon stopped after the message was handed to "
                                        "a carrier link and before the carrier answered: it "
                                        "may have been sent, so it is not sent again")
            outbox.set_state(row.seq, OutboxState.UNKNOWN, now, msgspec.structs.replace(
                status, state=MessageState.UNKNOWN, final=True, done_at=now, error=unknown))
            self._ended_outside(row.id, MessageState.UNKNOWN, now, to=row.to, kind=row.kind,
                                channel=row.channel, principal=row.request.principal,
                                out_id=row.out_id, error=unknown)
            report.unknown += 1
        self.flush_now()  # (the states with their events and counts, in one commit)
        self._backlog = outbox.backlog_counts()
        self._cursor = {}
        report.queued = sum(self._backlog.values())
        report.scheduled = len(outbox.in_state(OutboxState.SCHEDULED))
        report.awaiting_receipts = len(outbox.in_state(OutboxState.SUBMITTED))
        self.recovery = report
        store = self.campaigns
        for campaign in store.all() if store is not None else ():
            # (an upload cut by the stop: what came is kept)
            if campaign.ingesting and store is not None:
                campaign.ingesting = False
                if len(campaign.refusals) < MAX_REFUSALS:
                    campaign.refusals.append(RowError(
                        line=campaign.recipients + 1, code="interrupted",
                        detail="the daemon stopped during the upload: the rows after this "
                               "line were not read"))
                store.save(campaign)
            if campaign.state != "cancelled":
                self._runs[campaign.id] = _Run(campaign)
        outbox.flush()
        if report.unknown or report.resent:
            log.warning("recovery: %d messages were with a carrier link when the daemon "
                        "stopped, their outcome unknown: %d end UNKNOWN, %d sent again "
                        "(resend_unknown)", report.unknown + report.resent, report.unknown,
                        report.resent)

    # --- queries and cancel --------------------------------------------------------------------

    def status_of(self, row: Row) -> tuple[OutboxState, MessageStatus | None]:
        """A row's state and status, with what is buffered or live taken into account."""
        assert self.outbox is not None and self.engine is not None
        ref = row.id
        handle = self.engine.tracker.tracked.get(ref)
        if handle is not None:
            status = status_of(handle)
            if ref in self._marked and status.state is MessageState.QUEUED:
                return OutboxState.SENDING, status
            return _from_engine(status.state, row.state), status
        pending = self.outbox.pending_status(row.seq)
        if pending is not None:
            return _from_engine(pending.state, row.state), pending
        return row.state, row.status

    def cancel(self, seq: int) -> tuple[bool, OutboxState]:
        """Cancel a scheduled or queued message: (done, its state now)."""
        outbox, engine = self.outbox, self.engine
        assert outbox is not None and engine is not None
        row = outbox.row(seq)
        if row is None:
            raise KeyError(seq)
        state, _ = self.status_of(row)
        if state is OutboxState.CANCELLED:
            return True, state
        if state not in (OutboxState.SCHEDULED, OutboxState.QUEUED):
            return False, state
        now = self.now()
        if row.id in engine.tracker.tracked:
            if not engine.cancel(row.id):
                return False, OutboxState.SENDING
        else:
            self._secrets.pop(seq, None)
            outbox.set_state(seq, OutboxState.CANCELLED, now, only_from=(
                OutboxState.SCHEDULED, OutboxState.QUEUED))
            self._ended_outside(row.id, MessageState.CANCELLED, now, to=row.to, kind=row.kind,
                                channel=row.channel, principal=row.request.principal,
                                out_id=row.out_id, error=None)
            self._open -= 1
            if row.state is OutboxState.QUEUED and self._backlog.get(row.kind, 0) > 0:
                self._backlog[row.kind] -= 1
        self.counters["cancelled"] += 1
        self._schedule_flush()
        return True, OutboxState.CANCELLED

    # --- campaigns -----------------------------------------------------------------------------

    def campaign_template(self, name: str) -> Template | ErrorOut:
        assert self.templates is not None and self.engine is not None
        found = self.templates.get(name)
        if found is None:
            return ErrorOut(code="unknown_template", field="template",
                            detail=f"no template {name!r} (GET /v1/templates)")
        if any(found.secret(v) for v in found.variables):
            return ErrorOut(code="invalid_template", field="template", detail=(
                f"template {name!r} has a secret variable: a campaign's messages wait in the "
                "outbox, where a secret is never kept"))
        try:
            self.engine.lane_of(found.kind)
        except MessageRefusedError as exc:
            return ErrorOut(code="refused", field="template", detail=str(exc))
        return found

    def campaign_create(self, template: Template, *, name: str | None, send_at: float | None,
                        rate: float | None, source: str | None,
                        principal: str | None) -> Campaign:
        """A new campaign, ingesting: rows come with :meth:`campaign_rows`, then
        :meth:`campaign_ingested`. Saved with the first commit."""
        assert self.campaigns is not None and self.engine is not None
        campaign = Campaign(id=self.campaigns.next_id(), name=name, template=template.name,
                            version=template.version, kind=self.engine.lane_of(template.kind),
                            state="running", send_at=send_at, rate=rate, principal=principal,
                            source=source, created_at=self.now(), ingesting=True)
        self.campaigns.save(campaign)
        run = _Run(campaign)
        run.seen = set()
        self._runs[campaign.id] = run
        return campaign

    def campaign_rows(self, campaign: Campaign, template: Template,
                      rows: list[tuple[int, str, dict[str, str]]],
                      errors: list[RowError]) -> None:
        """Ingest a chunk: each row checked (number, params, duplicate, opt-out, caps) and
        the good ones buffered into the outbox with the campaign's counts; the caller awaits
        :meth:`committed`. ``errors``: rows already refused (malformed)."""
        outbox, engine = self.outbox, self.engine
        assert outbox is not None and engine is not None and self.campaigns is not None
        run = self._runs[campaign.id]
        seen = run.seen if run.seen is not None else set()
        now = self.now()
        policy = self.config.policy
        sign, placement = self._signs.get(campaign.principal or "", (None, policy.sign_placement))
        encodings, method = self.encodings(None)
        suppression = engine.suppression
        kind = campaign.kind
        suppressed_kind = kind in engine.config.optout.suppressed_kinds
        caps = [c for scope, c in self.caps if scope == "number" and kind.lower() in c.rules]
        limit = policy.campaign_rows
        refusals = campaign.refusals
        for error in errors:
            campaign.recipients += 1
            campaign.refused += 1
            if len(refusals) < MAX_REFUSALS:
                refusals.append(error)
        renderer = run.renderer
        options = (sign, placement, policy.optout_suffix, tuple(encodings), method)
        if renderer is None or renderer.template is not template or renderer.options != options:
            renderer = run.renderer = Renderer(
                template, signature=sign, placement=placement,
                optout_suffix=policy.optout_suffix, encodings=encodings, method=method)
        # The outbox's request column, as Outbox.insert encodes it: the text, then the same
        # fields for every row (encoded once; the text alone per row).
        fields = (campaign.source, campaign.principal, campaign.template, campaign.version)
        if run.request is None or run.request[0] != fields:
            whole = outbox.encode_request(Request(
                text="", source=campaign.source, principal=campaign.principal,
                template=campaign.template, version=campaign.version))
            assert whole.startswith(b'{"text":""')
            run.request = (fields, whole[len(b'{"text":""'):])
        tail = run.request[1]
        encode_text = _encode_str
        new: list[tuple[Any, ...]] = []
        append = new.append
        send_at = campaign.send_at
        campaign_id = campaign.id
        seq = outbox.last_seq
        render_row, parts_of = renderer.render, renderer.parts
        for line, to, params in rows:
            if campaign.recipients >= limit:
                if len(refusals) < MAX_REFUSALS:
                    refusals.append(RowError(line=line, code="too_many", detail=(
                        f"past [policy] campaign_rows ({limit}): not read")))
                break
            campaign.recipients += 1
            digits = to[1:] if to.startswith("+") else to
            if not (digits.isdigit() and digits.isascii() and len(digits) <= 20):
                campaign.refused += 1
                if len(refusals) < MAX_REFUSALS:
                    refusals.append(RowError(line=line, code="invalid_number", field="to",
                                             detail=f"{to[:24]!r} is not a phone number"))
                continue
            key = int("1" + digits)  # (the leading 1 keeps leading zeros apart)
            if key in seen:
                campaign.duplicates += 1
                continue
            seen.add(key)
            try:
                text, shape = render_row(params)
            except TemplateError as exc:
                campaign.refused += 1
                if len(refusals) < MAX_REFUSALS:
                    refusals.append(RowError(line=line, code="invalid_param", field=exc.field,
                                             detail=str(exc)))
                continue
            if suppressed_kind and digits in suppression:
                campaign.suppressed += 1
                continue
            if caps:
                refusal = check_all([(c, digits) for c in caps], kind, now)
                if refusal is not None:
                    campaign.capped += 1
                    if len(refusals) < MAX_REFUSALS:
                        refusals.append(RowError(line=line, code="capped", field="to",
                                                 detail=refusal.describe()))
                    continue
                for c in caps:
                    c.record(digits, kind, now)
            try:
                parts = parts_of(text, shape)
            except ValueError as exc:
                campaign.refused += 1
                if len(refusals) < MAX_REFUSALS:
                    refusals.append(RowError(line=line, code="invalid_text", detail=str(exc)))
                continue
            seq += 1
            # (Outbox.insert's columns: state QUEUED, no out_id, channel nor ready)
            append((seq, 1, to, kind, None, None, b'{"text":' + encode_text(text) + tail,
                    parts, None, now, send_at, None, None, campaign_id))
        outbox.last_seq = seq
        if new:
            self.check_room(len(new))
            outbox.insert_encoded(new)
            self._open += len(new)
        self.campaigns.save(campaign)
        run.idle_until = 0.0

    def campaign_ingested(self, campaign: Campaign) -> None:
        assert self.campaigns is not None
        campaign.ingesting = False
        self.campaigns.save(campaign)
        run = self._runs.get(campaign.id)
        if run is not None:
            run.seen = None

    def campaign(self, campaign_id: int) -> Campaign | None:
        run = self._runs.get(campaign_id)
        if run is not None:
            return run.campaign
        assert self.campaigns is not None
        return self.campaigns.get(campaign_id)

    def campaign_progress(self, campaign: Campaign) -> dict[str, Any]:
        """Counts over the outbox's campaign index, the runner's rate and the ETA."""
        outbox = self.outbox
        assert outbox is not None
        counts = outbox.campaign_counts(campaign.id)
        run = self._runs.get(campaign.id)
        queued_rows = counts.get(OutboxState.QUEUED, 0)
        waiting = (outbox.campaign_waiting(campaign.id, run.cursor) if run is not None
                   else queued_rows)
        now = self.now()
        rate = run.rate(now) if run is not None else 0.0
        failed = sum(counts.get(s, 0) for s in (
            OutboxState.UNDELIVERABLE, OutboxState.EXPIRED, OutboxState.REJECTED,
            OutboxState.FAILED, OutboxState.UNKNOWN))
        progress = {
            "recipients": campaign.recipients, "refused": campaign.refused,
            "duplicates": campaign.duplicates, "suppressed": campaign.suppressed,
            "capped": campaign.capped,
            "queued": waiting + counts.get(OutboxState.SCHEDULED, 0),
            "sending": queued_rows - waiting, "submitted": counts.get(OutboxState.SUBMITTED, 0),
            "delivered": counts.get(OutboxState.DELIVERED, 0), "failed": failed,
            "cancelled": counts.get(OutboxState.CANCELLED, 0)}
        state: str = campaign.state
        if state == "running":
            if campaign.send_at is not None and campaign.send_at > now:
                state = "scheduled"
            elif not campaign.ingesting and not queued_rows:
                state = "done"
        eta = None
        if waiting and rate > 0 and state == "running":
            eta = waiting / rate
        elif waiting == 0 and state in ("running", "done"):
            eta = 0.0
        return {"progress": progress, "state": state, "current_rate": rate, "eta": eta}

    def campaign_pause(self, campaign: Campaign, paused: bool) -> bool:
        """Pause (nothing more is handed to the engine, and what it holds that none of has
        left is taken back: queued in the outbox again, fed first on resume; what is with a
        carrier link goes on) or resume. False when the campaign is cancelled."""
        assert self.campaigns is not None
        if campaign.state == "cancelled":
            return False
        campaign.state = "paused" if paused else "running"
        self.campaigns.save(campaign)
        run = self._runs.get(campaign.id)
        if run is not None:
            run.idle_until = 0.0
            run.tokens = 0.0
            if paused:
                self._take_back(run)
        self._schedule_flush()
        return True

    def _take_back(self, run: _Run) -> None:
        """A paused campaign's messages in the engine none of whose parts left: cancelled
        there (Engine.cancel), their rows left queued, and the runner's cursor moved back
        before the first of them so that resume feeds them again (rows past the cursor that
        went on are no longer queued-and-unsent, and are not read again)."""
        engine, outbox = self.engine, self.outbox
        assert engine is not None and outbox is not None
        first: int | None = None
        for ref in sorted(run.refs):
            seq = outbox.seq_of(ref)
            if seq is None:
                continue
            self._requeued.add(ref)
            if engine.cancel(ref):
                run.refs.discard(ref)
                self._campaign_of.pop(ref, None)
                first = seq if first is None else min(first, seq)
            self._requeued.discard(ref)
        if first is not None:
            run.cursor = min(run.cursor, first - 1)

    def campaign_cancel(self, campaign: Campaign) -> int:
        """Everything of it not yet with a carrier link ends CANCELLED: how many."""
        outbox, engine = self.outbox, self.engine
        assert outbox is not None and engine is not None and self.campaigns is not None
        campaign.state = "cancelled"
        self.campaigns.save(campaign)
        run = self._runs.pop(campaign.id, None)
        cancelled = 0
        after = 0
        if run is not None:
            for ref in list(run.refs):
                if engine.cancel(ref):
                    cancelled += 1
                self._campaign_of.pop(ref, None)
            after = run.cursor
        # (rows never handed to the engine; the ones it held it cancelled itself)
        gone = outbox.cancel_campaign(campaign.id, self.now(), after)
        self._open -= gone
        self.counters["cancelled"] += cancelled + gone
        self._schedule_flush()
        return cancelled + gone

    async def _run_campaigns(self) -> None:
        """Feed running campaigns: each through its kind's lane (marketing), at most a window
        ahead of the carrier and at its rate cap; never while quiet hours hold its kind."""
        last = self.now()
        while self._running:
            await asyncio.sleep(0.02)
            if not self._feeding or not self._runs:
                last = self.now()
                continue
            now = self.now()
            elapsed, last = max(0.0, now - last), now
            try:
                self._feed_campaigns(now, elapsed)
            except (sqlite3.Error, StoreError) as exc:
                log.error("outbox read failed (campaigns): %s", exc)

    def _feed_campaigns(self, now: float, elapsed: float) -> None:
        outbox, engine = self.outbox, self.engine
        assert outbox is not None and engine is not None
        for run in list(self._runs.values()):
            campaign = run.campaign
            if (campaign.state != "running" or run.idle_until > now
                    or (campaign.send_at is not None and campaign.send_at > now)):
                continue
            if self.quiet is not None and self.quiet.hold_until(campaign.kind, now):
                continue
            budget = min(CAMPAIGN_WINDOW - len(run.refs), engine.room(campaign.kind))
            if campaign.rate is not None:
                run.tokens = min(run.tokens + campaign.rate * elapsed, max(campaign.rate, 1.0))
                budget = min(budget, int(run.tokens))
            if budget <= 0:
                continue
            rows = outbox.campaign_backlog(campaign.id, run.cursor, min(budget, 2000))
            if not rows:
                run.idle_until = now + 0.5  # (more may come while it ingests)
                continue
            fed = 0
            for row in rows:
                if not self._submit(row.seq, row.to, row.kind, row.channel, row.request,
                                    max(row.send_at or 0.0, row.accepted_at), row.out_id):
                    break
                run.cursor = row.seq
                ref = row.id
                if ref in engine.tracker.tracked:
                    run.refs.add(ref)
                    self._campaign_of[ref] = campaign.id
                fed += 1
            if campaign.rate is not None:
                run.tokens -= fed
            if fed:
                run.samples.append((now, fed))

    def overview(self) -> dict[str, Any]:
        """What ``smsengine top`` shows: the gateway's counters, the outbox, the engine's
        channels (binds, rate, lanes, in flight, counters) and each webhook's backlog."""
        engine = self.engine
        assert engine is not None
        return {
            "time": time.time(),
            "open": self._open,
            "backlog": dict(self._backlog),
            "counters": dict(self.counters),
            "engine": engine.stats(),
            "webhooks": {s.config.name: {"backlog": s.backlog, "disabled": s.disabled,
                                         "cursor": s.cursor} for s in self.senders},
            "events": self.events.committed_seq if self.events is not None else 0,
        }

    def _metric_families(self) -> Iterator[Metric]:
        """The daemon's own families, read at each scrape (see smsengine.metrics)."""
        engine, outbox = self.engine, self.outbox
        states = GaugeMetricFamily("smsengine_outbox_messages",
                                   "Messages in the outbox not yet final, by state",
                                   labels=["state"])
        if engine is not None and outbox is not None:
            sending = len(self._marked)
            queued = sum(self._backlog.values()) + sum(
                len(c.lanes) for c in engine.channels.values())
            scheduled = outbox.scheduled_count()
            states.add_metric(["scheduled"], scheduled)
            states.add_metric(["queued"], queued)
            states.add_metric(["sending"], sending)
            states.add_metric(["submitted"], max(0, self._open - scheduled - queued - sending))
        yield states
        deliveries = CounterMetricFamily("smsengine_webhook_deliveries",
                                         "Webhook requests, by result", labels=["result"])
        for result in ("delivered", "failed", "gone"):
            deliveries.add_metric([result], self.counters.get(f"webhook_{result}", 0))
        deliveries.add_metric(["dead_lettered"], self.counters.get("webhook_dead_lettered", 0))
        yield deliveries
        backlog = GaugeMetricFamily("smsengine_webhook_backlog",
                                    "Events not yet delivered to a webhook", labels=["webhook"])
        for sender in self.senders:
            backlog.add_metric([sender.config.name], sender.backlog)
        yield backlog

    def replay(self, endpoint: str) -> int | None:
        """An endpoint's dead letters sent again (up to 10 000 a call): how many; None for no
        such webhook."""
        for sender in self.senders:
            if sender.config.name == endpoint:
                assert self.events is not None
                events = self.events.take_failed(endpoint)
                sender.replay(events)
                self._schedule_flush()
                return len(events)
        return None

    def ready(self) -> dict[str, str]:
        """What is not ready (empty: ready): the store, and each channel's binds."""
        problems: dict[str, str] = {}
        try:
            assert self.outbox is not None
            self.outbox.probe(time.time())
        except (sqlite3.Error, StoreError, OSError, AssertionError) as exc:
            problems["store"] = f"not writable: {exc}"
        if self.engine is not None:
            for name, channel in self.engine.channels.items():
                # (a cluster node need not hold a bind of every channel: only of those it
                # holds a slot of)
                if not channel.bound and (self.cluster is None or self.cluster.holds(name)):
                    problems[f"channel {name}"] = "no bind up"
        if self.cluster is not None:
            problems.update(self.cluster.ready())
        if not self._running:
            problems["daemon"] = "stopping"
        return problems


_encode_str: Callable[[str], bytes] = msgspec.json.Encoder().encode


def _from_engine(state: MessageState, row_state: OutboxState) -> OutboxState:
    return FROM_ENGINE.get(state, row_state)
