"""Where templates are kept, versioned: a memory store and one in the engine's SQLite file.

Every change is a new version; old versions stay, so a message that records the
``(template, version)`` it used can always be shown the text it was rendered from, even after
the template changed or was deleted. A deleted template is gone from :meth:`get` (latest) and
:meth:`list`; creating it again continues its numbering, so a ``(name, version)`` never means
two texts. Templates are few and change rarely: versions are kept without a cap.

:class:`SqliteTemplateStore` is a :data:`~smsengine.engine.sqlite.SharedFileStore` with a table
of its own (``template``), sharing the file's connection with the engine's stores; each change
commits before returning (a ``201`` means it is on disk), which also commits what the engine's
open transaction holds so far. Time is an argument (``now``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec

from ..engine.sqlite import SharedFileStore
from .templates import Template

__all__ = [
    "MemoryTemplateStore",
    "SqliteTemplateStore",
    "TemplateExistsError",
    "TemplateNotFoundError",
    "TemplateStore",
]


class TemplateExistsError(ValueError):
    """A create for a name that has a live template (the daemon's 409)."""

    retriable = False

    def __init__(self, name: str) -> None:
        super().__init__(f"template {name!r} exists")
        self.name = name


class TemplateNotFoundError(KeyError):
    """An update or delete of a name with no live template (the daemon's 404)."""

    retriable = False

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no template {self.name!r}"


class TemplateStore(Protocol):
    """What the daemon's ``/v1/templates`` routes and a send by template need."""

    def create(self, template: Template, now: float) -> Template:
        """Store a new template as version 1 (or the version after its deleted ones); the
        stored value (version, created_at set) is returned."""
        ...

    def get(self, name: str, version: int | None = None) -> Template | None:
        """The latest live version, or the given version (deleted or not); None if none."""
        ...

    def list(self) -> tuple[Template, ...]:
        """The latest version of every live template, by name."""
        ...

    def versions(self, name: str) -> tuple[Template, ...]:
        """Every version kept under ``name``, oldest first."""
        ...

    def update(self, template: Template, now: float) -> Template:
        """Store ``template`` as the next version of its live name."""
        ...

    def delete(self, name: str, now: float) -> None:
        """The name is no longer live; its versions stay readable by number."""
        ...


def _stamped(template: Template, version: int, now: float) -> Template:
    return msgspec.structs.replace(template, version=version, created_at=now)


class MemoryTemplateStore:
    """:class:`TemplateStore` in a dict, for tests and a library used without a file."""

    def __init__(self) -> None:
        self._versions: dict[str, list[Template]] = {}
        self._live: set[str] = set()

    def create(self, template: Template, now: float) -> Template:
        if template.name in self._live:
            raise TemplateExistsError(template.name)
        return self._add(template, now)

    def _add(self, template: Template, now: float) -> Template:
        kept = self._versions.setdefault(template.name, [])
        stored = _stamped(template, len(kept) + 1, now)
        kept.append(stored)
        self._live.add(template.name)
        return stored

    def get(self, name: str, version: int | None = None) -> Template | None:
        kept = self._versions.get(name)
        if not kept:
            return None
        if version is None:
            return kept[-1] if name in self._live else None
        return kept[version - 1] if 1 <= version <= len(kept) else None

    def list(self) -> tuple[Template, ...]:
        return tuple(self._versions[name][-1] for name in sorted(self._live))

    def versions(self, name: str) -> tuple[Template, ...]:
        return tuple(self._versions.get(name, ()))

    def update(self, template: Template, now: float) -> Template:
        if template.name not in self._live:
            raise TemplateNotFoundError(template.name)
        return self._add(template, now)

    def delete(self, name: str, now: float) -> None:
        if name not in self._live:
            raise TemplateNotFoundError(name)
        self._live.discard(name)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS template (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at REAL NOT NULL,
    deleted_at REAL,            -- set on every version of a deleted name
    body       BLOB NOT NULL,   -- the Template, msgspec JSON
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
"""
_LATEST = ("SELECT body FROM template WHERE name = ? AND deleted_at IS NULL "
           "ORDER BY version DESC LIMIT 1")
_VERSION = "SELECT body FROM template WHERE name = ? AND version = ?"
_LAST_VERSION = "SELECT max(version), max(deleted_at IS NULL) FROM template WHERE name = ?"
_INSERT = "INSERT INTO template VALUES (?, ?, ?, NULL, ?)"
_DELETE = "UPDATE template SET deleted_at = ? WHERE name = ? AND deleted_at IS NULL"
# The latest version of each live name: the primary key's order gives it without a sort.
_LIST = ("SELECT body FROM template t WHERE deleted_at IS NULL AND version = "
         "(SELECT max(version) FROM template WHERE name = t.name) ORDER BY name")
_VERSIONS = "SELECT body FROM template WHERE name = ? ORDER BY version"


class SqliteTemplateStore(SharedFileStore):
    """:class:`TemplateStore` in the engine's SQLite file (table ``template``); see the module
    docstring."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._create_tables(_SCHEMA, "the templates")
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(Template).decode

    def _one(self, sql: str, args: tuple[object, ...]) -> Template | None:
        row = self._open().conn.execute(sql, args).fetchone()
        return None if row is None else self._decode(row[0])

    def _last(self, name: str) -> tuple[int, bool]:
        last, live = self._open().conn.execute(_LAST_VERSION, (name,)).fetchone()
        return int(last or 0), bool(live)

    def _add(self, template: Template, version: int, now: float) -> Template:
        stored = _stamped(template, version, now)
        db = self._open()
        db.begin().execute(_INSERT, (stored.name, version, now, self._encode(stored)))
        db.commit()
        return stored

    def create(self, template: Template, now: float) -> Template:
        last, live = self._last(template.name)
        if live:
            raise TemplateExistsError(template.name)
        return self._add(template, last + 1, now)

    def get(self, name: str, version: int | None = None) -> Template | None:
        if version is None:
            return self._one(_LATEST, (name,))
        return self._one(_VERSION, (name, version))

    def list(self) -> tuple[Template, ...]:
        rows = self._open().conn.execute(_LIST).fetchall()
        return tuple(self._decode(body) for (body,) in rows)

    def versions(self, name: str) -> tuple[Template, ...]:
        rows = self._open().conn.execute(_VERSIONS, (name,)).fetchall()
        return tuple(self._decode(body) for (body,) in rows)

    def update(self, template: Template, now: float) -> Template:
        last, live = self._last(template.name)
        if not live:
            raise TemplateNotFoundError(template.name)
        return self._add(template, last + 1, now)

    def delete(self, name: str, now: float) -> None:
        db = self._open()
        if not db.begin().execute(_DELETE, (now, name)).rowcount:
            raise TemplateNotFoundError(name)
        db.commit()


if TYPE_CHECKING:  # mypy checks that the classes satisfy the protocol
    def _conforms(m: MemoryTemplateStore, s: SqliteTemplateStore) -> tuple[TemplateStore,
                                                                          TemplateStore]:
        return m, s
