"""Quiet hours: the default window in Shanghai, windows across midnight or not, kinds never
held, configuration errors, daylight saving (a skipped and a repeated end), and a hypothesis
check over several zones that a hold ends at the first instant out of the window."""

from __future__ import annotations

import functools
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.policy import QuietHours, QuietHoursError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def at(zone: ZoneInfo, *args: int, fold: int = 0) -> float:
    return datetime(*args, tzinfo=zone, fold=fold).timestamp()  # type: ignore[misc]


def local(zone: ZoneInfo, instant: float | None) -> datetime | None:
    return None if instant is None else datetime.fromtimestamp(instant, zone)


@pytest.mark.parametrize(("hour", "minute", "until"), [
    (20, 59, None), (21, 0, (2024, 6, 2, 8, 0)), (23, 30, (2024, 6, 2, 8, 0)),
    (0, 0, (2024, 6, 1, 8, 0)), (7, 59, (2024, 6, 1, 8, 0)), (8, 0, None), (12, 0, None),
])  # fmt: skip
def test_marketing_is_held_from_21_to_8_in_shanghai_by_default(
        hour: int, minute: int, until: tuple[int, ...] | None) -> None:
    quiet = QuietHours()
    held = quiet.hold_until("marketing", at(SHANGHAI, 2024, 6, 1, hour, minute))
    expected = None if until is None else at(SHANGHAI, *until)
    assert held == expected


def test_otp_and_notifications_are_never_held() -> None:
    quiet = QuietHours()
    night = at(SHANGHAI, 2024, 6, 1, 23, 0)
    assert quiet.hold_until("otp", night) is None
    assert quiet.hold_until("notification", night) is None
    assert quiet.hold_until("MARKETING", night) is not None
    for kinds in (["marketing", "otp"], ["Notification"]):
        with pytest.raises(QuietHoursError, match="never held") as info:
            QuietHours(kinds=kinds)
        assert info.value.field == "kinds"
    promo = QuietHours(kinds=["promo"])
    assert promo.hold_until("promo", night) is not None
    assert promo.hold_until("marketing", night) is None


def test_a_window_that_does_not_cross_midnight() -> None:
    lunch = QuietHours("12:00", time(14, 0), "Asia/Shanghai")
    assert lunch.hold_until("marketing", at(SHANGHAI, 2024, 6, 1, 11, 59)) is None
    assert lunch.hold_until("marketing", at(SHANGHAI, 2024, 6, 1, 12, 0)) == \
        at(SHANGHAI, 2024, 6, 1, 14, 0)
    assert lunch.hold_until("marketing", at(SHANGHAI, 2024, 6, 1, 14, 0)) is None
    assert "12:00-14:00 Asia/Shanghai" in repr(lunch)


@pytest.mark.parametrize(("args", "field"), [
    (("25:00", "08:00"), "start"), (("21:00", "8"), "end"), (("21:00", "21:00"), "end"),
    (("21:00", "08:00", "Mars/Olympus"), "zone"), (("21:00", "08:00", "../etc"), "zone"),
])  # fmt: skip
def test_bad_settings_are_named(args: tuple[str, ...], field: str) -> None:
    with pytest.raises(QuietHoursError) as info:
        QuietHours(*args)
    assert info.value.field == field


