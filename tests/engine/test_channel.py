"""The channel as a dispatcher, without sockets where the case allows."""

from __future__ import annotations

from smsengine.engine import Engine, Message, MessageState, engine_config_from_dict
from tests._support.smpp_client import eventually


def _config(**fields: object) -> object:
    return engine_config_from_dict({
        "channels": [{"name": "a", "host": "127.0.0.1", "port": 9, "system_id": "a",
                      "password": "p"},
                     {"name": "b", "host": "127.0.0.1", "port": 9, "system_id": "b",
                      "password": "p"}],
        "routes": [{"channels": ["a", "b"]}], **fields})


async def test_a_retry_whose_message_expired_meanwhile_is_dropped_not_pushed_back() -> None:
    async with Engine(_config()) as engine:  # (nothing listens on port 9: nothing binds)
        handle = engine.submit(Message(destination="8613800000001", text="Code 1", kind="otp",
                                       validity=0.2))
        channel = engine.channels["a"]
        [retry] = handle.segments  # as if it came back from a throttle, waiting in the lane
        await eventually(lambda: handle.state is MessageState.EXPIRED, 5)
        assert retry.handle is None  # (the message is final: its part let go of it)
        channel._push_back([retry])  # what a burst does with what the window did not take
        assert retry not in channel.lanes.drain()


async def test_a_reroute_leaves_a_message_that_expired_in_the_lane_alone() -> None:
    async with Engine(_config()) as engine:
        handle = engine.submit(Message(destination="8613800000001", text="Code 1", kind="otp",
                                       validity=0.2))
        await eventually(lambda: handle.state is MessageState.EXPIRED, 5)
        assert engine.stats()["tracked"] == 0
        engine._reroute(engine.channels["a"])  # what a refused login (an alarm) on a does
        assert engine.stats()["tracked"] == 0 and handle.channel == "a"
        assert engine.channels["b"].lanes.drain() == []
