"""Number-prefix tables kept in one data file: which prefixes belong to which carrier.

A table is TOML (``examples/cn_prefixes.toml`` is China's)::

    country_code = "86"          # optional: the prefixes below are national

    [carriers.china_mobile]
    name = "China Mobile"        # optional, for people
    prefixes = ["135", "136", "1703"]

A route takes one carrier's prefixes with ``prefix_file`` and ``carrier`` (see
:class:`~smsengine.engine.RouteConfig`); the loaders (``load_engine_config``, relative to the
config file's directory, and ``engine_config_from_dict``, relative to ``base`` or the working
directory) read the table into the route's prefixes:

- with a country code, each national prefix ``p`` becomes ``86p`` in ``prefixes`` (matched
  against the destination without its "+", so "+86139…" and "86139…") and ``p`` in
  ``national_prefixes``, matched only by a destination written *without* "+" ("139…"). A number
  written with "+" is international: "+13105551234" is Los Angeles (+1 310), not China Unicom
  131, while "13105551234" written bare is taken as national. So an engine that routes national
  Chinese numbers must be given foreign numbers with their "+".
- without one, the prefixes go to ``prefixes`` as they are.

No prefix of a table may start another (listed twice, or "134" and "1349" for two carriers):
the routes built from one table then match the same numbers whatever their order.

In Python, without a TOML config: ``RouteConfig(prefixes=t.prefixes("china_mobile"),
national_prefixes=t.national_prefixes("china_mobile"), channels=[...])`` with
``t = load_prefix_table(path)``.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import msgspec

__all__ = ["PrefixTable", "PrefixTableError", "load_prefix_table"]


class PrefixTableError(ValueError):
    """The table cannot be read or is wrong; the message names the file and what."""

    retriable = False


class _Carrier(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    prefixes: list[str]
    name: str = ""


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    carriers: dict[str, _Carrier]
    country_code: str = ""


class PrefixTable:
    """A loaded table: each carrier's national prefixes and the country code."""

    def __init__(self, carriers: dict[str, list[str]], country_code: str = "") -> None:
        self.carriers = carriers
        self.country_code = country_code

    def prefixes(self, carrier: str) -> list[str]:
        """What a route's ``prefixes`` gets: with the country code when there is one."""
        return [self.country_code + p for p in self.carriers[carrier]]

    def national_prefixes(self, carrier: str) -> list[str]:
        """What a route's ``national_prefixes`` gets: the table's as written, if it is national."""
        return list(self.carriers[carrier]) if self.country_code else []


def load_prefix_table(path: str | Path) -> PrefixTable:
    """Read and check a table (see the module docstring); PrefixTableError names what is
    wrong."""
    where = str(path)
    try:
        table = msgspec.toml.decode(Path(path).read_bytes(), type=_Table)
    except OSError as exc:
        raise PrefixTableError(f"{where}: cannot be read ({exc.strerror})") from None
    except (msgspec.DecodeError, RecursionError) as exc:  # (ValidationError is a DecodeError)
        raise PrefixTableError(f"{where}: not a prefix table: {exc}") from None
    if not _digits(table.country_code, empty=True):
        raise PrefixTableError(f"{where}: country_code must be digits, got "
                               f"{table.country_code!r}")
    if not table.carriers:
        raise PrefixTableError(f"{where}: no [carriers.*] tables")
    owner: dict[str, str] = {}
    for carrier, entry in table.carriers.items():
        if not entry.prefixes:
            raise PrefixTableError(f"{where}: carriers.{carrier}.prefixes is empty")
        for prefix in entry.prefixes:
            if not _digits(prefix):
                raise PrefixTableError(f"{where}: carriers.{carrier}.prefixes: {prefix!r} is "
                                       "not digits")
            if prefix in owner:
                raise PrefixTableError(f"{where}: {prefix} is listed twice ({owner[prefix]}, "
                                       f"{carrier})")
            owner[prefix] = carrier
    # A prefix inside another sorts right after it (or after others that start the same way).
    ordered = sorted(owner)
    for shorter, longer in pairwise(ordered):
        if longer.startswith(shorter):
            raise PrefixTableError(f"{where}: {longer} ({owner[longer]}) starts with {shorter} "
                                   f"({owner[shorter]}); split {shorter} into the longer "
                                   "prefixes it stands for")
    return PrefixTable({c: list(e.prefixes) for c, e in table.carriers.items()},
                       table.country_code)


def _digits(text: str, *, empty: bool = False) -> bool:
    return (not text and empty) or (text.isascii() and text.isdigit())
