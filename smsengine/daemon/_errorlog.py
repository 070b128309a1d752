"""A failure that repeats many times a second logged at a bearable rate.

A commit on a full disk fails at every loop tick that has something to write (26 ERROR lines a
second were seen in the chaos runner's disk_full): the first failure is logged at once, then
one summary at most every ``interval`` seconds with how many failed since, and one line when it
works again. Counting stays with the caller (the metric is exact); this only decides what is
logged. Time is an argument.
"""

from __future__ import annotations

import logging

__all__ = ["RepeatedFailure"]


class RepeatedFailure:
    """See the module docstring. ``what`` names the failing action ("outbox commit")."""

    def __init__(self, log: logging.Logger, what: str, interval: float = 10.0) -> None:
        self.log = log
        self.what = what
        self.interval = interval
        self.since: float | None = None  # the first failure of this run of them
        self.failures = 0  # in this run of them
        self._logged_at = 0.0
        self._unlogged = 0
        self._last = ""

    def failed(self, now: float, detail: str) -> None:
        self.failures += 1
        self._last = detail
        if self.since is None:
            self.since = self._logged_at = now
            self.log.error("%s failed: %s (repeats summed up every %g s)", self.what, detail,
                           self.interval)
            return
        self._unlogged += 1
        if now - self._logged_at >= self.interval:
            self.log.error("%s failed %d more times in %.0f s, %d since %.0f s ago; last: %s",
                           self.what, self._unlogged, now - self._logged_at, self.failures,
                           now - self.since, detail)
            self._logged_at = now
            self._unlogged = 0

    def succeeded(self, now: float) -> None:
        if self.since is None:
            return
        self.log.warning("%s works again after %d failures in %.1f s (%d not logged one by "
                         "one); last: %s", self.what, self.failures, now - self.since,
                         self._unlogged, self._last)
        self.since = None
        self.failures = self._unlogged = 0
