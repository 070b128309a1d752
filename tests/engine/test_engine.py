"""The Engine itself, without a peer: rerouting what a channel holds to another channel."""

from __future__ import annotations

from smsengine.engine import Engine, Message, MessageState, engine_config_from_dict


def channel(**fields: object) -> dict[str, object]:
    return {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "shop",
            "password": "pw", **fields}


async def test_reroute_keeps_what_the_other_channel_cannot_take_in_order() -> None:
    # a (SMPP) and b (CMPP) on dead ports: nothing binds, so everything stays queued on a.
    config = engine_config_from_dict({
        "channels": [channel(name="a", port=9, max_parts=255),
                     channel(name="b", port=9, protocol="cmpp", system_id="900001")],
        "routes": [{"channels": ["a", "b"]}],
    })
    # 249 GSM 7-bit parts on a (max_parts 255); 568 UCS2 parts on b, past the text layer's 255
    # and b's max_parts (10).
    too_wide_for_ucs2 = "a" * 38000 + "€"
    async with Engine(config) as engine:
        handles = [engine.submit(Message(destination=f"8613800000{i}",
                                         text=too_wide_for_ucs2 if i in (1, 3) else f"Code {i}"))
                   for i in range(5)]
        a, b = engine.channels["a"], engine.channels["b"]
        assert [h.channel for h in handles] == ["a"] * 5
        engine._reroute(a)  # what a refused login (an alarm) on a does
        assert [h.channel for h in handles] == ["b", "a", "b", "a", "b"]
        assert b.lanes.drain() == [handles[0], handles[2], handles[4]]  # in order
        assert a.lanes.drain() == [handles[1], handles[3]]  # kept, in order: nothing lost
        assert all(h.state is MessageState.QUEUED for h in handles)
        assert len(handles[0].segments) == 1 and len(handles[1].segments) == 249
