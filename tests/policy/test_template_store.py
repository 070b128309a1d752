"""The template stores: one suite over the memory and the SQLite store (versions, delete,
re-create), and what only SQLite promises (a restart, the engine's file shared)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsengine.engine.sqlite import SqliteCorrelationStore, StoreError
from smsengine.engine.stores import CorrelationRecord
from smsengine.policy import (
    MemoryTemplateStore,
    SqliteTemplateStore,
    Template,
    TemplateExistsError,
    TemplateNotFoundError,
    TemplateStore,
    Variable,
)


def tpl(name: str = "login", text: str = "您的验证码是${code}") -> Template:
    return Template(name=name, kind="otp", text=text, sign_name="ShopCN",
                    variables={"code": Variable(max_length=6, digits=True)}, max_parts=1)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TemplateStore]:
    if request.param == "memory":
        yield MemoryTemplateStore()
    else:
        s = SqliteTemplateStore(tmp_path / "engine.db")
        yield s
        s.close()


def test_create_get_list(store: TemplateStore) -> None:
    stored = store.create(tpl(), now=10.0)
    assert (stored.version, stored.created_at) == (1, 10.0)
    assert store.get("login") == stored
    assert store.get("login", 1) == stored
    assert store.get("nope") is None and store.get("login", 2) is None
    store.create(tpl("a-first"), now=11.0)
    assert [t.name for t in store.list()] == ["a-first", "login"]
    with pytest.raises(TemplateExistsError):
        store.create(tpl(), now=12.0)


def test_update_makes_a_new_version_and_keeps_the_old(store: TemplateStore) -> None:
    store.create(tpl(), now=1.0)
    v2 = store.update(tpl(text="验证码${code}"), now=2.0)
    assert v2.version == 2
    assert store.get("login") == v2
    old = store.get("login", 1)
    assert old is not None and old.text == "您的验证码是${code}"
    assert [t.version for t in store.versions("login")] == [1, 2]
    assert [t.version for t in store.list()] == [2]
    with pytest.raises(TemplateNotFoundError, match="no template 'other'"):
        store.update(tpl("other"), now=3.0)


def test_delete_hides_the_name_but_keeps_its_versions_and_numbering(
        store: TemplateStore) -> None:
    store.create(tpl(), now=1.0)
    store.update(tpl(text="验证码${code}"), now=2.0)
    store.delete("login", now=3.0)
    assert store.get("login") is None
    assert store.list() == ()
    assert store.get("login", 2) is not None  # a message that used it can still be shown
    with pytest.raises(TemplateNotFoundError):
        store.delete("login", now=4.0)
    with pytest.raises(TemplateNotFoundError):
        store.update(tpl(), now=4.0)
    again = store.create(tpl(text="新${code}"), now=5.0)
    assert again.version == 3  # (login, 1) and (login, 2) keep meaning what they meant
    assert store.get("login") == again


def test_sqlite_templates_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    with SqliteTemplateStore(path) as s:
        s.create(tpl(), now=1.0)
        s.update(tpl(text="验证码${code}"), now=2.0)
        s.create(tpl("gone"), now=2.0)
        s.delete("gone", now=3.0)
    with SqliteTemplateStore(path) as s:
        latest = s.get("login")
        assert latest is not None and latest.version == 2 and latest.created_at == 2.0
        assert latest.variables["code"] == Variable(max_length=6, digits=True, secret=True)
        assert [t.name for t in s.list()] == ["login"]
        assert s.create(tpl("gone"), now=4.0).version == 2


def test_a_change_is_committed_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    with SqliteTemplateStore(path) as s:
        s.create(tpl(), now=1.0)
        with sqlite3.connect(path) as other:  # another process's view: committed rows only
            assert other.execute("SELECT count(*) FROM template").fetchone()[0] == 1
        other.close()


def test_the_store_shares_the_engines_file_and_connection(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    correlation = SqliteCorrelationStore(path, commit_interval=1000)
    templates = SqliteTemplateStore(path)
    try:
        correlation.put(CorrelationRecord("ch", "m1", "r1", 0, 1, 1.0, 100.0))
        templates.create(tpl(), now=1.0)  # commits the correlation batch too, never waits
        correlation.put(CorrelationRecord("ch", "m2", "r2", 0, 1, 1.0, 100.0))
        assert templates.get("login") is not None and len(correlation) == 2
    finally:
        templates.close()
        correlation.close()
    with SqliteTemplateStore(path) as s, SqliteCorrelationStore(path) as c:
        assert s.get("login") is not None and len(c) == 2


def test_a_closed_store_refuses() -> None:
    s = SqliteTemplateStore(":memory:")
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.get("login")