def test_an_end_the_clocks_skip_ends_when_they_jump() -> None:
    # 2024-03-10 in New York: 02:00 EST becomes 03:00 EDT; 02:30 never happens.
    quiet = QuietHours("21:00", "02:30", "America/New_York")
    held = quiet.hold_until("marketing", at(NEW_YORK, 2024, 3, 10, 1, 0))
    assert local(NEW_YORK, held) == datetime(2024, 3, 10, 3, 0, tzinfo=NEW_YORK)
    assert held == datetime(2024, 3, 10, 7, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    # A window starting in the gap: at 03:10 EDT the wall time is in 02:30-06:00.
    early = QuietHours("02:30", "06:00", "America/New_York")
    assert early.hold_until("marketing", at(NEW_YORK, 2024, 3, 10, 3, 10)) == \
        at(NEW_YORK, 2024, 3, 10, 6, 0)


def test_an_end_the_clocks_repeat_ends_at_the_next_one() -> None:
    # 2024-11-03 in New York: 01:00-02:00 happens twice (EDT, then EST).
    quiet = QuietHours("21:00", "01:30", "America/New_York")
    first = quiet.hold_until("marketing", at(NEW_YORK, 2024, 11, 3, 1, 10))
    assert first == at(NEW_YORK, 2024, 11, 3, 1, 30, fold=0)
    second = quiet.hold_until("marketing", at(NEW_YORK, 2024, 11, 3, 1, 10, fold=1))
    assert second == at(NEW_YORK, 2024, 11, 3, 1, 30, fold=1)
    assert second - first == 3600
    assert quiet.hold_until("marketing", at(NEW_YORK, 2024, 11, 3, 1, 40)) is None


def test_a_change_that_skips_or_repeats_the_way_out_of_the_window() -> None:
    santiago = ZoneInfo("America/Santiago")
    # 2023-09-03: 00:00 becomes 01:00, so 00:00-00:15 never happens: held to the next midnight.
    nearly_all_day = QuietHours("00:15", "00:00", "America/Santiago")
    assert nearly_all_day.hold_until("marketing", at(santiago, 2023, 9, 2, 23, 59)) == \
        at(santiago, 2023, 9, 4, 0, 0)
    # 2023-04-02: 00:00 becomes 23:00 again: the repeated 23:00-23:15 is outside the window.
    late = QuietHours("23:15", "00:00", "America/Santiago")
    held = late.hold_until("marketing", at(santiago, 2023, 4, 1, 23, 59))
    assert held == at(santiago, 2023, 4, 1, 23, 0, fold=1)
    assert late.hold_until("marketing", held) is None  # type: ignore[arg-type]


def test_a_long_night_across_the_change_is_an_hour_longer_or_shorter() -> None:
    quiet = QuietHours("21:00", "08:00", "America/New_York")
    spring = at(NEW_YORK, 2024, 3, 9, 21, 0)
    autumn = at(NEW_YORK, 2024, 11, 2, 21, 0)
    assert quiet.hold_until("marketing", spring) == spring + 10 * 3600  # type: ignore[operator]
    assert quiet.hold_until("marketing", autumn) == autumn + 12 * 3600  # type: ignore[operator]


_ZONES = st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London",
                          "Australia/Lord_Howe", "America/Santiago"])
_CLOCK = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))


@settings(max_examples=300, deadline=None)
@given(_ZONES, _CLOCK, _CLOCK, st.floats(946_684_800, 2_208_988_800))
def test_a_hold_ends_at_the_first_instant_out_of_the_window(zone: str, start: time, end: time,
                                                             now: float) -> None:
    if start == end:
        return
    quiet = QuietHours(start, end, zone)
    tz = ZoneInfo(zone)

    def wall(instant: float) -> time:
        return datetime.fromtimestamp(instant, tz).time()

    held = quiet.hold_until("marketing", now)
    if held is None:
        assert not quiet.quiet(wall(now))
        return
    assert quiet.quiet(wall(now))
    assert now < held <= now + 2 * 86400  # two days: a change skipped the whole way out
    assert not quiet.quiet(wall(held))
    assert quiet.quiet(wall(held - 1))
    step = timedelta(minutes=7).total_seconds()
    probe = now + step
    while probe < held - 1:  # quiet all the way
        assert quiet.quiet(wall(probe)), datetime.fromtimestamp(probe, tz)
        probe += step


@functools.cache
def _transitions(zone: str) -> tuple[float, ...]:
    """The instants in 2023-2025 where the zone's offset changes (scanned a quarter hour at a
    time: Lord Howe moves by 30 minutes)."""
    tz = ZoneInfo(zone)
    out = []
    t = datetime(2023, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp()
    last = datetime.fromtimestamp(t, tz).utcoffset()
    while t < datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp():
        t += 900
        offset = datetime.fromtimestamp(t, tz).utcoffset()
        if offset != last:
            out.append(t)
            last = offset
    return tuple(out)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe",
                        "America/Santiago"]), _CLOCK, _CLOCK, st.data())
def test_holds_near_a_daylight_saving_change(zone: str, start: time, end: time,
                                             data: st.DataObject) -> None:
    change = data.draw(st.sampled_from(_transitions(zone)))
    now = change + data.draw(st.floats(-30 * 3600, 6 * 3600))
    test_a_hold_ends_at_the_first_instant_out_of_the_window.hypothesis.inner_test(  # type: ignore[attr-defined]
        zone, start, end, now)
