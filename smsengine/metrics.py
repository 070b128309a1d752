"""Prometheus metrics of an engine, for the library and the daemon alike (issue 18).

    from prometheus_client import CollectorRegistry
    from smsengine.metrics import EngineMetrics

    metrics = EngineMetrics(engine, CollectorRegistry())   # on the engine's loop's thread
    ...
    body, content_type = metrics.exposition()   # what a /metrics handler answers
    metrics.close()                             # unregistered, counting stops

The families, every label of low cardinality (channel and lane names from the config, the kind
folded to a lane or ``other``, states and results from fixed sets; never a number or an id):

==========================================  =======================================================
``smsengine_messages_total``                counter {channel, kind, state}: ``submitted`` when
                                            every part is answered and one at least was accepted;
                                            the final states (``delivered``, ``undeliverable``,
                                            ``expired``, ``rejected``, ``failed``, ``unknown``,
                                            ``cancelled``) when the message ends. A message that
                                            asked for no receipt ends at ``submitted``, counted
                                            once. Refused before any channel: ``channel=""``.
``smsengine_parts_total``                   counter {channel}: parts the carrier accepted (what
                                            it bills)
``smsengine_parts_sent_total``              counter {channel}: parts handed to binds, retries
                                            included
``smsengine_submit_seconds``                histogram {channel}: per message submitted, its last
                                            part answered: handed to a bind -> the carrier's
                                            acceptance (for one part, the message's)
``smsengine_delivery_seconds``              histogram {channel}: a message submitted -> its final
                                            receipt (delivered, undeliverable, expired, rejected)
``smsengine_receipts_total``                counter {channel, result}: ``matched`` (also those
                                            that beat their response), ``unmatched`` (no part of
                                            ours, or unreadable), ``expired`` (a part whose
                                            receipt never came within ``receipt_ttl``)
``smsengine_receipts_awaiting``             gauge: correlation records waiting for a receipt
``smsengine_bind_up``, ``smsengine_binds``  gauges {channel}: binds bound; binds configured
``smsengine_window_in_flight``              gauge {channel}: parts sent and not yet answered
``smsengine_channel_rate``                  gauge {channel}: the AIMD rate now, in parts a
                                            second; absent while the channel is not paced (no
                                            TPS limit and no throttle lately)
``smsengine_channel_rate_limit``            gauge {channel}: the configured TPS (channels with
                                            one)
``smsengine_throttled_total``               counter {channel}: throttled responses
``smsengine_retries_total``                 counter {channel}: parts sent again after a
                                            retriable status (throttles not included)
``smsengine_queue_depth``                   gauge {channel, lane}: messages and retries queued
``smsengine_mo_total``                      counter {channel}: MO parts received
``smsengine_messages_tracked``              gauge: messages accepted and not final
==========================================  =======================================================

**What counting costs.** A tracker observer, even one doing nothing, cost 28 % of the engine
benchmark's client CPU (five calls and five ``Change`` structs a message), and keeping the
handles in lists to count them in bulk later cost 0.6-0.7 µs a message (reading each message
and part again once they had left the CPU's caches). So the metrics are the tracker's
:class:`~smsengine.engine.tracker.Batch`, never called per message: where the tracker holds a
message anyway it appends one float to a list when the message is submitted (the list is its
channel and kind, the float its submit span) and one when it ends (the list its channel, kind
and state, the float its delivery span): a counter bumped and a span appended at each point
cost twice as much (about 0.6 µs a message). On every housekeeping tick (twice a second) and
at a scrape on the loop's thread, :meth:`_Tally.flush` counts the lists and puts the spans
into the histograms in bulk (one sort per list, a bisection per bucket). The gauges and the channel
counters are read from the channels at scrape time. No prometheus-client object is touched
per message. The figures are in benchmarks/README.md (``benchmarks/engine.py --metrics``).

**Scraping from another thread** (``prometheus_client.start_http_server``): the collector then
reads what the last housekeeping tick counted (at most half a second old); the lists are
only ever taken on the event loop's thread.

**The daemon's own families** (``smsengine_outbox_messages{state}``,
``smsengine_webhook_deliveries_total{result}``, ``smsengine_webhook_backlog``,
``smsengine_http_requests_total{route,code}``, ``smsengine_http_request_seconds{route}``)
are the daemon's to count. Either pass ``extra``, a callable returning metric families
(``prometheus_client.core.GaugeMetricFamily`` …) that every scrape includes after the engine's,
or register a collector of its own (or plain ``Counter``/``Histogram`` objects) on the same
:attr:`EngineMetrics.registry`. Either way :meth:`EngineMetrics.exposition` serves them all.

Limits: one per engine (the tracker has one batch counter), made on the thread that will run
the engine's loop, before or after ``start()``; it follows the engine across a stop and start.
Messages of an earlier run finished by receipts after a restart (known by ref only) are counted
in ``smsengine_receipts_total``, not in ``smsengine_messages_total``. The submit latency reads a
part's hand-over time in the loop's clock (``time.monotonic()`` for asyncio and uvloop alike)
against its acceptance in wall-clock time, so a step of the wall clock skews the few parts
answered across it.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import REGISTRY, CollectorRegistry

from .engine import MessageState
from .engine.sqlite import StoreError

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["DELIVERY_BUCKETS", "SUBMIT_BUCKETS", "EngineMetrics"]

#: Upper bounds of ``smsengine_submit_seconds``: a carrier answers in milliseconds to seconds.
SUBMIT_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1.0, 2.5, 5.0, 10.0, 30.0)
#: Upper bounds of ``smsengine_delivery_seconds``: a handset in seconds, one switched off in
#: hours (the receipt TTL is a day by default).
DELIVERY_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                                       300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)

_SUBMITTED = MessageState.SUBMITTED
# Ends a receipt gives, whose span from SUBMITTED is a delivery time; not UNKNOWN, mostly a
# receipt that never came (its span would be the receipt TTL).
_DELIVERY_ENDS = frozenset({MessageState.DELIVERED, MessageState.UNDELIVERABLE,
                            MessageState.EXPIRED, MessageState.REJECTED})
_OTHER_KIND = "other"


class _Histogram:
    """Cumulative bucket counts and a sum, added to a batch at a time."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # cumulative; the last one is +Inf
        self.sum = 0.0

    def add(self, values: list[float], offset: float = 0.0) -> None:
        """Observe each of ``values`` minus ``offset``, but for the negative ones (the
        tracker's -1.0: nothing to measure). Sorts ``values`` in place."""
        values.sort()
        skip = bisect.bisect_left(values, 0.0)
        n = len(values) - skip
        if not n:
            return
        counts = self.counts
        for i, bound in enumerate(self.bounds):
            counts[i] += bisect.bisect_right(values, bound + offset) - skip
        counts[-1] += n
        # (fsum: exact, where adding spans of 1.7e9 one by one would lose milliseconds each)
        self.sum += math.fsum(values[skip:] if skip else values) - offset * n

    def samples(self) -> tuple[list[tuple[str, float]], float]:
        counts = list(self.counts)  # (one copy: a consistent set when read from another thread)
        buckets = [(_bound(b), float(c)) for b, c in zip(self.bounds, counts, strict=False)]
        buckets.append(("+Inf", float(counts[-1])))
        return buckets, self.sum


