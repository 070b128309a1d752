"""ClusterConfig: checks name the field; no repr shows a password in the Redis URL."""

from __future__ import annotations

import pytest

from smsengine.cluster import (
    ClusterConfig,
    ClusterConfigError,
    ClusterError,
    ClusterUnavailable,
    redact_url,
)


def test_defaults_and_derived_values() -> None:
    c = ClusterConfig(redis_url="redis://127.0.0.1:6379/0")
    assert c.lease_ttl == 10.0 and c.renew_interval == pytest.approx(10 / 3)
    assert c.node_id and c.node_id != ClusterConfig(redis_url="redis://h").node_id
    assert c.key("lease", "{ch}", "0") == "smsengine:lease:{ch}:0"


@pytest.mark.parametrize(("field", "value"), [
    ("redis_url", "http://127.0.0.1"),
    ("redis_url", "redis://"),
    ("node_id", ""),
    ("node_id", "has space"),
    ("key_prefix", "a{b}"),
    ("key_prefix", ":lead"),
    ("key_prefix", ""),
    ("lease_ttl", 0.0),
    ("lease_ttl", float("nan")),
    ("lease_renew", 9.0),
    ("lease_margin", 0.5),
    ("command_timeout", 0.0),
    ("retry_after", float("inf")),
    ("tps_batch", 0),
])
def test_a_bad_value_names_its_field(field: str, value: object) -> None:
    kw: dict[str, object] = {"redis_url": "redis://127.0.0.1:6379/0", field: value}
    with pytest.raises(ClusterConfigError) as info:
        ClusterConfig(**kw)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"cluster.{field}: ")
    assert info.value.retriable is False


@pytest.mark.parametrize("url", [
    "redis://:s3cret@redis.example:6379/0",
    "redis://app:s3cret@redis.example:6379/0",
    "rediss://app:s3cret@redis.example/0?ssl_cert_reqs=none&password=s3cret",
    "redis://s3cret@redis.example",
])
def test_no_repr_shows_the_password(url: str) -> None:
    c = ClusterConfig(redis_url=url)
    for shown in (repr(c), str(c), redact_url(url)):
        assert "s3cret" not in shown
        assert "redis.example" in shown
    assert "<redacted>" in repr(c)
    assert c.redis_url == url  # the value itself is intact


def test_errors_say_whether_retrying_helps() -> None:
    assert ClusterUnavailable("down", retry_after=3).retriable is True
    assert ClusterUnavailable("down", retry_after=3).retry_after == 3
    assert ClusterError("bad").retriable is False
    assert issubclass(ClusterUnavailable, ClusterError)
