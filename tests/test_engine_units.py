"""The engine's sans-I/O parts, with time passed in and no sockets: the token bucket and the AIMD
rate controller, the priority lanes, SMSC message id normalisation, the configuration's
validation and the Message value's."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.engine import (
    Engine,
    EngineConfig,
    EngineConfigError,
    Message,
    MessageHandle,
    MessageRefusedError,
    MessageState,
    engine_config_from_dict,
    load_engine_config,
)
from smsengine.engine.flow import AimdRate, TokenBucket
from smsengine.engine.ids import normalise_id, receipt_id_candidates
from smsengine.engine.lanes import LaneFull, Lanes
from smsengine.smpp import CommandStatus

# --- TokenBucket ------------------------------------------------------------------------------


def test_bucket_starts_full_and_refuses_when_empty() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert all(bucket.take(1, 0.0) for _ in range(5))
    assert not bucket.take(1, 0.0)
    assert bucket.wait_time(1, 0.0) == pytest.approx(0.1)
    assert bucket.wait_time(3, 0.0) == pytest.approx(0.3)


def test_bucket_refills_at_its_rate_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert bucket.take(5, 0.0)
    assert not bucket.take(1, 0.05)  # half a token
    assert bucket.take(1, 0.1)
    assert bucket.wait_time(1, 0.1) == pytest.approx(0.1)
    # A long pause saves up at most the burst.
    assert bucket.wait_time(5, 100.0) == 0.0
    assert bucket.take(5, 100.0)
    assert not bucket.take(1, 100.0)


def test_bucket_counts_segments_and_a_message_bigger_than_the_burst_is_paid_for() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    # A 5-part message waits only for a full bucket, then leaves the bucket 2 in debt.
    assert bucket.wait_time(5, 0.0) == 0.0
    assert bucket.take(5, 0.0)
    assert bucket.tokens == pytest.approx(-2)
    assert bucket.wait_time(1, 0.0) == pytest.approx(0.3)
    assert not bucket.take(1, 0.29)
    assert bucket.take(1, 0.31)


def test_bucket_rate_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0, burst=0, now=0.0)
    assert all(bucket.take(10, 0.0) for _ in range(1000))
    assert bucket.wait_time(10**6, 0.0) == 0.0


def test_bucket_rate_rise_keeps_the_tokens_earned_at_the_old_rate() -> None:
    bucket = TokenBucket(rate=10, burst=10, now=0.0)
    assert bucket.take(10, 0.0)
    bucket.set_rate(20, 0.5)  # 5 tokens earned at 10/s before the change
    assert bucket.take(5, 0.5)
    assert bucket.wait_time(1, 0.5) == pytest.approx(1 / 20)


def test_bucket_rate_cut_shrinks_the_savings_so_no_burst_follows_a_throttle() -> None:
    bucket = TokenBucket(rate=100, burst=100, now=0.0)  # a full bucket: 100 saved
    bucket.set_rate(10, 0.0)  # throttled: cut to a tenth
    assert bucket.tokens == pytest.approx(10)  # a tenth of the savings
    assert bucket.take(10, 0.0)
    assert not bucket.take(1, 0.0)
    assert bucket.wait_time(1, 0.0) == pytest.approx(0.1)  # then the new rate
    bucket.set_rate(1, 0.0)
    assert bucket.tokens <= 1.0


@given(st.floats(1, 1000), st.floats(1, 100),
       st.lists(st.tuples(st.floats(0, 0.5), st.integers(1, 4)), max_size=200))
def test_bucket_never_admits_more_than_burst_plus_rate_times_elapsed(
        rate: float, burst: float, steps: list[tuple[float, int]]) -> None:
    bucket = TokenBucket(rate, burst, now=0.0)
    now = 0.0
    taken = 0.0
    largest = 0
    for dt, n in steps:
        now += dt
        if bucket.take(n, now):
            taken += n
            largest = max(largest, n)
        # Beyond the budget only the debt of a message larger than the bucket, which is paid
        # back before anything else goes.
        assert taken <= max(burst, 1.0) + rate * now + max(0.0, largest - burst) + 1e-6


# --- AimdRate ---------------------------------------------------------------------------------


def test_aimd_cuts_on_throttle_once_per_cooldown() -> None:
    aimd = AimdRate(100, now=0.0, decrease=0.5, cooldown=1.0)
    assert aimd.rate == 100
    assert aimd.on_throttled(10.0)
    assert aimd.rate == 50
    assert aimd.state == "throttled"
    # The rest of the same burst of throttled responses does not cut again.
    for t in (10.1, 10.5, 10.99):
        assert not aimd.on_throttled(t)
    assert aimd.rate == 50
    assert aimd.on_throttled(11.0)
    assert aimd.rate == 25


def test_aimd_never_goes_below_the_floor() -> None:
    aimd = AimdRate(100, now=0.0, floor=10, cooldown=0.0)
    for t in range(1, 20):
        aimd.on_throttled(float(t))
    assert aimd.rate == 10


def test_aimd_recovers_additively_to_the_ceiling() -> None:
    aimd = AimdRate(100, now=0.0, recovery=0.1, cooldown=1.0)
    aimd.on_throttled(0.0)
    assert aimd.rate == 50
    aimd.recover(0.5)  # within the cooldown: no recovery yet
    assert aimd.rate == 50
    aimd.recover(2.0)  # 1.5 s since the last update at 10/s
    assert aimd.rate == pytest.approx(65)
    assert aimd.state == "recovering"
    aimd.recover(3.0)  # linear, not multiplicative: +10 per second
    assert aimd.rate == pytest.approx(75)
    aimd.recover(3.0)  # no time passed: nothing
    assert aimd.rate == pytest.approx(75)
    aimd.recover(1000.0)
    assert aimd.rate == 100  # capped at the ceiling
    assert aimd.state == "open"


def test_aimd_cuts_when_responses_get_slow_but_not_for_one_slow_response() -> None:
    aimd = AimdRate(100, now=0.0, latency_limit=1.0, cooldown=1.0, recovery=0.1)
    for i in range(10):
        assert not aimd.on_response(0.1, i * 0.1)
    assert not aimd.on_response(5.0, 1.0)  # the average moves to 0.59
    assert aimd.rate == 100
    cut = False
    t = 1.0
    while not cut:
        t += 0.1
        cut = aimd.on_response(5.0, t)
        assert t < 3, "a sustained latency above the limit must cut the rate"
    assert aimd.rate == 50
    assert aimd.state == "slow"
    # Fast again: the average falls under the limit and the rate comes back.
    for _ in range(100):
        t += 0.1
        aimd.on_response(0.01, t)
    assert aimd.latency < 1.0
    assert aimd.rate == 100


def test_aimd_first_response_sets_the_latency_average() -> None:
    aimd = AimdRate(100, now=0.0, latency_limit=1.0)
    assert aimd.on_response(3.0, 0.0)  # one response is all we know
    assert aimd.rate == 50


# --- Lanes ------------------------------------------------------------------------------------

LANES = ["otp", "notification", "marketing"]
T = TypeVar("T")


def drain(lanes: Lanes[T]) -> list[T]:
    out: list[T] = []
    while (item := lanes.pop()) is not None:
        out.append(item)
    return out


def test_lanes_strict_priority() -> None:
    lanes: Lanes[str] = Lanes(LANES, min_share=0)
    for i in range(3):
        lanes.push("marketing", f"m{i}")
        lanes.push("notification", f"n{i}")
        lanes.push("otp", f"o{i}")
    assert len(lanes) == 9
    assert lanes.depth() == {"otp": 3, "notification": 3, "marketing": 3}
    assert drain(lanes) == ["o0", "o1", "o2", "n0", "n1", "n2", "m0", "m1", "m2"]
    assert len(lanes) == 0
    assert lanes.pop() is None
    assert lanes.peek() is None


def test_lanes_a_new_otp_overtakes_a_queued_campaign() -> None:
    lanes: Lanes[str] = Lanes(LANES, min_share=0.05)
    for i in range(1000):
        lanes.push("marketing", f"m{i}")
    assert [lanes.pop() for _ in range(3)] == ["m0", "m1", "m2"]
    lanes.push("otp", "code")
    assert lanes.pop() == "code"
    assert lanes.pop() == "m3"


def test_lanes_unknown_kind_goes_to_the_lowest_lane() -> None:
    lanes: Lanes[str] = Lanes(LANES)
    assert lanes.lane_of("newsletter") == "marketing"
    lanes.push("newsletter", "x")
    assert lanes.depth()["marketing"] == 1


def test_lanes_min_share_keeps_lower_lanes_moving() -> None:
    lanes: Lanes[str] = Lanes(LANES, min_share=0.25)
    for i in range(200):
        lanes.push("otp", f"o{i}")
        lanes.push("marketing", f"m{i}")
    picks = [lanes.pop() for _ in range(100)]
    marketing = sum(p is not None and p.startswith("m") for p in picks)
    # 0.25 credit per pick it did not get: one pick in five.
    assert marketing == 20
    # Without a minimum share the campaign waits for every code.
    strict: Lanes[str] = Lanes(LANES, min_share=0)
    for i in range(200):
        strict.push("otp", f"o{i}")
        strict.push("marketing", f"m{i}")
    assert all(p is not None and p.startswith("o") for p in (strict.pop() for _ in range(100)))


def test_lanes_min_share_with_three_busy_lanes_serves_every_lane() -> None:
    lanes: Lanes[str] = Lanes(LANES, min_share=0.1)
    for i in range(1000):
        for lane in LANES:
            lanes.push(lane, f"{lane[0]}{i}")
    picks = [lanes.pop() or "" for _ in range(1000)]
    counts = {lane: sum(p.startswith(lane[0]) for p in picks) for lane in LANES}
    assert counts["notification"] >= 80
    assert counts["marketing"] >= 80
    assert counts["otp"] > counts["notification"]
    # Each lane keeps its own order.
    for lane in LANES:
        mine = [int(p[1:]) for p in picks if p.startswith(lane[0])]
        assert mine == sorted(mine)


@given(st.lists(st.tuples(st.sampled_from([*LANES, "pop"]), st.booleans()), max_size=300),
       st.sampled_from([0.0, 0.05, 0.3, 0.5]))
def test_lanes_peek_is_what_pop_returns(ops: list[tuple[str, bool]], share: float) -> None:
    """A dispatcher peeks to size the token wait, then pops: both must be the same item, or
    it sends one message twice and loses another."""
    lanes: Lanes[int] = Lanes(LANES, min_share=share)
    n = 0
    for op, front in ops:
        if op == "pop":
            expected = lanes.peek()
            assert lanes.pop() is expected if expected is not None else lanes.pop() is None
        else:
            n += 1
            lanes.push(op, n, front=front)
    seen = []
    while (expected := lanes.peek()) is not None:
        item = lanes.pop()
        assert item == expected
        seen.append(item)
    assert len(set(seen)) == len(seen)


@settings(deadline=None)
@given(st.lists(st.tuples(st.sampled_from([*LANES, "take"]), st.integers(0, 7)), max_size=200),
       st.sampled_from([0.0, 0.05, 0.3, 0.5]))
def test_lanes_pop_many_is_n_pops(ops: list[tuple[str, int]], share: float) -> None:
    """pop_many(n) gives what n pops would, and leaves the lanes as n pops would."""
    many: Lanes[int] = Lanes(LANES, min_share=share)
    one: Lanes[int] = Lanes(LANES, min_share=share)
    for i, (op, n) in enumerate(ops):
        if op == "take":
            expected = [x for x in (one.pop() for _ in range(n)) if x is not None]
            assert many.pop_many(n) == expected
        else:
            many.push(op, i)
            one.push(op, i)
        assert len(many) == len(one)
    assert drain(many) == drain(one)


def test_lanes_push_back_restores_the_heads_in_order() -> None:
    lanes: Lanes[str] = Lanes(LANES, capacity=3)
    for item in ("m1", "m2", "m3"):
        lanes.push("marketing", item)
    lanes.push("otp", "o1")
    taken = lanes.pop_many(3)
    assert taken == ["o1", "m1", "m2"]
    # Not sent after all: back in front, each in its own lane, even past the capacity.
    lanes.push("marketing", "m4")
    lanes.push_back([("otp", "o1"), ("marketing", "m1"), ("marketing", "m2")])
    assert len(lanes) == 5
    assert drain(lanes) == ["o1", "m1", "m2", "m3", "m4"]


def test_lane_order_is_deterministic_under_random_load() -> None:
    """Every item pushed comes out exactly once, whatever the interleaving."""
    rng = random.Random(7)
    lanes: Lanes[int] = Lanes(LANES, min_share=0.05)
    pushed: list[int] = []
    popped: list[int] = []
    for n in range(5000):
        if rng.random() < 0.6:
            lanes.push(rng.choice(LANES), n)
            pushed.append(n)
        elif (item := lanes.pop()) is not None:
            popped.append(item)
    popped.extend(drain(lanes))
    assert sorted(popped) == pushed


def test_lanes_capacity_per_lane() -> None:
    lanes: Lanes[str] = Lanes(LANES, capacity=2)
    lanes.push("marketing", "m1")
    lanes.push("marketing", "m2")
    with pytest.raises(LaneFull, match="marketing"):
        lanes.push("marketing", "m3")
    lanes.push("otp", "o1")  # another lane has its own room
    assert len(lanes) == 3
    # A retry goes back to the head even past the cap: it was already admitted once.
    lanes.push("marketing", "retry", front=True)
    assert lanes.depth()["marketing"] == 3
    assert drain(lanes) == ["o1", "retry", "m1", "m2"]


def test_lanes_front_push_and_drain() -> None:
    lanes: Lanes[str] = Lanes(LANES)
    lanes.push("notification", "n1")
    lanes.push("notification", "n2")
    lanes.push("notification", "n0", front=True)
    lanes.push("otp", "o1")
    assert lanes.peek() == "o1"
    assert lanes.drain() == ["o1", "n0", "n1", "n2"]
    assert len(lanes) == 0
    assert lanes.pop() is None


def test_lanes_need_a_name() -> None:
    with pytest.raises(ValueError):
        Lanes([])


# --- message ids ------------------------------------------------------------------------------


def test_normalise_id_strips_zeros_case_and_padding() -> None:
    assert normalise_id("00ABCdef") == "abcdef"
    assert normalise_id(" 5F3A\0") == "5f3a"
    assert normalise_id("000") == "0"
    assert normalise_id("0042", "decimal") == "42"
    assert normalise_id("2a", "hex") == normalise_id("002A", "hex") == "42"
    assert normalise_id("Msg-01", "text") == "msg-01"


@pytest.mark.parametrize(("submitted", "receipt"), [
    ("5F3A", "24378"),            # hex id, receipt in decimal
    ("5f3a", "0000024378"),       # ... zero-padded to the Appendix B ten digits
    ("1234567890", "499602D2"),   # decimal id, receipt in hex
    ("1234567890", "499602d2"),
    ("305419896", "12345678"),    # decimal id whose hex form is all digits
    ("0000012345", "12345"),      # leading zeros
    ("ABCDEF", "abcdef"),         # case
    ("abcdef", "00ABCDEF"),
    ("8b2c1f0e-4a21-4b3c-a1b2-0123456789ab", "8B2C1F0E-4A21-4B3C-A1B2-0123456789AB"),
])
def test_receipt_finds_its_submit_in_auto_style(submitted: str, receipt: str) -> None:
    assert normalise_id(submitted) in receipt_id_candidates(receipt)


@pytest.mark.parametrize(("style", "submitted", "receipt"), [
    ("decimal", "0042", "42"),
    ("hex", "2A", "002a"),
    ("text", "AbC", "abc"),
])
def test_declared_style_gives_one_candidate(style: str, submitted: str, receipt: str) -> None:
    candidates = receipt_id_candidates(receipt, style)  # type: ignore[arg-type]
    assert candidates == (normalise_id(submitted, style),)  # type: ignore[arg-type]


@given(st.integers(0, 2**64), st.booleans(), st.integers(0, 4))
def test_receipt_id_in_either_base_matches_in_auto_style(n: int, upper: bool, zeros: int) -> None:
    hex_id = f"{n:X}" if upper else f"{n:x}"
    dec_id = str(n)
    pad = "0" * zeros
    assert normalise_id(hex_id) in receipt_id_candidates(pad + dec_id)
    assert normalise_id(dec_id) in receipt_id_candidates(pad + hex_id)
    assert normalise_id(pad + hex_id) in receipt_id_candidates(hex_id.swapcase())
    assert normalise_id(dec_id) in receipt_id_candidates(pad + dec_id)


# --- configuration ----------------------------------------------------------------------------


def channel(**fields: object) -> dict[str, object]:
    return {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "shop", **fields}


def config_error(data: dict[str, object]) -> EngineConfigError:
    with pytest.raises(EngineConfigError) as info:
        engine_config_from_dict(data)
    return info.value


def test_config_defaults() -> None:
    cfg = engine_config_from_dict({"channels": [channel()]})
    assert isinstance(cfg, EngineConfig)
    assert cfg.lanes == ["otp", "notification", "marketing"]
    assert cfg.channels[0].tps == 0
    assert cfg.channels[0].resend_unknown is False
    assert "TD" in cfg.optout.keywords and "退订" in cfg.optout.keywords
    assert cfg.optout.suppressed_kinds == ["marketing"]
    assert cfg.store == ""


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"channels": [channel(port=70000)]}, "channels[0].port", "TCP port"),
    ({"channels": [channel(port=0)]}, "channels[0].port", "TCP port"),
    ({"channels": [channel(tps=-1)]}, "channels[0].tps", ">= 0"),
    ({"channels": [channel(tps=float("nan"))]}, "channels[0].tps", ">= 0"),
    ({"channels": [channel(tps="fast")]}, "channels[0].tps", "float"),
    ({"channels": [channel(burst=-5)]}, "channels[0].burst", ">= 0"),
    ({"channels": [channel(window=-1)]}, "channels[0].window", ">= 1"),
    ({"channels": [channel(response_timeout=0)]}, "channels[0].response_timeout", "> 0"),
    ({"channels": [channel(transceivers=0)]}, "channels[0].transceivers", "at least one"),
    ({"channels": [channel(receivers=-1)]}, "channels[0].receivers", ">= 0"),
    ({"channels": [channel(encodings=["gb18030"])]}, "channels[0].encodings", "CMPP"),
    ({"channels": [channel(protocol="cmpp", system_id="9000011")]}, "channels[0].system_id",
     "6 ASCII"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", encodings=["gsm7"])]},
     "channels[0].encodings", "not gsm7"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", split="sar")]},
     "channels[0].split", "udh8 or udh16"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", receivers=1)]},
     "channels[0].transmitters", "transceivers"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", service_id="S" * 11)]},
     "channels[0].service_id", "10"),
    ({"channels": [channel(protocol="cmpp", system_id="900001", fee_user_type=4)]},
     "channels[0].fee_user_type", "0-3"),
    ({"channels": [channel(encodings=["ebcdic"])]}, "channels[0].encodings[0]", "ebcdic"),
    ({"channels": [channel(split="zip")]}, "channels[0].split", "zip"),
    ({"channels": [channel(system_id="x" * 16)]}, "channels[0].system_id", "15"),
    ({"channels": [channel(default_source="S" * 21)]}, "channels[0].default_source", "20"),
    ({"channels": [channel(colour="red")]}, "channels[0]", "colour"),
    ({"channels": [channel(protocol="ucp")]}, "channels[0].protocol", "ucp"),
    ({"channels": [channel(), channel(port=2776)]}, "channels[1].name", "unique"),
    ({"channels": []}, "channels", "at least one"),
    ({"channels": [channel()], "routes": [{"channels": ["b"]}]}, "routes[0].channels", "'b'"),
    ({"channels": [channel()], "routes": [{"channels": []}]}, "routes[0].channels", "at least"),
    ({"channels": [channel()], "routes": [{"channels": ["a"], "pattern": "86(["}]},
     "routes[0].pattern", "regular expression"),
    ({"channels": [channel()], "routes": [{"channels": ["a"], "weights": [1, 2]}]},
     "routes[0].weights", "one weight per channel"),
    ({"channels": [channel()], "routes": [{"channels": ["a"], "mode": "random"}]},
     "routes[0].mode", "random"),
    ({"channels": [channel()], "lanes": ["otp", "otp"]}, "lanes", "distinct"),
    ({"channels": [channel()], "lane_min_share": 0.9}, "lane_min_share", "0.5"),
    ({"channels": [channel()], "optout": {"keywords": "STOP"}}, "optout.keywords", "array"),
])
def test_config_errors_name_the_field(data: dict[str, object], field: str, words: str) -> None:
    error = config_error(data)
    assert error.field == field
    assert words in str(error)
    assert error.retriable is False
    assert str(error).startswith(f"{field}: ")
    assert str(error).count(f"{field}:") == 1, "the field is named once"


def test_load_engine_config_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "engine.toml"
    path.write_text("""
        store = "engine.db"
        lanes = ["otp", "bulk"]

        [[channels]]
        name = "cmcc"
        host = "127.0.0.1"
        port = 2775
        system_id = "shop"
        password = "secret"
        tps = 200

        [[channels]]
        name = "backup"
        host = "127.0.0.1"
        port = 2776
        system_id = "shop2"

        [[routes]]
        prefixes = ["86"]
        channels = ["cmcc", "backup"]
        mode = "failover"

        [optout]
        keywords = ["QUIT"]
    """)
    cfg = load_engine_config(path)
    assert [c.name for c in cfg.channels] == ["cmcc", "backup"]
    assert cfg.channels[0].tps == 200
    assert cfg.routes[0].channels == ["cmcc", "backup"]
    assert cfg.optout.keywords == ["QUIT"]
    assert cfg.lanes == ["otp", "bulk"]
    assert cfg.store == "engine.db"


def test_load_engine_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[channels]]\nname = "a"\nhost = "h"\nport = 99999\nsystem_id = "s"\n')
    with pytest.raises(EngineConfigError) as info:
        load_engine_config(path)
    assert info.value.field == "channels[0].port"
    assert str(path) in str(info.value)
    path.write_text("channels = [")
    with pytest.raises(EngineConfigError, match="not valid TOML") as info:
        load_engine_config(path)
    assert info.value.field == str(path)


# --- Message ----------------------------------------------------------------------------------


def test_message_defaults() -> None:
    msg = Message(destination="8613800138000", text="hello")
    assert msg.kind == "notification"
    assert msg.registered_delivery is True
    assert msg.source is None and msg.reference is None
    with pytest.raises(AttributeError):
        msg.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("fields", "words"), [
    ({"destination": "8613800138000"}, "exactly one of text or data"),
    ({"destination": "8613800138000", "text": "a", "data": b"a"}, "exactly one of text or data"),
    ({"destination": "", "text": "a"}, "destination"),
    ({"destination": "1" * 21, "text": "a"}, "destination"),
    ({"destination": "8613800138000", "text": "a", "validity": 0}, "validity"),
    ({"destination": "8613800138000", "text": "a", "validity": -1}, "validity"),
    ({"destination": "8613800138000", "text": "a", "validity": 8 * 86400}, "validity"),
])
def test_message_validation(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Message(**fields)  # type: ignore[arg-type]


def test_message_binary_and_validity_limits() -> None:
    assert Message(destination="1", data=b"\x00\x01").data == b"\x00\x01"
    assert Message(destination="1" * 20, text="a", validity=7 * 86400).validity == 7 * 86400


def test_refused_error_carries_status_and_retriable() -> None:
    error = MessageRefusedError("opted out", status=CommandStatus.ESME_RX_R_APPN)
    assert error.status == CommandStatus.ESME_RX_R_APPN
    assert error.retriable is False
    busy = MessageRefusedError("queue full", status=CommandStatus.ESME_RMSGQFUL, retriable=True)
    assert busy.retriable is True
    assert MessageRefusedError("x").status == CommandStatus.ESME_RSUBMITFAIL


def test_window_and_encodings_default_per_protocol() -> None:
    smpp = engine_config_from_dict({"channels": [channel()]}).channels[0]
    assert (smpp.window_size, smpp.encoding_names) == (64, ["gsm7", "ucs2"])
    cmpp = engine_config_from_dict(
        {"channels": [channel(protocol="cmpp", system_id="900001")]}).channels[0]
    assert (cmpp.window_size, cmpp.encoding_names) == (16, ["ascii", "ucs2"])
    chosen = engine_config_from_dict({"channels": [channel(
        protocol="cmpp", system_id="900001", window=32, encodings=["gb18030", "ucs2"])]})
    assert chosen.channels[0].window_size == 32
    assert chosen.channels[0].encoding_names == ["gb18030", "ucs2"]


@given(st.lists(st.tuples(st.sampled_from(LANES), st.integers(0, 9)), max_size=60))
def test_lanes_extract_takes_the_picked_items_and_keeps_the_rest_in_order(
        items: list[tuple[str, int]]) -> None:
    lanes: Lanes[tuple[str, int]] = Lanes(LANES, min_share=0)
    for item in items:
        lanes.push(item[0], item)
    taken = lanes.extract(lambda item: item[1] % 3 == 0)
    by_lane = [i for lane in LANES for i in items if i[0] == lane]  # highest lane first
    assert taken == [i for i in by_lane if i[1] % 3 == 0]
    assert len(lanes) == len(items) - len(taken)
    assert drain(lanes) == [i for i in by_lane if i[1] % 3 != 0]


async def test_reroute_keeps_what_the_other_channel_cannot_take_in_order() -> None:
    # a (SMPP) and b (CMPP) on dead ports: nothing binds, so everything stays queued on a.
    config = engine_config_from_dict({
        "channels": [channel(name="a", port=9), channel(name="b", port=9, protocol="cmpp",
                                                         system_id="900001")],
        "routes": [{"channels": ["a", "b"]}],
    })
    too_wide_for_ucs2 = "a" * 38000 + "€"  # 249 GSM 7-bit parts on a; 568 UCS2 parts on b
    async with Engine(config) as engine:
        handles = [engine.submit(Message(destination=f"8613800000{i}",
                                         text=too_wide_for_ucs2 if i in (1, 3) else f"Code {i}"))
                   for i in range(5)]
        a, b = engine.channels["a"], engine.channels["b"]
        assert [h.channel for h in handles] == ["a"] * 5
        engine._reroute(a)  # what a refused login (an alarm) on a does
        assert [h.channel for h in handles] == ["b", "a", "b", "a", "b"]
        assert b.lanes.drain() == [handles[0], handles[2], handles[4]]  # in order
        assert a.lanes.drain() == [handles[1], handles[3]]  # kept, in order: nothing lost
        assert all(h.state is MessageState.QUEUED for h in handles)
        assert len(handles[0].segments) == 1 and len(handles[1].segments) == 249


def test_a_stored_error_lets_go_of_its_traceback_without_changing_what_it_came_from() -> None:
    # A handle is outside the cyclic collector: the error it keeps must not lead, through a
    # traceback's frames, back to it. What the error says stays; the exception it was raised
    # from (which may still be in flight in the caller) keeps its own traceback.
    inner = KeyError("inner")
    try:
        try:
            raise inner
        except KeyError as exc:
            raise MessageRefusedError("refused", status=CommandStatus.ESME_RINVDSTADR,
                                      retriable=True) from exc
    except MessageRefusedError as exc:
        error = exc
    assert error.__traceback__ is not None and error.__cause__ is inner
    handle = MessageHandle("ref-1", Message(destination="8613800000000", text="x"))
    handle._finish(MessageState.FAILED, error)
    assert handle.error is error
    assert (error.__traceback__, error.__cause__, error.__context__) == (None, None, None)
    assert inner.__traceback__ is not None
    assert handle.status == CommandStatus.ESME_RINVDSTADR and error.retriable
    assert str(error) == "refused"