def _bound(bound: float) -> str:
    return repr(float(bound))


class _Tally:
    """The tracker's batch counter (:class:`~smsengine.engine.tracker.Batch`): the lists the
    tracker appends to, and what they came to."""

    def __init__(self, lanes: Iterable[str]) -> None:
        self.submitted: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
        self.parts: dict[str, int] = {}
        self.ended: defaultdict[tuple[str, str, MessageState], list[float]] = defaultdict(list)
        self.lanes = frozenset(lanes)
        #: (channel, kind, state) -> messages, the kind a lane or ``other`` (a refused
        #: message's kind is the caller's text: unbounded)
        self.messages: dict[tuple[str, str, str], int] = {}
        self.parts_accepted: dict[str, int] = {}  # channel -> parts accepted
        self.submit: dict[str, _Histogram] = {}
        self.delivery: dict[str, _Histogram] = {}
        #: The event loop's thread: the only one that takes the lists (the tracker appends
        #: there, and calls flush() there).
        self.thread = threading.get_ident()

    def flush(self) -> None:
        """Count what the lists hold and take them (on the loop's thread only)."""
        self.thread = threading.get_ident()
        if self.submitted:
            submitted, self.submitted = self.submitted, defaultdict(list)
            # A part's hand-over (``sent``) is loop time, its acceptance wall-clock time: the
            # offset between the two clocks is taken off in the histogram, once per batch.
            offset = time.time() - time.monotonic()
            for (channel, kind), spans in submitted.items():
                self._count(channel, kind, "submitted", len(spans))
                _add(self.parts_accepted, channel, len(spans))
                _histogram(self.submit, channel, SUBMIT_BUCKETS).add(spans, offset)
        if self.parts:
            parts, self.parts = self.parts, {}
            for channel, n in parts.items():
                _add(self.parts_accepted, channel, n)
        if self.ended:
            ended, self.ended = self.ended, defaultdict(list)
            for (channel, kind, state), spans in ended.items():
                if state is not _SUBMITTED:  # (counted when submitted)
                    self._count(channel, kind, state.value, len(spans))
                if state in _DELIVERY_ENDS:
                    _histogram(self.delivery, channel, DELIVERY_BUCKETS).add(spans)

    def _count(self, channel: str, kind: str, state: str, n: int) -> None:
        _add(self.messages, (channel, kind if kind in self.lanes else _OTHER_KIND, state), n)


