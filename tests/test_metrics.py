"""smsengine.metrics: the exposition of an engine run against the fake SMSC parses, agrees with
the engine's own counters and handles, carries no number or id as a label, and holds every
metric the Grafana dashboard (docs/grafana/smsengine.json) queries; the batch histogram agrees
with prometheus-client's own; one collector per engine, which follows it across a restart."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from smsengine.engine import Engine, MessageHandle, MessageState
from smsengine.fakesmsc import FakeSMSC
from smsengine.metrics import DELIVERY_BUCKETS, SUBMIT_BUCKETS, EngineMetrics, _Histogram
from tests.engine.test_e2e import channel, engine_config, finished, msg, running, smsc_config

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana" / "smsengine.json"

# --- for the daemon's author ---------------------------------------------------------------------
#: DAEMON: the families `smsengine serve` adds to /metrics (issue 18), which the dashboard
#: queries and an engine alone does not expose: name -> type. Wire it when the daemon serves
#: them: make this the daemon's own list (import it from smsengine.daemon), and check a scrape
#: of a running daemon against it in tests/daemon/.
DAEMON_METRICS: dict[str, str] = {
    "smsengine_outbox_messages": "gauge",  # {state}
    "smsengine_webhook_deliveries_total": "counter",  # {result}
    "smsengine_webhook_backlog": "gauge",
    "smsengine_http_requests_total": "counter",  # {route, code}
    "smsengine_http_request_seconds": "histogram",  # {route}
}

# A run with a bit of everything: throttles (paced, so the AIMD rate is shown), receipts that
# say undeliverable, messages of two parts, messages that asked for no receipt, and one
# refused before any channel took it.
SMSC = {"errors": {"ESME_RTHROTTLED": 0.1}, "seed": 3,
        "receipts": {"statuses": {"DELIVRD": 0.75, "UNDELIV": 0.25}}}
LONG = "Your parcel is on its way. " * 8  # two parts in GSM 7-bit


def sample_names(names: Iterable[tuple[str, str]]) -> set[str]:
    """The sample names of families given as (name, type)."""
    out: set[str] = set()
    for name, kind in names:
        if kind == "histogram":
            out.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            out.add(name)
    return out


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(v for n, lab, v in samples(text)
               if n == name and all(lab.get(k) == want for k, want in labels.items()))


async def a_run(engine: Engine) -> list[MessageHandle]:
    messages = ([msg(i) for i in range(200)]
                + [msg(200 + i, text=LONG) for i in range(20)]
                + [msg(300 + i, registered_delivery=False) for i in range(30)]
                + [msg(400, kind="no such kind")])
    handles = await engine.send_many(messages)
    await finished(handles, 20)
    return handles


def scrape(metrics: EngineMetrics) -> str:
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    return body.decode()


# --- the exposition of a run ---------------------------------------------------------------------


async def test_a_run_is_counted_as_the_engine_counts_it() -> None:
    async with running(SMSC, tps=400) as (_, engine):
        metrics = EngineMetrics(engine, CollectorRegistry())
        handles = await a_run(engine)
        text = scrape(metrics)
        counters = dict(engine.channels["a"].counters)
        snapshot = engine.channels["a"].snapshot()
    a = {"channel": "a"}

    def messages(state: str, **labels: str) -> float:
        return value(text, "smsengine_messages_total", state=state, **labels)

    for state in MessageState:
        if state is not MessageState.SUBMITTED:
            ended = sum(1 for h in handles if h.state is state)
            assert messages(state.value) == ended, state
    submitted = [h for h in handles if h.submitted_at is not None]
    assert len(submitted) == counters["submitted"] == messages("submitted", **a)
    assert messages("submitted", kind="notification") == len(submitted)
    assert messages("failed", channel="", kind="other") == 1  # the refused one
    accepted = sum(1 for h in submitted for p in h.segments if p.submitted_at is not None)
    assert accepted == 250 + 20  # (two parts each)
    assert value(text, "smsengine_parts_total", **a) == accepted
    assert value(text, "smsengine_parts_sent_total", **a) == counters["segments"]
    assert value(text, "smsengine_throttled_total", **a) == counters["throttled"] > 0
    assert value(text, "smsengine_retries_total", **a) == counters["retried"]
    assert (value(text, "smsengine_receipts_total", result="matched", **a)
            == counters["receipts_matched"] + counters["receipts_early"] == 200 + 2 * 20)
    assert value(text, "smsengine_receipts_total", result="unmatched", **a) == 0
    assert value(text, "smsengine_receipts_total", result="expired", **a) == 0
    assert value(text, "smsengine_bind_up", **a) == snapshot["bound"] == 1
    assert value(text, "smsengine_binds", **a) == 1
    assert value(text, "smsengine_window_in_flight", **a) == 0
    assert value(text, "smsengine_channel_rate_limit", **a) == 400
    assert 0 < value(text, "smsengine_channel_rate", **a) <= 400
    assert value(text, "smsengine_messages_tracked") == 0
    assert {lab["lane"] for n, lab, _ in samples(text) if n == "smsengine_queue_depth"} == set(
        engine.config.lanes)
    # The histograms: every message submitted, every message a receipt ended.
    by_receipt = sum(1 for h in handles if h.state in (MessageState.DELIVERED,
                                                       MessageState.UNDELIVERABLE))
    assert value(text, "smsengine_submit_seconds_count", **a) == len(submitted)
    assert value(text, "smsengine_delivery_seconds_count", **a) == by_receipt == 220
    for name, bounds in (("smsengine_submit_seconds", SUBMIT_BUCKETS),
                         ("smsengine_delivery_seconds", DELIVERY_BUCKETS)):
        buckets = [(float(lab["le"]), v) for n, lab, v in samples(text) if n == f"{name}_bucket"]
        assert [b for b, _ in buckets] == [*bounds, float("inf")]
        counts = [v for _, v in buckets]
        assert counts == sorted(counts) and counts[-1] == value(text, f"{name}_count")
        assert 0 < value(text, f"{name}_sum") < 5 * counts[-1]  # (seconds, not hours)


async def test_no_label_is_a_number_or_an_id() -> None:
    async with running(SMSC) as (_, engine):
        metrics = EngineMetrics(engine, CollectorRegistry())
        handles = await a_run(engine)
        text = scrape(metrics)
    ids = {h.ref for h in handles} | {p.message_id for h in handles for p in h.segments}
    ids |= {h.message.destination for h in handles}
    labels = {(n, k, v) for n, lab, _ in samples(text) for k, v in lab.items()}
    assert labels
    for name, key, label in labels:
        assert label not in ids, (name, key, label)
        assert not re.fullmatch(r"\+?\d{5,}", label), (name, key, label)
        if key != "le":
            assert not re.search(r"\d", label), (name, key, label)  # names, not numbers
    assert {v for _, k, v in labels if k == "kind"} <= {*engine.config.lanes, "other"}
    assert {v for _, k, v in labels if k == "channel"} <= {"a", ""}


# --- the dashboard -------------------------------------------------------------------------------


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs: list[str] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(board["panels"])
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(query["query"])
    return exprs


def queried_names() -> set[str]:
    return {name for expr in dashboard_queries()
            for name in re.findall(r"\bsmsengine_[a-z0-9_]+", expr)}


async def test_every_metric_the_dashboard_queries_is_exposed() -> None:
    async with running(SMSC, tps=400) as (_, engine):
        metrics = EngineMetrics(engine, CollectorRegistry())
        await a_run(engine)
        text = scrape(metrics)
    engine_names = {n for n, _, _ in samples(text)}
    daemon_names = sample_names(DAEMON_METRICS.items())
    queried = queried_names()
    assert len(queried) >= 20
    assert queried <= engine_names | daemon_names, queried - engine_names - daemon_names
    # The daemon's families are its own (none of the engine's), and the board shows them all:
    # throughput, delivery, latency quantiles, binds, AIMD rate, queues, webhook backlog.
    assert not engine_names & daemon_names
    assert {"smsengine_outbox_messages", "smsengine_webhook_backlog",
            "smsengine_webhook_deliveries_total", "smsengine_http_requests_total",
            "smsengine_http_request_seconds_bucket"} <= queried
    for name in ("smsengine_messages_total", "smsengine_parts_total",
                 "smsengine_submit_seconds_bucket", "smsengine_delivery_seconds_bucket",
                 "smsengine_receipts_total", "smsengine_bind_up", "smsengine_window_in_flight",
                 "smsengine_channel_rate", "smsengine_throttled_total", "smsengine_queue_depth"):
        assert name in queried, name
    assert any("histogram_quantile" in expr for expr in dashboard_queries())


def test_the_dashboard_is_an_importable_grafana_board() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["uid"] == "smsengine" and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["channel"]["includeAll"] and variables["channel"]["multi"]
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
    titles = " ".join(p["title"].lower() for p in panels)
    for subject in ("messages", "delivery rate", "latency", "binds", "aimd", "queue",
                    "webhook backlog"):
        assert subject in titles, subject


def test_the_daemon_families_are_those_of_the_issue() -> None:
    # (A daemon's scrape parsed by prometheus-client names its families without _total.)
    assert {re.sub(r"_total$", "", n) for n in DAEMON_METRICS} == {
        "smsengine_outbox_messages", "smsengine_webhook_deliveries", "smsengine_webhook_backlog",
        "smsengine_http_requests", "smsengine_http_request_seconds"}


async def test_extra_families_are_served_with_the_engines() -> None:
    def daemon() -> list[Metric]:
        return [GaugeMetricFamily("smsengine_webhook_backlog", "Webhook events waiting",
                                  value=3)]

    async with running() as (_, engine):
        metrics = EngineMetrics(engine, CollectorRegistry(), extra=daemon)
        text = scrape(metrics)
    assert value(text, "smsengine_webhook_backlog") == 3
    assert value(text, "smsengine_bind_up", channel="a") == 1


# --- the collector's life ------------------------------------------------------------------------


async def test_one_collector_per_engine_and_close() -> None:
    registry = CollectorRegistry()
    async with running() as (_, engine):
        metrics = EngineMetrics(engine, registry)
        with pytest.raises(ValueError, match="counted already"):
            EngineMetrics(engine, CollectorRegistry())
        with pytest.raises(ValueError):  # the same names twice in one registry
            EngineMetrics(another(engine), registry)
        metrics.close()
        metrics.close()
        assert engine.tracker.batch is None
        again = EngineMetrics(engine, registry)
        await finished(await engine.send_many([msg(1)]))
        assert value(scrape(again), "smsengine_messages_total", state="delivered") == 1
        # The closed one counted nothing more.
        assert not [s for f in metrics.collect() if f.name == "smsengine_messages"
                    for s in f.samples]


def another(engine: Engine) -> Engine:
    """Another engine of the same config, not started: nobody counts it yet."""
    return Engine(engine.config)


async def test_counts_go_on_across_a_restart_and_after_stop(tmp_path: Path) -> None:
    async with FakeSMSC(smsc_config()) as smsc:
        engine = Engine(engine_config(smsc.port, channels=[channel(smsc.port)],
                                      store=str(tmp_path / "store.db")))
        metrics = EngineMetrics(engine, CollectorRegistry())  # (before start: it follows)
        for round_ in range(2):
            await engine.start()
            await engine.wait_ready(5)
            await finished(await engine.send_many(msg(i) for i in range(10)))
            await engine.stop()
            text = scrape(metrics)  # stopped: the store is closed, the binds down
            assert value(text, "smsengine_messages_total", state="delivered") == 10 * (round_ + 1)
            assert value(text, "smsengine_bind_up", channel="a") == 0
            assert value(text, "smsengine_binds", channel="a") == 1


async def test_a_scrape_from_another_thread_reads_what_housekeeping_counted() -> None:
    async with running() as (_, engine):
        metrics = EngineMetrics(engine, CollectorRegistry())
        await finished(await engine.send_many(msg(i) for i in range(20)))
        seen: list[float] = []

        async def delivered() -> float:
            text = (await asyncio.to_thread(metrics.exposition))[0].decode()
            seen.append(value(text, "smsengine_messages_total", state="delivered"))
            return seen[-1]

        assert await delivered() <= 20  # (the tick may not have come yet)
        deadline = asyncio.get_running_loop().time() + 3
        while await delivered() < 20:
            assert asyncio.get_running_loop().time() < deadline, seen
            await asyncio.sleep(0.1)


# --- the batch histogram -------------------------------------------------------------------------


@given(st.lists(st.floats(min_value=0.0, max_value=1e5, allow_nan=False), max_size=50),
       st.lists(st.floats(min_value=0.0, max_value=100.0, allow_nan=False), max_size=50))
def test_the_batch_histogram_agrees_with_prometheus_client(
        first: list[float], second: list[float]) -> None:
    registry = CollectorRegistry()
    theirs = Histogram("h", "h", buckets=DELIVERY_BUCKETS, registry=registry)
    ours = _Histogram(DELIVERY_BUCKETS)
    for batch in (first, second):
        for v in batch:
            theirs.observe(v)
        ours.add(list(batch))
    buckets, total = ours.samples()
    expected = {s.labels["le"]: s.value for s in registry.collect().__next__().samples
                if s.name == "h_bucket"}
    assert {le: v for le, v in buckets} == expected
    assert total == pytest.approx(sum(first) + sum(second))


def test_the_histogram_takes_the_clock_offset_off() -> None:
    offset = 1.7e9  # wall clock minus loop clock
    ours = _Histogram(SUBMIT_BUCKETS)
    spans = [0.0004, 0.003, 0.003, 0.07, 0.9, 45.0]
    ours.add([offset + s for s in spans] + [-1.0, -1.0], offset)  # (-1.0: nothing measured)
    buckets, total = ours.samples()
    assert dict(buckets) == {
        "0.001": 1, "0.0025": 1, "0.005": 3, "0.01": 3, "0.025": 3, "0.05": 3, "0.1": 4,
        "0.25": 4, "0.5": 4, "1.0": 5, "2.5": 5, "5.0": 5, "10.0": 5, "30.0": 5, "+Inf": 6}
    assert total == pytest.approx(sum(spans), abs=1e-5)
