"""Tests for smsengine.smpp.receipt: delivery receipt text as carriers really send it.

The receipts in REAL_RECEIPTS are copied from public sources (named in a comment above each one:
a GitHub repo/path, issue URL or web page). Where nothing verbatim could be found for a variant the
brief asks about, the receipt is marked ``INVENTED`` and says why.

Expected values describe the *correct* reading of each receipt, not what the parser happens to
return today; a few of them fail against the current parser on purpose (marked ``KNOWN FAILURE``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smsengine.link import ReceiptState
from smsengine.smpp.constants import RECEIPT_STATES, CommandStatus, MessageState
from smsengine.smpp.errors import SmppError
from smsengine.smpp.receipt import DeliveryReceipt, ReceiptParseError, parse_receipt

D = dt.datetime


def R(raw: str | bytes, name: str, **expected: object) -> object:
    """One real-world receipt with the values a correct parser reads from it."""
    return pytest.param(raw, expected, id=name)


REAL_RECEIPTS = [
    # --- Appendix B, as quoted by library test suites ------------------------------------------
    # twitter-archive/cloudhopper-smpp
    # src/test/java/com/cloudhopper/smpp/util/DeliveryReceiptTest.java (parseShortMessage)
    R(
        "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339 "
        "stat:DELIVRD err:012 text:This is a sample mes",
        "cloudhopper-appendix-b",
        id="0123456789",
        sub="002",
        dlvrd="001",
        submitted_count=2,
        delivered_count=1,
        submitted_at=D(2010, 5, 23, 20, 39),
        done_at=D(2010, 5, 24, 23, 39),
        stat="DELIVRD",
        state=MessageState.DELIVERED,
        err="012",
        text="This is a sample mes",
    ),
    # same file: "example receipt from smsc simulator (checks case sensitivity)":
    # "Text:" capitalised
    R(
        "id:4 sub:001 dlvrd:001 submit date:1006020051 done date:1006020051 stat:DELIVRD "
        "err:000 Text:Hello",
        "cloudhopper-simulator-Text-capitalised",
        id="4",
        submitted_at=D(2010, 6, 2, 0, 51),
        done_at=D(2010, 6, 2, 0, 51),
        stat="DELIVRD",
        state=MessageState.DELIVERED,
        err="000",
        text="Hello",
    ),
    # same file, parseRealWorldReceipt0 (decoded from a captured deliver_sm): text ends in ':'
    R(
        "id:0059113978 sub:001 dlvrd:001 submit date:1002101730 done date:1002101731 "
        "stat:DELIVRD err:000 text:@$#!%&/:",
        "cloudhopper-real-world-0",
        id="0059113978",
        submitted_at=D(2010, 2, 10, 17, 30),
        done_at=D(2010, 2, 10, 17, 31),
        state=MessageState.DELIVERED,
        err="000",
        text="@$#!%&/:",
    ),
    # same file, parseReceiptWithTimestampIncludingSeconds: UUID id, 12-digit dates, empty text
    R(
        "id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 sub:001 dlvrd:001 submit date:110206193041 "
        "done date:110206193110 stat:DELIVRD err:000 text:",
        "cloudhopper-uuid-12-digit-dates",
        id="74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
        submitted_at=D(2011, 2, 6, 19, 30, 41),
        done_at=D(2011, 2, 6, 19, 31, 10),
        state=MessageState.DELIVERED,
        err="000",
        text="",
    ),
    # same file, parseReceiptWithFieldsOutOfOrder: every field moved, empty text: before stat:
    R(
        "sub:001 id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 err:000 dlvrd:001 "
        "done date:110206193110 submit date:110206193041 text: stat:DELIVRD",
        "cloudhopper-fields-out-of-order",
        id="74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
        sub="001",
        dlvrd="001",
        submitted_at=D(2011, 2, 6, 19, 30, 41),
        done_at=D(2011, 2, 6, 19, 31, 10),
        stat="DELIVRD",
        state=MessageState.DELIVERED,
        err="000",
        text="",
    ),
    # same file, parseReceiptWithMissingSubAndDlvrdFields: hex id, 14-digit dates, err:0, no text
    R(
        "id:2E179B310EDE971B2760C72B7F026E1B submit date:20110314181534 "
        "done date:20110314181741 stat:DELIVRD err:0",
        "cloudhopper-no-sub-dlvrd-14-digit-dates",
        id="2E179B310EDE971B2760C72B7F026E1B",
        sub="",
        dlvrd="",
        submitted_count=None,
        delivered_count=None,
        submitted_at=D(2011, 3, 14, 18, 15, 34),
        done_at=D(2011, 3, 14, 18, 17, 41),
        state=MessageState.DELIVERED,
        err="0",
        text="",
    ),
    # same file, parseShortMessageWith11DigitLongMessageId
    R(
        "id:98765432101 sub:000 dlvrd:000 submit date:1001010000 done date:1001010000 "
        "stat:ENROUTE err:000 text:",
        "cloudhopper-enroute-11-digit-id",
        id="98765432101",
        submitted_count=0,
        delivered_count=0,
        submitted_at=D(2010, 1, 1, 0, 0),
        stat="ENROUTE",
        state=MessageState.ENROUTE,
        err="000",
    ),
    # opentelecoms-org/jsmpp jsmpp/src/test/java/org/jsmpp/util/DeliveryReceiptParserTest.java
    # (parsingTextWithUpperCase)
    R(
        "id:0123456789 sub:001 dlvrd:001 submit date:0809011130 done date:0809011131 "
        "stat:DELIVRD err:000 Text:testing jsmpp bow",
        "jsmpp-Text-upper",
        id="0123456789",
        submitted_at=D(2008, 9, 1, 11, 30),
        done_at=D(2008, 9, 1, 11, 31),
        err="000",
        text="testing jsmpp bow",
    ),
    # opentelecoms-org/jsmpp jsmpp-examples/src/test/java/org/jsmpp/examples/receipts/
    # ExampleDeliveryReceiptStripperTest.java: no err, no text
    R(
        "id:123456 sub:234 dlvrd:000 submit date:1604052345 done date:1605021145 stat:DELIVRD",
        "jsmpp-examples-no-err-no-text",
        id="123456",
        submitted_count=234,
        delivered_count=0,
        submitted_at=D(2016, 4, 5, 23, 45),
        done_at=D(2016, 5, 2, 11, 45),
        state=MessageState.DELIVERED,
        err="",
        text="",
    ),
    # RestComm/smscgateway core/smsc-common-library/src/test/java/org/mobicents/smsc/library/
    # ParseDeliveryReceiptTest.java
    R(
        "id:0512249005 sub:001 dlvrd:000 submit date:1609051327 done date:1609051337 "
        "stat:ENROUTE err:054 text:xxssxx",
        "restcomm-smscgateway-enroute",
        id="0512249005",
        submitted_at=D(2016, 9, 5, 13, 27),
        done_at=D(2016, 9, 5, 13, 37),
        state=MessageState.ENROUTE,
        err="054",
        text="xxssxx",
    ),
    # MikeSafonov/spring-boot-starter-smpp src/test/java/com/github/mikesafonov/smpp/core/reciever/
    # ResponseSmppSessionHandlerTest.java: hex id, 12-digit dates, err:0, Text:
    R(
        "id:261BD3E2 sub:001 dlvrd:001 submit date:190305131326 done date:190305131326 "
        "stat:DELIVRD err:0 Text:report",
        "spring-boot-starter-smpp-hex-id",
        id="261BD3E2",
        submitted_at=D(2019, 3, 5, 13, 13, 26),
        state=MessageState.DELIVERED,
        err="0",
        text="report",
    ),
    # jookies/jasmin jasmin/vendor/smpp/pdu/tests/test_pdu_encoding.py
    # (test_DeliverSM_with_network_error_code): UUID id, text "-"
    R(
        "id:bc59b8aa-2fd2-4035-8113-19301e050079 sub:001 dlvrd:001 submit date:150508144058 "
        "done date:150508144058 stat:DELIVRD err:000 text:-",
        "jasmin-uuid-text-dash",
        id="bc59b8aa-2fd2-4035-8113-19301e050079",
        submitted_at=D(2015, 5, 8, 14, 40, 58),
        state=MessageState.DELIVERED,
        text="-",
    ),
    # python-smpplib/python-smpplib tests/test_command.py (test_parse_deliver_sm): the receipt's
    # text is raw UCS-2 octets ("Привет"); as bytes input they decode 1:1 through latin-1.
    R(
        b"id:0489708364 sub:001 dlvrd:001 submit date:1810151907 done date:1810151907 "
        b"stat:DELIVRD err:000 text:\x04\x1f\x04@\x048\x042\x045\x04B",
        "python-smpplib-ucs2-text-bytes",
        id="0489708364",
        submitted_at=D(2018, 10, 15, 19, 7),
        state=MessageState.DELIVERED,
        err="000",
        text="\x04\x1f\x04@\x048\x042\x045\x04B",
    ),
    # tauruscorpius/rust-smpp-pdu src/pdu/operations/deliver_sm.rs
    # (can_parse_more_realistic_dr_short_messages): binary text with NULs inside
    R(
        "id:2236192998 sub:001 dlvrd:001 submit date:1606160544 done date:1606160544 "
        "stat:DELIVRD err:000 text:\x06\x05\x04\x15y\x0000\x0000FOO-BARR?v=3;",
        "rust-smpp-pdu-binary-text",
        id="2236192998",
        state=MessageState.DELIVERED,
        err="000",
        text="\x06\x05\x04\x15y\x0000\x0000FOO-BARR?v=3;",
    ),
    # same file: id made of ':' '-' '/' digits, receipt starting with submit date
    R(
        "submit date:1404161533 id::1-/2345:67890: sub:001 dlvrd:001 "
        "done date:1404161535 stat:DELIVRD",
        "rust-smpp-pdu-id-with-colons-reordered",
        id=":1-/2345:67890:",
        submitted_at=D(2014, 4, 16, 15, 33),
        done_at=D(2014, 4, 16, 15, 35),
        state=MessageState.DELIVERED,
        err="",
    ),
    # same file: alphanumeric err with punctuation, empty text
    R(
        "id:632166473 sub:001 dlvrd:001 submit date:1907101637 done date:1907101637 "
        "stat:UNDELIV err:MI:0024, text:",
        "rust-smpp-pdu-err-MI-0024",
        id="632166473",
        stat="UNDELIV",
        state=MessageState.UNDELIVERABLE,
        err="MI:0024,",
        text="",
    ),
    # same file: id field not first
    R(
        "submit date:1404161533 id:123456 sub:001 dlvrd:001 done date:1404161535 stat:DELIVRD",
        "rust-smpp-pdu-reordered",
        id="123456",
        sub="001",
        submitted_at=D(2014, 4, 16, 15, 33),
        state=MessageState.DELIVERED,
    ),
    # --- receipts quoted in issues and on pages ------------------------------------------------
    # https://github.com/farhadi/node-smpp/issues/199 : decimal id, leading zeros, 12-digit dates
    R(
        "id:0000029095 sub:001 dlvrd:001 submit date:211125034959 done date:211125035001 "
        "stat:DELIVRD err:000 text:",
        "node-smpp-199-leading-zeros",
        id="0000029095",
        submitted_at=D(2021, 11, 25, 3, 49, 59),
        done_at=D(2021, 11, 25, 3, 50, 1),
        state=MessageState.DELIVERED,
        text="",
    ),
    # https://github.com/onlinecity/php-smpp/issues/70 (bytes from the hex dump): 4-digit err,
    # GSM escape 0x1B inside the text
    R(
        b"id:117062714244798261 sub:001 dlvrd:001 submit date:1706271624 done date:1706271624 "
        b"stat:DELIVRD err:0000 text:H\x1bello world",
        "php-smpp-70-err-0000-esc-in-text",
        id="117062714244798261",
        submitted_at=D(2017, 6, 27, 16, 24),
        err="0000",
        text="H\x1bello world",
    ),
    # https://github.com/opentelecoms-org/jsmpp/issues/62 : sub and dlvrd omitted
    R(
        "id:1526758174 submit date:1701240904 done date:1701240904 stat:DELIVRD err:000 "
        "text:hellow",
        "jsmpp-62-no-sub-dlvrd",
        id="1526758174",
        submitted_count=None,
        delivered_count=None,
        submitted_at=D(2017, 1, 24, 9, 4),
        state=MessageState.DELIVERED,
        err="000",
        text="hellow",
    ),
    # https://github.com/uudashr/jsmpp/issues/67 : no sub, dlvrd, text
    R(
        "id:0654354026 submit date:2302101454 done date:2302101454 stat:DELIVRD err:000",
        "jsmpp-67-no-sub-dlvrd-text",
        id="0654354026",
        done_at=D(2023, 2, 10, 14, 54),
        state=MessageState.DELIVERED,
        err="000",
        text="",
    ),
    # https://github.com/jookies/jasmin/issues/760 (comment by magojr)
    R(
        "id:fa9542be-3c16-44bb-9a8c-d277ea1851ef submit date:1911211739 done date:1911211741 "
        "stat:DELIVRD err:002",
        "jasmin-760-uuid-minimal",
        id="fa9542be-3c16-44bb-9a8c-d277ea1851ef",
        submitted_at=D(2019, 11, 21, 17, 39),
        done_at=D(2019, 11, 21, 17, 41),
        state=MessageState.DELIVERED,
        err="002",
    ),
    # https://github.com/jookies/jasmin/issues/70 (Clickatell): 32-hex id, 12-digit dates
    R(
        "id:a29f6845555647139e5c8f3b817f2c9a sub:001 dlvrd:001 submit date:141023215253 "
        "done date:141023215259 stat:DELIVRD err:000 text:",
        "jasmin-70-clickatell",
        id="a29f6845555647139e5c8f3b817f2c9a",
        submitted_at=D(2014, 10, 23, 21, 52, 53),
        done_at=D(2014, 10, 23, 21, 52, 59),
        state=MessageState.DELIVERED,
    ),
    # https://github.com/jookies/jasmin/issues/447 : non-standard stat FAILED, done date all zeros
    R(
        "id:1216080510463401720 sub:001 dlvrd:001 submit date:1608051046 done date:0000000000 "
        "stat:FAILED err:002 Text:",
        "jasmin-447-stat-FAILED-zero-date",
        id="1216080510463401720",
        submitted_at=D(2016, 8, 5, 10, 46),
        done_date="0000000000",
        done_at=None,
        stat="FAILED",
        state=None,
        err="002",
        text="",
    ),
    # https://github.com/kneodev/ksmppd/issues/108 (what ksmppd forwarded to its client)
    R(
        "id:7d093bfa-4d65-4757-b0bb-177fc9d0a038 sub:001 dlvrd:001 submit date:180903120232 "
        "done date:180903121447 stat:DELIVRD err:000 text:",
        "ksmppd-108-forwarded",
        id="7d093bfa-4d65-4757-b0bb-177fc9d0a038",
        done_at=D(2018, 9, 3, 12, 14, 47),
        state=MessageState.DELIVERED,
    ),
    # https://github.com/funbox/smppex/issues/46 : dates in SMPP absolute-time format (16 chars)
    R(
        "id:rdwjwxns18krxr9936ey96ymcw sub:000 dlvrd:000 submit date:180711070003912+ "
        "done date:180711070000012+ stat:UNDELIV err:000",
        "smppex-46-absolute-time-dates",
        id="rdwjwxns18krxr9936ey96ymcw",
        submit_date="180711070003912+",
        done_date="180711070000012+",
        stat="UNDELIV",
        state=MessageState.UNDELIVERABLE,
        err="000",
    ),
    # https://github.com/linxGnu/gosmpp/issues/124 : unpadded sub/dlvrd/err, space after text:
    R(
        "id:123A456B sub:1 dlvrd:1 submit date:1702281424 done date:1702281424 stat:DELIVRD "
        "err:0 text: hello how are you there",
        "gosmpp-124-unpadded",
        id="123A456B",
        sub="1",
        submitted_count=1,
        delivered_count=1,
        err="0",
        text="hello how are you there",
    ),
    # https://github.com/RestComm/smscgateway/issues/232
    R(
        "id:34265880701 sub:001 dlvrd:001 submit date:1709260755 done date:1709260755 "
        "stat:UNDELIV err:001 text:sfdsfs",
        "restcomm-232-undeliv",
        id="34265880701",
        state=MessageState.UNDELIVERABLE,
        err="001",
        text="sfdsfs",
    ),
    # https://e-com-net.com/article/2299106.htm
    R(
        "id:0911897980 sub:001 dlvrd:000 submit date:1201121551 done date:1201121551 "
        "stat:UNDELIV err:075 text:-PROFILE",
        "e-com-net-undeliv-075",
        id="0911897980",
        delivered_count=0,
        submitted_at=D(2012, 1, 12, 15, 51),
        state=MessageState.UNDELIVERABLE,
        err="075",
        text="-PROFILE",
    ),
    # https://help.nexmo.com/hc/en-us/articles/215468998-How-to-read-a-Nexmo-SMPP-Delivery-Receipt-
    R(
        "id:0000000012345678 sub:001 dlvrd:001 submit date:1601010100 done date:1601010101 "
        "stat:DELIVRD err:000 text:none",
        "nexmo-help-text-none",
        id="0000000012345678",
        submitted_at=D(2016, 1, 1, 1, 0),
        done_at=D(2016, 1, 1, 1, 1),
        text="none",
    ),
    # https://smppcenter.com/kb/how-read-smpp-delivery-receipt : 20-digit id, 12-digit dates
    R(
        "id:64567564356765435676 sub:001 dlvrd:001 submit date:190608165232 "
        "done date:190608165237 stat:DELIVRD err:000 text:Hello World",
        "smppcenter-kb",
        id="64567564356765435676",
        submitted_at=D(2019, 6, 8, 16, 52, 32),
        done_at=D(2019, 6, 8, 16, 52, 37),
        text="Hello World",
    ),
    # Stack Overflow q/8754853 ("SMPP delivery report"), via kiwix mirror: no text field
    R(
        "id:40072910491427628 sub:001 dlvrd:001 submit date:1007291049 done date:1007291049 "
        "stat:DELIVRD err:000",
        "stackoverflow-8754853",
        id="40072910491427628",
        done_at=D(2010, 7, 29, 10, 49),
        err="000",
        text="",
    ),
    # SMGP gateway C++ code comment (find_string hit 273175171; repository not resolved):
    # "Submit_date" with capital S and underscore, "done_date" with underscore. "III" is the
    # placeholder id exactly as written in that comment.
    R(
        "id:III sub:001 dlvrd:001 Submit_date:1609212359 done_date:1609220000 stat:DELIVRD "
        "err:000 Text:",
        "smgp-comment-submit_date-underscore",
        id="III",
        submitted_at=D(2016, 9, 21, 23, 59),
        done_at=D(2016, 9, 22, 0, 0),
        state=MessageState.DELIVERED,
        err="000",
        text="",
    ),
    # https://github.com/praekeltfoundation/vumi/pull/873 ("we see values like err:null") and
    # /pull/897 ("we've received stat:FAILED"): only those fragments are quoted there; the rest
    # of this receipt is INVENTED around them.
    R(
        "id:1234567890 sub:001 dlvrd:000 submit date:1501261200 done date:1501261201 "
        "stat:FAILED err:null text:",
        "vumi-873-897-err-null-stat-failed",
        id="1234567890",
        stat="FAILED",
        state=None,
        err="null",
    ),
    # --- INVENTED: variants the brief asks for that I could not find verbatim ------------------
    # INVENTED: all-upper-case keys (find_string is case-insensitive, so the corpus could not
    # confirm a verbatim one; vendors such as the one in the cloudhopper test send "Text:").
    R(
        "ID:0000012345 SUB:001 DLVRD:001 SUBMIT DATE:2401151230 DONE DATE:2401151231 "
        "STAT:DELIVRD ERR:000 TEXT:Hello",
        "INVENTED-all-upper-case-keys",
        id="0000012345",
        sub="001",
        dlvrd="001",
        submitted_at=D(2024, 1, 15, 12, 30),
        done_at=D(2024, 1, 15, 12, 31),
        stat="DELIVRD",
        state=MessageState.DELIVERED,
        err="000",
        text="Hello",
    ),
    # INVENTED: long-form stat words (the module maps them; seen only in status tables)
    R(
        "id:77 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVERED "
        "err:000 text:",
        "INVENTED-stat-DELIVERED",
        id="77",
        stat="DELIVERED",
        state=MessageState.DELIVERED,
    ),
    R(
        "id:78 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 "
        "stat:UNDELIVERABLE err:001 text:",
        "INVENTED-stat-UNDELIVERABLE",
        id="78",
        stat="UNDELIVERABLE",
        state=MessageState.UNDELIVERABLE,
        err="001",
    ),
    # INVENTED: the remaining Appendix B stat words (EXPIRED comes from jasmin#753 below,
    # ACCEPTD from node-smpp#140's builder, the rest from the spec's table)
    R(
        "id:79 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:REJECTD "
        "err:008 text:",
        "INVENTED-stat-REJECTD",
        stat="REJECTD",
        state=MessageState.REJECTED,
    ),
    R(
        "id:80 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:ACCEPTD "
        "err:000 text:",
        "INVENTED-stat-ACCEPTD",
        stat="ACCEPTD",
        state=MessageState.ACCEPTED,
    ),
    R(
        "id:81 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:DELETED "
        "err:000 text:",
        "INVENTED-stat-DELETED",
        stat="DELETED",
        state=MessageState.DELETED,
    ),
    R(
        "id:82 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:UNKNOWN "
        "err:000 text:",
        "INVENTED-stat-UNKNOWN",
        stat="UNKNOWN",
        state=MessageState.UNKNOWN,
    ),
    R(
        "id:83 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:EXPIRED "
        "err:000 text:",
        "INVENTED-stat-EXPIRED",
        stat="EXPIRED",
        state=MessageState.EXPIRED,
    ),
    # INVENTED: lower-case stat word
    R(
        "id:84 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:delivrd "
        "err:000 text:",
        "INVENTED-stat-lower-case",
        stat="delivrd",
        state=MessageState.DELIVERED,
    ),
    # INVENTED: text that itself contains "id:" and "stat:" (text runs to the end)
    R(
        "id:42 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD "
        "err:000 text:your id:99 stat:UNDELIV",
        "INVENTED-text-contains-keys",
        id="42",
        stat="DELIVRD",
        state=MessageState.DELIVERED,
        err="000",
        text="your id:99 stat:UNDELIV",
    ),
    # INVENTED: same with upper-case keys, so the general (non-Appendix-B) path handles it
    R(
        "ID:43 SUB:001 DLVRD:001 SUBMIT DATE:2401151230 DONE DATE:2401151231 STAT:DELIVRD "
        "ERR:000 TEXT:Your ID:99 STAT:UNDELIV err:5",
        "INVENTED-upper-text-contains-keys",
        id="43",
        stat="DELIVRD",
        err="000",
        text="Your ID:99 STAT:UNDELIV err:5",
    ),
    # INVENTED: trailing CR/LF and leading CR/LF
    R(
        "\r\nid:44 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD "
        "err:000 text:hi\r\n",
        "INVENTED-crlf-around",
        id="44",
        err="000",
        text="hi",
    ),
    # INVENTED: extra spaces between fields and around the colon-less gaps
    R(
        "id:45  sub:001  dlvrd:001  submit date:2401151230  done date:2401151231  "
        "stat:DELIVRD  err:000  text:two  spaces",
        "INVENTED-double-spaces",
        id="45",
        dlvrd="001",
        submitted_at=D(2024, 1, 15, 12, 30),
        stat="DELIVRD",
        err="000",
        text="two  spaces",
    ),
    # raised as a question in https://github.com/onlinecity/php-smpp/issues/29 ("err: 0", a space
    # after the colon); not seen verbatim, receipt INVENTED around it
    R(
        "id:46 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD "
        "err: 0 text:x",
        "php-smpp-29-space-after-colon",
        id="46",
        err="0",
        text="x",
    ),
    # INVENTED: alphanumeric err from the brief
    R(
        "id:47 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:UNDELIV "
        "err:A01 text:",
        "INVENTED-err-A01",
        err="A01",
        state=MessageState.UNDELIVERABLE,
    ),
    # --- KNOWN FAILURES against the current parser (correct expectations) ----------------------
    # jookies/jasmin jasmin/vendor/smpp/pdu/tests/test_pdu_encoding.py
    # (test_DeliverSM_handset_ack_conversion): short_message ends with a C-string NUL terminator.
    # KNOWN FAILURE: text comes back as 'DLVRD TO MOBILE\x00'.
    R(
        "id:1891273321 sub:001 dlvrd:001 submit date:1305050826 done date:1305050826 "
        "stat:DELIVRD err:000 Text:DLVRD TO MOBILE\x00",
        "jasmin-trailing-NUL",
        id="1891273321",
        submitted_at=D(2013, 5, 5, 8, 26),
        state=MessageState.DELIVERED,
        err="000",
        text="DLVRD TO MOBILE",
    ),
    # INVENTED (same terminator as above, but with no text field): KNOWN FAILURE, err comes back
    # as '000\x00'.
    R(
        b"id:0489708364 sub:001 dlvrd:001 submit date:1810151907 done date:1810151907 "
        b"stat:DELIVRD err:000\x00",
        "INVENTED-trailing-NUL-after-err",
        id="0489708364",
        err="000",
        text="",
    ),
    # tauruscorpius/rust-smpp-pdu src/pdu/operations/deliver_sm.rs
    # (can_parse_short_message_from_appendix_b): runs of spaces, "submit   date" with three
    # spaces, "donedate" with none, alphanumeric err.
    # KNOWN FAILURE: "submit   date" is not recognised, so dlvrd becomes
    # '001   submit   date:2103291550' and submit_date/submitted_at are empty/None.
    R(
        "id:2345678901   sub:001   dlvrd:001   submit   date:2103291550   "
        "donedate:2103291551 stat:DELIVRD err:AOK Text:012345678 abcdefghij",
        "rust-smpp-pdu-appendix-b-spacing",
        id="2345678901",
        sub="001",
        dlvrd="001",
        submitted_at=D(2021, 3, 29, 15, 50),
        done_at=D(2021, 3, 29, 15, 51),
        stat="DELIVRD",
        state=MessageState.DELIVERED,
        err="AOK",
        text="012345678 abcdefghij",
    ),
    # same file: mixed-case keys and a misspelt "submt daTE" key.
    # KNOWN FAILURE: the unknown key is swallowed into the id:
    # id == '1A2a71714437 submt daTE:1606161059' (correlation breaks).
    R(
        "iD:1A2a71714437 submt daTE:1606161059 doNE date:1606161059 sTat:DELIvRD eRr:0a0z0",
        "rust-smpp-pdu-mixed-case-unknown-key",
        id="1A2a71714437",
        done_at=D(2016, 6, 16, 10, 59),
        stat="DELIvRD",
        state=MessageState.DELIVERED,
        err="0a0z0",
    ),
    # same file; KNOWN FAILURE as above: id == '1A:-/2a71714437 submt daTE:1606161059'
    R(
        "iD:1A:-/2a71714437 submt daTE:1606161059 doNE date:1606161059 sTat:DELIvRD eRr:0a0z0",
        "rust-smpp-pdu-mixed-case-unknown-key-punct-id",
        id="1A:-/2a71714437",
        done_at=D(2016, 6, 16, 10, 59),
        state=MessageState.DELIVERED,
        err="0a0z0",
    ),
    # opentelecoms-org/jsmpp jsmpp/src/test/java/org/jsmpp/util/DeliveryReceiptParserTest.java
    # (parseWithNoTextAttribute): the message text follows err: without a "text:" key.
    # KNOWN FAILURE: err == '000 testing jsmpp bow'.
    R(
        "id:0123456789 sub:001 dlvrd:001 submit date:0809011130 done date:0809011131 "
        "stat:DELIVRD err:000 testing jsmpp bow",
        "jsmpp-no-text-key",
        id="0123456789",
        submitted_at=D(2008, 9, 1, 11, 30),
        done_at=D(2008, 9, 1, 11, 31),
        state=MessageState.DELIVERED,
        err="000",
    ),
    # https://github.com/kneodev/ksmppd/issues/108 (what the operator sent): the "stat:" key is
    # missing, the bare word DELIVRD follows the done date.
    # KNOWN FAILURE: done_date == '180903120816 DELIVRD', so done_at is None.
    R(
        "id:ce5bc5a9-4f7d-4282-9244-2e1022a9335c sub:000 dlvrd:000 submit date:180903120815 "
        "done date:180903120816 DELIVRD err:000 Text:",
        "ksmppd-108-operator-missing-stat-key",
        id="ce5bc5a9-4f7d-4282-9244-2e1022a9335c",
        submitted_at=D(2018, 9, 3, 12, 8, 15),
        done_at=D(2018, 9, 3, 12, 8, 16),
        err="000",
        text="",
    ),
]


def _check(receipt: DeliveryReceipt, expected: dict[str, object]) -> None:
    got = {k: getattr(receipt, k) for k in expected}
    assert got == expected, f"parsed {receipt!r}"


@pytest.mark.parametrize(("raw", "expected"), REAL_RECEIPTS)
def test_real_world_receipt(raw: str | bytes, expected: dict[str, object]) -> None:
    _check(parse_receipt(raw), expected)


@pytest.mark.parametrize(("raw", "expected"), REAL_RECEIPTS)
def test_real_world_receipt_other_type(raw: str | bytes, expected: dict[str, object]) -> None:
    """The same receipt as bytes (short_message octets) or as str parses to the same fields."""
    other = raw.decode("latin-1") if isinstance(raw, bytes) else raw.encode("latin-1")
    _check(parse_receipt(other), expected)


def test_bytearray_and_memoryview_input() -> None:
    raw = (
        b"id:0000029095 sub:001 dlvrd:001 submit date:211125034959 done date:211125035001 "
        b"stat:DELIVRD err:000 text:"
    )
    assert parse_receipt(bytearray(raw)) == parse_receipt(raw)
    assert parse_receipt(memoryview(raw)) == parse_receipt(raw)
    assert parse_receipt(raw).id == "0000029095"


@pytest.mark.parametrize(
    ("raw", "expected_date"),
    [
        # https://github.com/jookies/jasmin/issues/753 : Jasmin itself emitted YYYYMMDDhhmm (12
        # digits, no seconds). Read as YYMMDDhhmmss it is month 19: it must not become some other
        # date; either None or the intended 2019-06-19 07:20 is acceptable.
        (
            "id:dbd1d8e8-d2a4-4efe-b508-60761b1ae484 submit date:201906190720 "
            "done date:201906190720 stat:EXPIRED err:030",
            D(2019, 6, 19, 7, 20),
        ),
        # https://github.com/jookies/jasmin/issues/195 : the same Jasmin YYYYMMDDhhmm form
        (
            "id:c87c2273-7edb-4bc7-8d3a-7f57f21b625e submit date:201506201641 "
            "done date:201506201641 stat:DELIVRD err:000",
            D(2015, 6, 20, 16, 41),
        ),
    ],
    ids=["jasmin-753", "jasmin-195"],
)
def test_jasmin_yyyymmddhhmm_dates_are_not_misread(raw: str, expected_date: dt.datetime) -> None:
    r = parse_receipt(raw)
    assert r.id == raw.split()[0][3:]
    assert r.err in ("030", "000")
    assert r.submitted_at in (None, expected_date)
    assert r.done_at in (None, expected_date)


# --- the parse error ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        # https://github.com/farhadi/node-smpp/issues/140 (Example 3, with its template filled in):
        # "message text:" where the id should be, so there is no id key at all
        "message text:0000029095 sub:001 dlvrd:0 submit date:2007281200 done date: "
        "stat:ACCEPTD err:000",
        "",
        b"",
        "   \r\n",
        "hello, this is a normal MO message",
        "id: sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000",
        "stat:DELIVRD err:000 text:id:5",  # "id:" inside the text, not preceded by white space
        "sub:001 dlvrd:001 stat:DELIVRD err:000 text:hello id:",
        b"\x00\x00\x00",
    ],
    ids=[
        "node-smpp-140-no-id",
        "empty-str",
        "empty-bytes",
        "whitespace",
        "mo-text",
        "empty-id",
        "id-only-inside-text",
        "empty-id-inside-text",
        "nuls",
    ],
)
def test_receipt_without_id_raises_receipt_parse_error(raw: str | bytes) -> None:
    with pytest.raises(ReceiptParseError) as info:
        parse_receipt(raw)
    err = info.value
    assert isinstance(err, SmppError)
    assert err.status == CommandStatus.ESME_RX_P_APPN
    assert err.status == 0x65
    assert err.retriable is False


def test_receipt_parse_error_status_and_retriable() -> None:
    err = ReceiptParseError("no id")
    assert isinstance(err, SmppError)
    assert isinstance(err, Exception)
    assert err.status == CommandStatus.ESME_RX_P_APPN
    assert err.retriable is False
    assert ReceiptParseError.retriable is False
    assert str(err) == "no id"


# --- robustness: only ReceiptParseError may escape -------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        # U+017F LATIN SMALL LETTER LONG S and U+0131 LATIN SMALL LETTER DOTLESS I match "s"/"i"
        # under re.IGNORECASE, so the key regex accepts them, but _canon_key() looks the
        # lower-cased spelling up in _CANON. KNOWN FAILURE: KeyError escapes.
        "id:1 \u017fub:001",
        "\u0131d:5 stat:DELIVRD",
        "id:1 stat:DELIVRD \u0131d:2",
        "id:1 \u017ftat:DELIVRD",
        "id:1 sub:1 dlvrd:1 \u017fubmit date:2401011200",
    ],
    ids=["long-s-sub", "dotless-i-id", "dotless-i-id-later", "long-s-stat", "long-s-submit"],
)
def test_non_ascii_case_fold_of_a_key_does_not_crash(raw: str) -> None:
    with contextlib.suppress(ReceiptParseError):
        parse_receipt(raw)


_TOKENS = st.sampled_from(
    [
        "id:",
        "ID:",
        "sub:",
        "dlvrd:",
        "submit date:",
        "submit_date:",
        "done date:",
        "DONE DATE:",
        "stat:",
        "err:",
        "text:",
        "Text:",
        " ",
        "\r\n",
        "\x00",
        "DELIVRD",
        "0",
        "2401151230",
        "\u017f",
        "\u0131",
    ]
)
_SOUP = st.lists(st.one_of(_TOKENS, st.text(max_size=5)), max_size=25).map("".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), _SOUP))
@example("id:1 \u017fub:001")
@example("\u0131d:5")
def test_arbitrary_text_parses_or_raises_receipt_parse_error(raw: str) -> None:
    try:
        r = parse_receipt(raw)
    except ReceiptParseError:
        return
    assert isinstance(r, DeliveryReceipt)
    assert r.id != ""
    # the derived properties never raise either
    _ = (r.state, r.submitted_at, r.done_at, r.submitted_count, r.delivered_count)


@settings(max_examples=300)
@given(st.one_of(st.binary(), _SOUP.map(lambda s: s.encode("utf-8"))))
def test_arbitrary_bytes_parse_or_raise_receipt_parse_error(raw: bytes) -> None:
    try:
        r = parse_receipt(raw)
    except ReceiptParseError:
        return
    assert r.id != ""
    _ = (r.state, r.submitted_at, r.done_at, r.submitted_count, r.delivered_count)


# --- build / to_text / encode ----------------------------------------------------------------


def test_build_matches_cloudhopper_to_short_message() -> None:
    # twitter-archive/cloudhopper-smpp DeliveryReceiptTest.toShortMessage: the same receipt built
    # by another implementation, byte for byte.
    r = DeliveryReceipt.build(
        "0123456789",
        MessageState.DELIVERED,
        submitted_at=D(2010, 5, 23, 20, 39),
        done_at=D(2010, 5, 24, 23, 39),
        err=12,
        text="This is a sample message that I want to have added to the delivery receipt",
    )
    assert r.to_text() == (
        "id:0123456789 sub:001 dlvrd:001 submit date:1005232039 done date:1005242339 "
        "stat:DELIVRD err:012 text:This is a sample mes"
    )
    assert r.encode() == r.to_text().encode("ascii")
    assert parse_receipt(r.encode()) == r


def test_build_defaults_and_options() -> None:
    when = D(2024, 1, 15, 12, 30, 45)
    undeliv = DeliveryReceipt.build(
        "abc", MessageState.UNDELIVERABLE, submitted_at=when, done_at=when
    )
    assert (undeliv.stat, undeliv.sub, undeliv.dlvrd, undeliv.err) == (
        "UNDELIV",
        "001",
        "000",
        "000",
    )
    assert undeliv.submit_date == "2401151230"
    delivered = DeliveryReceipt.build("abc", "DELIVRD", submitted_at=when, done_at=when, sub=3)
    assert (delivered.sub, delivered.dlvrd) == ("003", "003")
    seconds = DeliveryReceipt.build(
        "abc", "ENROUTE", submitted_at=when, done_at=when, date_digits=12
    )
    assert seconds.submit_date == "240115123045"
    assert seconds.submitted_at == when
    alnum = DeliveryReceipt.build("abc", "UNDELIV", submitted_at=when, done_at=when, err="A01")
    assert alnum.err == "A01"
    with pytest.raises(ValueError):
        DeliveryReceipt.build("abc", "DELIVRD", submitted_at=when, done_at=when, date_digits=14)


_STAT_WORDS = [
    "ENROUTE",
    "DELIVRD",
    "DELIVERED",
    "EXPIRED",
    "DELETED",
    "UNDELIV",
    "UNDELIVERABLE",
    "ACCEPTD",
    "ACCEPTED",
    "UNKNOWN",
    "REJECTD",
    "REJECTED",
]
_WORD_STATE = {
    "ENROUTE": MessageState.ENROUTE,
    "DELIVRD": MessageState.DELIVERED,
    "DELIVERED": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "ACCEPTED": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
    "REJECTED": MessageState.REJECTED,
}

_ids = st.one_of(
    st.text(alphabet="0123456789abcdefABCDEF-", min_size=1, max_size=64),
    st.text(alphabet="0123456789", min_size=1, max_size=20),
    st.integers(0, 10**12).map(lambda n: f"{n:010d}"),  # decimal, zero-padded
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex.upper()),
)
_stats = st.one_of(st.sampled_from(_STAT_WORDS), st.sampled_from(list(MessageState)))
_errs = st.one_of(
    st.integers(0, 999),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=3, max_size=3),
)
_dates = st.datetimes(min_value=D(2000, 1, 1), max_value=D(2099, 12, 31, 23, 59, 59))


def _clean(t: str) -> bool:
    # Fields are "as sent, stripped": only text whose first 20 characters have no surrounding
    # white space can round-trip.
    return t[:20] == t[:20].strip()


_ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_latin1_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.characters(min_codepoint=0xA1, max_codepoint=0xFF),
    ),
    max_size=40,
)
_unicode_printable = st.text(st.characters(codec="utf-8").filter(str.isprintable), max_size=40)
# Text that looks like receipt keys: it comes last, so it must survive whole.
_keyish_text = st.lists(
    st.sampled_from(["id:", "ID:", "text:", "Text:", "stat:", "err:", "sub:", "x", "1", " "]),
    max_size=8,
).map("".join)


@st.composite
def _receipts(draw: st.DrawFn, text: st.SearchStrategy[str]) -> tuple[DeliveryReceipt, dict]:
    args = dict(
        id=draw(_ids),
        stat=draw(_stats),
        submitted_at=draw(_dates),
        done_at=draw(_dates),
        err=draw(_errs),
        text=draw(text.filter(_clean)),
        sub=draw(st.integers(0, 999)),
        dlvrd=draw(st.none() | st.integers(0, 999)),
        date_digits=draw(st.sampled_from([10, 12])),
    )
    r = DeliveryReceipt.build(
        args["id"],
        args["stat"],
        submitted_at=args["submitted_at"],
        done_at=args["done_at"],
        err=args["err"],
        text=args["text"],
        sub=args["sub"],
        dlvrd=args["dlvrd"],
        date_digits=args["date_digits"],
    )
    return r, args


def _check_against_args(parsed: DeliveryReceipt, args: dict) -> None:
    stat = args["stat"]
    word = stat.stat if isinstance(stat, MessageState) else stat
    assert parsed.id == args["id"]
    assert parsed.stat == word
    assert parsed.state is _WORD_STATE[word]
    assert parsed.submitted_count == args["sub"]
    if args["dlvrd"] is not None:
        assert parsed.delivered_count == args["dlvrd"]
    keep = {"microsecond": 0} if args["date_digits"] == 12 else {"second": 0, "microsecond": 0}
    assert parsed.submitted_at == args["submitted_at"].replace(**keep)
    assert parsed.done_at == args["done_at"].replace(**keep)
    err = args["err"]
    assert parsed.err == (f"{err:03d}" if isinstance(err, int) else err)
    assert parsed.text == args["text"][:20]


@settings(max_examples=300)
@given(_receipts(st.one_of(_ascii_text, _keyish_text)))
def test_round_trip_text_printable_ascii(case: tuple[DeliveryReceipt, dict]) -> None:
    r, args = case
    parsed = parse_receipt(r.to_text())
    assert parsed == r
    _check_against_args(parsed, args)


@settings(max_examples=300)
@given(_receipts(_unicode_printable))
def test_round_trip_text_any_printable(case: tuple[DeliveryReceipt, dict]) -> None:
    r, args = case
    parsed = parse_receipt(r.to_text())
    assert parsed == r
    _check_against_args(parsed, args)


@settings(max_examples=300)
@given(_receipts(_latin1_text))
def test_round_trip_encode_bytes(case: tuple[DeliveryReceipt, dict]) -> None:
    r, args = case
    raw = r.encode()
    assert isinstance(raw, bytes)
    assert raw == r.to_text().encode("latin-1")
    parsed = parse_receipt(raw)
    assert parsed == r
    _check_against_args(parsed, args)


@settings(max_examples=200)
@given(_receipts(_ascii_text))
def test_round_trip_with_upper_case_keys(case: tuple[DeliveryReceipt, dict]) -> None:
    """A carrier that upper-cases every key sends the same receipt (text last, so keys inside
    the text are not at risk)."""
    r, _ = case
    shouted = (
        f"ID:{r.id} SUB:{r.sub} DLVRD:{r.dlvrd} SUBMIT DATE:{r.submit_date} "
        f"DONE DATE:{r.done_date} STAT:{r.stat} ERR:{r.err} TEXT:{r.text}"
    )
    assert parse_receipt(shouted) == r


_WHEN = D(2024, 1, 15, 12, 30)
_TEXT_WITH_TEXT_KEY = DeliveryReceipt.build(
    "1", "DELIVRD", submitted_at=_WHEN, done_at=_WHEN, text="see text:below"
)


@settings(max_examples=300)
@given(_receipts(st.one_of(_ascii_text, _keyish_text)), st.permutations(range(7)), st.booleans())
# KNOWN FAILURE: the text comes back as 'see'
@example((_TEXT_WITH_TEXT_KEY, {}), [1, 0, 2, 3, 4, 5, 6], False)
def test_round_trip_with_fields_reordered(
    case: tuple[DeliveryReceipt, dict], order: list[int], upper: bool
) -> None:
    """Carriers reorder fields (cloudhopper's parseReceiptWithFieldsOutOfOrder). With text still
    last, every other key has been seen by the time text starts, so text runs to the end."""
    r, _ = case
    fields = [
        f"id:{r.id}",
        f"sub:{r.sub}",
        f"dlvrd:{r.dlvrd}",
        f"submit date:{r.submit_date}",
        f"done date:{r.done_date}",
        f"stat:{r.stat}",
        f"err:{r.err}",
    ]
    if upper:
        fields = [f.split(":", 1)[0].upper() + ":" + f.split(":", 1)[1] for f in fields]
    raw = " ".join(fields[i] for i in order) + f" text:{r.text}"
    assert parse_receipt(raw) == r


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # INVENTED: upper-case keys and no SUB/DLVRD (so not the Appendix B fast path); the SMS
        # text quoted in the receipt itself contains "text:". Every other key has been seen by
        # then, so the second "text:" can only be part of the text.
        # KNOWN FAILURE: text == 'reply'.
        (
            "ID:9001 SUBMIT DATE:2401151230 DONE DATE:2401151231 STAT:DELIVRD ERR:000 "
            "TEXT:reply text: STOP",
            "reply text: STOP",
        ),
        # INVENTED: cloudhopper-style reordered receipt (text last) with "text:" in the text.
        # KNOWN FAILURE: text == 'see'.
        (
            "sub:001 id:1 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD "
            "err:000 text:see text:below",
            "see text:below",
        ),
    ],
    ids=["upper-no-sub-dlvrd", "reordered"],
)
def test_text_containing_text_key_runs_to_the_end(raw: str, text: str) -> None:
    r = parse_receipt(raw)
    assert r.stat == "DELIVRD"
    assert r.err == "000"
    assert r.text == text


def test_message_state_maps_into_the_neutral_receipt_state_as_it_is() -> None:
    # The fast receipt path hands message_state up unchanged: it must be the neutral value.
    assert set(RECEIPT_STATES) == {int(s) for s in MessageState}
    for code, state in RECEIPT_STATES.items():
        assert type(state) is ReceiptState and int(state) == code
        assert state.name == MessageState(code).name
