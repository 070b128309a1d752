"""The priority lanes: strict order, the minimum share that keeps lower lanes moving, peek
against pop, pop_many, push_back, extract and the per-lane capacity."""

from __future__ import annotations

import random
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.engine.lanes import LaneFull, Lanes

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
