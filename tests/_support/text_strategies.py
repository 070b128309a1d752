"""Hypothesis strategies for texts that stress segmentation: emoji sequences, combining marks,
GSM 7-bit extension characters, line breaks, CJK, Hangul jamo and Cyrillic, moved across part
boundaries by a run of plain characters (``any_text``), and GSM 7-bit-only texts (``gsm_text``)."""

from __future__ import annotations

from hypothesis import strategies as st

from smsengine.text import gsm

__all__ = ["BLOCKS", "COMBINING", "EMOJI", "GSM_EXT", "any_text", "gsm_text"]

EMOJI = [
    "😀",
    "👍🏽",  # skin tone modifier
    "👨‍👩‍👧‍👦",  # ZWJ family
    "🏳️‍🌈",  # flag with VS16 and ZWJ
    "🇫🇷",  # regional indicator pair
    "🇩🇪🇯🇵",  # two flags back to back
    "1️⃣",  # keycap
    "❤️",  # VS16
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # tag sequence
]
COMBINING = ["e\u0301", "a\u0308\u0323", "Z" + "\u0301\u0302\u0303" * 3, "\u0915\u094d\u0937"]
GSM_EXT = list("€[]{}^~|\\\x0c")
BLOCKS = (
    EMOJI
    + COMBINING
    + GSM_EXT
    + ["\r\n", "\r", "\n", "中文", "验证码", "한국어", "\u1100\u1161\u11a8", "Привет", " ", "abc"]
)

# A run of plain characters moves the interesting blocks across the part boundaries; repeating
# the blocks makes messages of two to ten parts.
any_text = st.builds(
    lambda pre, blocks, times: pre + "".join(blocks) * times,
    st.one_of(
        st.integers(0, 220).map(lambda n: "中" * n),
        st.integers(0, 320).map(lambda n: "a" * n),
    ),
    st.lists(st.one_of(st.sampled_from(BLOCKS), st.text(max_size=8)), min_size=1, max_size=40),
    st.integers(1, 3),
)
gsm_text = st.builds(
    lambda pre, blocks, times: pre + "".join(blocks) * times,
    st.integers(0, 320).map(lambda n: "a" * n),
    st.lists(
        st.one_of(
            st.sampled_from([*GSM_EXT, "\r\n", "Hello ", "@£$¥", "ÄÖÑÜ§¿"]),
            st.text(st.sampled_from(gsm.BASIC_CHARACTERS.replace("\x1b", "")), max_size=30),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 3),
)