_K = TypeVar("_K")


def _add(counts: dict[_K, int], key: _K, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def _histogram(histograms: dict[str, _Histogram], channel: str,
               bounds: Sequence[float]) -> _Histogram:
    histogram = histograms.get(channel)
    if histogram is None:
        histogram = histograms[channel] = _Histogram(bounds)
    return histogram


class _Families:
    """One scrape's families, empty until filled."""

    def __init__(self) -> None:
        channel = ["channel"]
        self.messages = CounterMetricFamily(
            "smsengine_messages", "Messages submitted (every part answered, one at least "
            "accepted) and ended, by final state", labels=["channel", "kind", "state"])
        self.parts = CounterMetricFamily("smsengine_parts", "Parts the carrier accepted",
                                         labels=channel)
        self.parts_sent = CounterMetricFamily(
            "smsengine_parts_sent", "Parts handed to binds, retries included", labels=channel)
        self.submit = HistogramMetricFamily(
            "smsengine_submit_seconds", "A message's last part handed to a bind -> the "
            "carrier's acceptance",
            labels=channel)
        self.delivery = HistogramMetricFamily(
            "smsengine_delivery_seconds", "A message submitted -> its final receipt",
            labels=channel)
        self.receipts = CounterMetricFamily(
            "smsengine_receipts", "Delivery receipts: matched to a part, unmatched, or expired "
            "(none within receipt_ttl)", labels=["channel", "result"])
        self.awaiting = GaugeMetricFamily("smsengine_receipts_awaiting",
                                          "Parts waiting for a receipt")
        self.bind_up = GaugeMetricFamily("smsengine_bind_up", "Binds bound", labels=channel)
        self.binds = GaugeMetricFamily("smsengine_binds", "Binds configured", labels=channel)
        self.in_flight = GaugeMetricFamily("smsengine_window_in_flight",
                                           "Parts sent, not yet answered", labels=channel)
        self.rate = GaugeMetricFamily(
            "smsengine_channel_rate", "The AIMD rate now (parts/s), while the channel is paced",
            labels=channel)
        self.rate_limit = GaugeMetricFamily("smsengine_channel_rate_limit",
                                            "The configured TPS", labels=channel)
        self.throttled = CounterMetricFamily("smsengine_throttled", "Throttled responses",
                                             labels=channel)
        self.retries = CounterMetricFamily(
            "smsengine_retries", "Parts sent again after a retriable status", labels=channel)
        self.queue_depth = GaugeMetricFamily(
            "smsengine_queue_depth", "Messages and retries queued, by lane",
            labels=["channel", "lane"])
        self.mo = CounterMetricFamily("smsengine_mo", "MO parts received", labels=channel)
        self.tracked = GaugeMetricFamily("smsengine_messages_tracked",
                                         "Messages accepted, not final")

    def all(self) -> list[Metric]:
        return [self.messages, self.parts, self.parts_sent, self.submit, self.delivery,
                self.receipts, self.awaiting, self.bind_up, self.binds, self.in_flight,
                self.rate, self.rate_limit, self.throttled, self.retries, self.queue_depth,
                self.mo, self.tracked]


class EngineMetrics:
    """The engine's Prometheus metrics (see the module docstring), registered on ``registry``
    (None: prometheus-client's default ``REGISTRY``). ``extra`` returns more families for
    every scrape (the daemon's). :meth:`close` unregisters it and stops the counting."""

    def __init__(self, engine: Engine, registry: CollectorRegistry | None = None, *,
                 extra: Callable[[], Iterable[Metric]] | None = None) -> None:
        tracker = engine.tracker
        if tracker.batch is not None:
            raise ValueError("this engine is counted already (one EngineMetrics per engine)")
        self.engine = engine
        self.registry = registry if registry is not None else REGISTRY
        self.extra = extra
        self._tally = _Tally(engine.config.lanes)
        tracker.batch = self._tally
        try:
            self.registry.register(self)
        except ValueError:
            tracker.batch = None
            raise

    def close(self) -> None:
        """Unregister from the registry and stop counting (idempotent)."""
        if self.engine.tracker.batch is self._tally:
            self.engine.tracker.batch = None
        with contextlib.suppress(KeyError):
            self.registry.unregister(self)

    def exposition(self) -> tuple[bytes, str]:
        """The registry's text exposition and its content type: what ``/metrics`` answers."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # --- the collector ---------------------------------------------------------------------------

    def describe(self) -> Iterator[Metric]:
        """The families' names, for the registry's duplicate check (no counting)."""
        return iter(_Families().all())

    def collect(self) -> Iterator[Metric]:
        tally = self._tally
        if threading.get_ident() == tally.thread:
            tally.flush()
        families = _Families()
        self._add_counted(families)
        self._add_channels(families)
        yield from families.all()
        if self.extra is not None:
            yield from self.extra()

    def _add_counted(self, f: _Families) -> None:
        tally = self._tally
        for (channel, kind, state), n in sorted(dict(tally.messages).items()):
            f.messages.add_metric([channel, kind, state], n)
        for channel, n in sorted(dict(tally.parts_accepted).items()):
            f.parts.add_metric([channel], n)
        for family, histograms in ((f.submit, tally.submit), (f.delivery, tally.delivery)):
            for channel, histogram in sorted(dict(histograms).items()):
                buckets, total = histogram.samples()
                family.add_metric([channel], buckets, total)

    def _add_channels(self, f: _Families) -> None:
        engine = self.engine
        for name, channel in sorted(engine.channels.items()):
            counters = dict(channel.counters)
            config = channel.config
            label = [name]
            f.receipts.add_metric([name, "matched"], counters.get("receipts_matched", 0)
                                  + counters.get("receipts_early", 0))
            f.receipts.add_metric([name, "unmatched"], counters.get("receipts_unmatched", 0))
            f.receipts.add_metric([name, "expired"], counters.get("receipts_expired", 0))
            f.parts_sent.add_metric(label, counters.get("segments", 0))
            f.throttled.add_metric(label, counters.get("throttled", 0))
            f.retries.add_metric(label, counters.get("retried", 0))
            f.mo.add_metric(label, counters.get("mo", 0))
            try:
                snapshot = channel.snapshot()
                bound, binds = snapshot["bound"], snapshot["binds"]
            except StoreError:  # (the engine has stopped and closed its store)
                bound = 0
                binds = config.transmitters + config.receivers + config.transceivers
            f.bind_up.add_metric(label, bound)
            f.binds.add_metric(label, binds)
            f.in_flight.add_metric(label, channel.in_flight)
            if channel.pacing != "off":
                f.rate.add_metric(label, channel.flow.rate)
            if config.tps > 0:
                f.rate_limit.add_metric(label, config.tps)
            for lane, n in channel.lanes.depth().items():
                f.queue_depth.add_metric([name, lane], n)
        with contextlib.suppress(StoreError):
            f.awaiting.add_metric([], len(engine.store))
        f.tracked.add_metric([], len(engine.tracker.tracked))
