"""Campaigns (issue 19): one template sent to many recipients, each with its own params.

- :class:`CsvRows` cuts a CSV upload into rows as its bytes arrive (sans-I/O: ``feed`` a chunk,
  get the complete rows; nothing holds more than a line beyond the chunk given), each with its
  line number, so that a bad row is refused by line and the rest go. The first line is the
  header: ``to`` and one column per template variable. A field may be quoted (RFC 4180) but
  may not hold a line break.
- :class:`CampaignStore` keeps each campaign (table ``campaign`` in the outbox's file): its
  template and version, state (running, paused, cancelled), ``send_at``, rate cap, and the
  counts decided at ingest (rows read, refused, duplicates, suppressed, capped) with the
  first refusals. Its messages are rows of the outbox with the campaign's id (partial index
  ``outbox_campaign``), so progress is a count over that index, never a scan of the outbox.

The gateway ingests and runs campaigns; this module does no I/O past its table.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Final, Literal

import msgspec

from ..engine.sqlite import SharedFileStore

__all__ = ["MAX_LINE", "Campaign", "CampaignStore", "CsvError", "CsvRows", "RowError"]

MAX_LINE: Final = 65_536  # bytes of one CSV line
MAX_REFUSALS: Final = 1000  # refusals kept per campaign (the counts go on)

CampaignState = Literal["running", "paused", "cancelled"]


class CsvError(ValueError):
    """The upload cannot be read at all (no header, no ``to`` column, a line too long)."""

    retriable = False

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class RowError(msgspec.Struct, frozen=True, kw_only=True):
    """One refused row: its line, a code, why, and the field at fault."""

    line: int
    code: str
    detail: str
    field: str | None = None


class CsvRows:
    """Rows of a CSV as its bytes arrive. :meth:`feed` returns ``(line, to, params)`` for each
    complete row and records bad ones in :attr:`errors` (cleared by the caller)."""

    def __init__(self, variables: tuple[str, ...]) -> None:
        self.variables = variables
        self.line = 0  # the last line read
        self.errors: list[RowError] = []
        self._rest = b""
        self._columns: list[str] | None = None
        self._to = 0
        self._params: list[tuple[int, str]] = []

    def feed(self, chunk: bytes) -> list[tuple[int, str, dict[str, str]]]:
        data = self._rest + chunk if self._rest else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > MAX_LINE:
                raise CsvError(f"line {self.line + 1}", f"longer than {MAX_LINE} bytes")
            self._rest = data
            return []
        self._rest = data[cut + 1:]
        if len(self._rest) > MAX_LINE:
            line = self.line + 2 + data.count(b"\n", 0, cut)
            raise CsvError(f"line {line}", f"longer than {MAX_LINE} bytes")
        return self._lines(data[:cut].split(b"\n"))

    @property
    def header_read(self) -> bool:
        return self._columns is not None

    def finish(self) -> list[tuple[int, str, dict[str, str]]]:
        rest, self._rest = self._rest, b""
        rows = self._lines([rest]) if rest.strip() else []
        if self._columns is None:
            raise CsvError("recipients", "the CSV is empty: give a header line (to,"
                           + ",".join(self.variables) + ") and a line per recipient")
        return rows

    def _lines(self, raw: list[bytes]) -> list[tuple[int, str, dict[str, str]]]:
        out: list[tuple[int, str, dict[str, str]]] = []
        first = self.line + 1
        self.line += len(raw)
        try:
            text = b"\n".join(raw).decode("utf-8")
            lines = text.split("\n")
            # Without a quote or a CR, csv.reader cuts a line at its commas and nowhere else.
            plain = '"' not in text and "\r" not in text
        except UnicodeDecodeError:
            plain = False
            lines = []
            for i, one in enumerate(raw):
                try:
                    lines.append(one.decode("utf-8"))
                except UnicodeDecodeError:
                    lines.append("")
                    self.errors.append(RowError(line=first + i, code="malformed",
                                                detail="the line is not UTF-8"))
        if self._columns is None:
            while lines and not lines[0].strip():
                lines.pop(0)
                first += 1
            if not lines:
                return out
            self._header(lines.pop(0))
            first += 1
        to, params, width = self._to, self._params, len(self._columns or ())
        for i, fields in enumerate([line.split(",") if line else [] for line in lines]
                                   if plain else csv.reader(lines)):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # (a blank line)
            if len(fields) != width:
                self.errors.append(RowError(
                    line=first + i, code="malformed",
                    detail=f"{len(fields)} fields; the header has {width}"))
                continue
            out.append((first + i, fields[to].strip(),
                        {name: fields[j] for j, name in params}))
        return out

    def _header(self, line: str) -> None:
        columns = [c.strip().lstrip("\ufeff").strip() for c in next(csv.reader([line]))]
        if "to" not in columns:
            raise CsvError("recipients", "the header (line 1) has no 'to' column: give to,"
                           + ",".join(self.variables))
        for name in columns:
            if name != "to" and name not in self.variables:
                raise CsvError(f"params.{name}", f"the column {name!r} is not a variable of "
                               "the template (" + (", ".join(self.variables) or "none") + ")")
        for name in self.variables:
            if name not in columns:
                raise CsvError(f"params.{name}", f"no column {name!r} for the template's "
                               f"variable ${{{name}}}")
        if len(set(columns)) != len(columns):
            raise CsvError("recipients", "a column is named twice in the header")
        self._columns = columns
        self._to = columns.index("to")
        self._params = [(j, name) for j, name in enumerate(columns) if name != "to"]


class Campaign(msgspec.Struct, kw_only=True):
    id: int
    name: str | None
    template: str
    version: int
    kind: str
    state: CampaignState
    send_at: float | None
    rate: float | None
    principal: str | None
    source: str | None
    created_at: float
    ingesting: bool = False
    recipients: int = 0
    refused: int = 0
    duplicates: int = 0
    suppressed: int = 0
    capped: int = 0
    refusals: list[RowError] = msgspec.field(default_factory=list)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaign (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    body       BLOB NOT NULL    -- the Campaign (msgspec JSON): few rows, rewritten per chunk
);
"""


class CampaignStore(SharedFileStore):
    """The campaigns in the outbox's file. :meth:`save` joins the open transaction (it
    commits with the chunk of messages it counts)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._create_tables(_SCHEMA, "the campaigns")
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(Campaign).decode

    def next_id(self) -> int:
        row = self._open().conn.execute("SELECT max(id) FROM campaign").fetchone()
        seq = self._open().conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'campaign'").fetchone()
        return max(int(row[0] or 0), int(seq[0]) if seq else 0) + 1

    def save(self, campaign: Campaign) -> None:
        db = self._open()
        db.begin().execute("INSERT OR REPLACE INTO campaign VALUES (?, ?)",
                           (campaign.id, self._encode(campaign)))
        db.pending += 1

    def get(self, campaign_id: int) -> Campaign | None:
        row = self._open().conn.execute("SELECT body FROM campaign WHERE id = ?",
                                        (campaign_id,)).fetchone()
        return None if row is None else self._decode(row[0])

    def all(self) -> list[Campaign]:
        rows = self._open().conn.execute("SELECT body FROM campaign ORDER BY id")
        return [self._decode(body) for (body,) in rows]
