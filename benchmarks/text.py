"""Text layer speed: encode + split of long messages, smsengine against python-smpplib.

Operations, per message (each from text to the user data octets of every part, UDH included):
- chinese: a 150-character Chinese order notice, UCS2, 3 parts (67 + 67 + 16 code units);
- gsm: a 200-character GSM 7-bit notice, 2 parts (153 + 47 septets);
- emoji (ours only): a marketing text with ZWJ sequences, flags and skin tones, UCS2, 3 parts;
  it takes the grapheme-cluster path, which python-smpplib has no equivalent of.

Ours includes taking a reference from the per-destination counter and choosing the encoding;
theirs is ``smpplib.gsm.make_parts(text)``, which also chooses (GSM, else UCS2) and picks a
random reference. Both must produce the same parts (same count, same payload octets) for the
two compared texts, which is checked before measuring. python-smpplib cuts blindly (it can
split a GSM escape or a surrogate pair); on these texts that does not happen, so the work is
the same.

The machine is shared and noisy, so the operations are measured in alternating rounds and each
keeps its best round. Prints a table, or with ``--json`` exactly one JSON object.
"""

# ruff: noqa: RUF001  (real Chinese text: fullwidth punctuation on purpose)

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from smpplib import gsm as smpplib_gsm

from smsengine.text import ReferenceCounter, count, split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_rates

TARGET_CHINESE_PER_S = 100_000

CHINESE = (
    "【商城】尊敬的客户，您的订单202611230001已发货，承运商顺丰速运，运单号SF1234567890，"
    "预计明天送达。请保持电话畅通，签收前请当面验货。如需修改收货地址或预约配送时间，请登录"
    "会员中心或致电客服热线。如非本人操作请忽略本短信，感谢您的支持！祝您生活愉快，期待再次光临。"
    "回复退订不再接收此类消息。"
)[:150]
GSM = (
    "Dear customer, your order 202611230001 has shipped and will arrive tomorrow between "
    "9:00 and 12:00. Track it at example.com/t/SF1234567890 or call us on 0800 123 456. "
    "Reply STOP to opt out. Thank you!"
)[:200]
EMOJI = (
    "🎉 Black Friday: 50% off everything! 👨‍👩‍👧‍👦 Family deals 🇫🇷🇩🇪🇯🇵 shipping "
    "worldwide 👍🏽 Use code BF2026 ❤️ Ends Sunday 1️⃣ day left! "
)

DESTINATION = "8613800138000"
_refs = ReferenceCounter(seed=1)


def ours(text: str) -> list[bytes]:
    return [p.user_data for p in split(text, ref=_refs.next(DESTINATION)).parts]


def theirs(text: str) -> list[bytes]:
    parts, _encoding, _esm_class = smpplib_gsm.make_parts(text)
    return list(parts)


def _check_same_work() -> None:
    """Same number of parts and the same payload octets (the reference byte aside)."""
    for name, text, want in (("chinese", CHINESE, 3), ("gsm", GSM, 2)):
        a, b = ours(text), theirs(text)
        if not len(a) == len(b) == want:
            raise SystemExit(f"{name}: part counts differ: ours {len(a)}, smpplib {len(b)}")
        for x, y in zip(a, b, strict=True):
            if x[:3] != y[:3] or x[4:] != y[4:]:
                raise SystemExit(f"{name}: parts differ:\nours    {x.hex()}\nsmpplib {y.hex()}")
    assert len(ours(EMOJI)) == count(EMOJI).parts == 3


def measure(rounds: int, seconds: float) -> dict[str, dict[str, float]]:
    ops: dict[str, dict[str, Callable[[], object]]] = {
        "smsengine": {
            "chinese": lambda: ours(CHINESE),
            "gsm": lambda: ours(GSM),
            "emoji": lambda: ours(EMOJI),
        },
        "smpplib": {
            "chinese": lambda: theirs(CHINESE),
            "gsm": lambda: theirs(GSM),
        },
    }
    return best_rates(ops, rounds, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (best kept)")
    parser.add_argument("--seconds", type=float, default=0.4, help="seconds per measurement")
    args = parser.parse_args(argv)

    _check_same_work()
    best = measure(args.rounds, args.seconds)
    ours_rates, theirs_rates = best["smsengine"], best["smpplib"]
    ratio = {op: round(ours_rates[op] / theirs_rates[op], 2) for op in theirs_rates}
    chinese = round(ours_rates["chinese"])
    result = {
        "chinese_per_s": chinese,
        "gsm_per_s": round(ours_rates["gsm"]),
        "emoji_per_s": round(ours_rates["emoji"]),
        "smpplib": {f"{op}_per_s": round(r) for op, r in theirs_rates.items()},
        "ratio": ratio,
        "parts": {"chinese": 3, "gsm": 2, "emoji": 3},
        "target": {"chinese_per_s": TARGET_CHINESE_PER_S},
        "met": chinese >= TARGET_CHINESE_PER_S,
        "rounds": args.rounds,
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'encode+split':24s} {'smsengine/s':>12s} {'smpplib/s':>12s} {'ratio':>6s}")
    for op, rate in ours_rates.items():
        other = theirs_rates.get(op)
        if other is None:
            print(f"{op + ' (ours only)':24s} {rate:12,.0f} {'-':>12s} {'-':>6s}")
        else:
            print(f"{op:24s} {rate:12,.0f} {other:12,.0f} {rate / other:6.1f}")
    print(
        f"chinese 3-part: {chinese:,}/s (target {TARGET_CHINESE_PER_S:,}/s): "
        f"{'met' if result['met'] else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
