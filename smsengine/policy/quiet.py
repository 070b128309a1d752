"""Quiet hours for marketing (issue 19): customers' nights are respected.

A window of local wall-clock time (default 21:00-08:00) in a time zone (default Asia/Shanghai).
Marketing accepted inside it is held, not refused: :meth:`QuietHours.hold_until` says until when
(the window's end, which the daemon shows as the message's scheduled time), or None to send now.
``otp`` and ``notification`` are never held, whatever the configuration says.

The window is wall-clock time, so it follows daylight saving in zones that have it: a window
ending at 02:30 on the night clocks jump from 02:00 to 03:00 ends at 03:00 (the first instant
whose wall time is past 02:30); one ending at 01:30 on the night 01:00-02:00 happens twice ends
at the next 01:30 after ``now`` (the first, or the second if ``now`` is in the repeated hour).
When a change skips every wall time outside the window (a 00:15-00:00 window on the night
Santiago jumps from 00:00 to 01:00), the hold runs on to the next end; when a change sets the
clocks back out of the window (Santiago's 00:00 -> 23:00 under a 23:15-00:00 window), the hold
ends at the change. A window may cross
midnight (21:00-08:00) or not (12:00-14:00); start and end equal is refused (an empty window:
disable quiet hours instead).

Zones come from :mod:`zoneinfo`: the system's tz database, else the ``tzdata`` package.
Sans-I/O past loading the zone, and time is an argument (``now``, seconds since the epoch).
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final

__all__ = ["NEVER_HELD", "QuietHours", "QuietHoursError"]

#: Kinds no configuration may hold: a late code is worth nothing, a late notice misleads.
NEVER_HELD: Final = frozenset({"otp", "notification"})
_HHMM: Final = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class QuietHoursError(ValueError):
    """A quiet-hours setting that cannot be used; ``field`` names it (``start``, ``end``,
    ``zone``, ``kinds``)."""

    retriable = False

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def _clock(field: str, value: str | time) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise QuietHoursError(field, "a wall-clock time, without a zone")
        return value
    m = _HHMM.fullmatch(value.strip())
    if m is None:
        raise QuietHoursError(field, f"{value!r} is not a time of day as HH:MM")
    return time(int(m.group(1)), int(m.group(2)))


class QuietHours:
    """The window ``[start, end)`` of local time in ``zone`` during which ``kinds`` are held.
    ``start`` and ``end`` are :class:`datetime.time` or ``"HH:MM"``."""

    __slots__ = ("_tz", "end", "kinds", "start", "zone")

    def __init__(self, start: str | time = "21:00", end: str | time = "08:00",
                 zone: str = "Asia/Shanghai", *,
                 kinds: Iterable[str] = ("marketing",)) -> None:
        self.start = _clock("start", start)
        self.end = _clock("end", end)
        if self.start == self.end:
            raise QuietHoursError("end", "equals start: an empty window")
        try:
            self._tz: tzinfo = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise QuietHoursError("zone", f"unknown time zone {zone!r} (an IANA name such as "
                                          f"Asia/Shanghai; is tzdata installed?)") from exc
        self.zone = zone
        self.kinds = frozenset(k.lower() for k in kinds)
        held = sorted(self.kinds & NEVER_HELD)
        if held:
            raise QuietHoursError("kinds", f"{held[0]} is never held")

    def __repr__(self) -> str:
        return (f"QuietHours({self.start:%H:%M}-{self.end:%H:%M} {self.zone}, "
                f"kinds={sorted(self.kinds)})")

    def quiet(self, wall: time) -> bool:
        """Whether the local wall-clock time ``wall`` is inside the window."""
        start, end = self.start, self.end
        if start < end:
            return start <= wall < end
        return wall >= start or wall < end

    def hold_until(self, kind: str, now: float) -> float | None:
        """None to send a message of ``kind`` at ``now``; else the instant (seconds since the
        epoch) the window ends, to hold it until."""
        if kind.lower() not in self.kinds:
            return None
        held: float | None = None
        # A second round only when a clock change skipped every wall time outside the window
        # (Santiago jumps 00:00 -> 01:00: a 00:15-00:00 window then lasts until the next
        # midnight); no zone skips two days.
        for _ in range(3):
            local = datetime.fromtimestamp(now, self._tz)
            wall = local.time().replace(tzinfo=None)
            if not self.quiet(wall):
                return held
            day = local.date()
            if self.start > self.end and wall >= self.start:  # before midnight: ends tomorrow
                day += timedelta(days=1)
            held = now = self._leave_early(now, self._instant(day, self.end, now))
        return held

    def _instant(self, day: date, wall: time, after: float) -> float:
        """The first instant later than ``after`` whose wall time in the zone is ``wall`` on
        ``day``, or the first past it when clocks skip it."""
        naive = datetime.combine(day, wall)
        tz = self._tz
        candidates = sorted({naive.replace(tzinfo=tz, fold=f).timestamp() for f in (0, 1)})
        real = [u for u in candidates if self._wall(u) == naive]
        if real:  # one, or two in a repeated hour: the first still to come
            return next((u for u in real if u > after), real[-1])
        # A wall time the clocks skip: the folds give it under the offsets before and after
        # the jump, and the jump is between them. Find the first second past it (bisection:
        # transitions fall on whole seconds).
        lo, hi = int(candidates[0]), int(candidates[-1]) + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self._wall(mid) >= naive:
                hi = mid
            else:
                lo = mid + 1
        return float(lo)

    def _leave_early(self, now: float, end: float) -> float:
        """``end``, or the instant of a clock change before it that sets the wall time back
        out of the window (Santiago's 00:00 -> 23:00 leaves a 23:15-00:00 window at once)."""
        tz = self._tz
        before = datetime.fromtimestamp(now, tz).utcoffset()
        if datetime.fromtimestamp(end, tz).utcoffset() == before:
            return end  # (no zone changes twice within a day)
        lo, hi = math.floor(now) + 1, math.ceil(end)
        while lo < hi:  # the first second under the new offset
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, tz).utcoffset() != before:
                hi = mid
            else:
                lo = mid + 1
        change = float(lo)
        return change if change < end and not self.quiet(self._wall(change).time()) else end

    def _wall(self, instant: float) -> datetime:
        return datetime.fromtimestamp(instant, self._tz).replace(tzinfo=None)
