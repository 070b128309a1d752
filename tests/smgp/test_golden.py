"""Golden wire vectors for every SMGP PDU, written by hand from the reference.

Each vector was laid out octet by octet from ``/work/shared/specs/smgp.md`` section 2 (header:
PacketLength, RequestID, SequenceID — big-endian uint32), section 4 (bodies), section 5 (TLVs)
and section 9 (status report), and its length checked against the totals given there (Login
42, Login_Resp 33, Submit 126 + 21N + L + T, Submit_Resp / Deliver_Resp 26, Deliver 89 + L +
T, the empty PDUs 12, Query 31, Query_Resp 71). They were NOT produced by running our
encoder. The Login, Login_Resp, Submit, Submit_Resp, report Deliver, Deliver_Resp and empty
PDUs are the ones printed in section 14.

Conventions: ``#`` starts a comment, whitespace is ignored, and ``00*N`` stands for N NUL
octets (the padding of a fixed-width Octet String). Every vector is checked in both
directions: ``decode(octets) == pdu`` and ``encode(pdu) == octets``.
"""

from __future__ import annotations

import re

import pytest

from smsengine.smgp import (
    PDU_CLASSES,
    ActiveTest,
    ActiveTestResp,
    Deliver,
    DeliverResp,
    Exit,
    ExitResp,
    Login,
    LoginResp,
    Pdu,
    Query,
    QueryResp,
    Report,
    Submit,
    SubmitResp,
    Version,
    authenticator_client,
    decode,
    encode,
    encode_report,
    parse_report,
)

V13, V20, V30 = Version.V13, Version.V20, Version.V30


def unhex(vector: str) -> bytes:
    """The octets of a commented hex vector; ``00*N`` is N NUL octets."""
    text = "".join(line.split("#", 1)[0] for line in vector.splitlines())
    text = re.sub(r"([0-9a-fA-F]{2})\*(\d+)", lambda m: m.group(1) * int(m.group(2)), text)
    return bytes.fromhex("".join(text.split()))


AUTH_CLIENT = bytes.fromhex("600ff8891882f26519a877d6137e3706")
AUTH_SERVER = bytes.fromhex("d89466040a419920248c1def036a00db")

LOGIN = """
    0000002a                            # PacketLength 42
    00000001                            # Login
    00000001                            # SequenceID 1
    3132333435363738                    # ClientID "12345678"
    600ff8891882f26519a877d6137e3706    # AuthenticatorClient (section 6 / 14)
    02                                  # LoginMode 2, transmit
    0614dc45                            # TimeStamp 102030405 = 01-02 03:04:05
    30                                  # ClientVersion 3.0
"""
LOGIN_PDU = Login(
    sequence_id=1, client_id="12345678", authenticator_client=AUTH_CLIENT, login_mode=2,
    timestamp=102030405, client_version=0x30,
)  # fmt: skip

LOGIN_RESP = """
    00000021                            # PacketLength 33
    80000001                            # Login_Resp
    00000001                            # SequenceID 1
    00000000                            # Status 0
    d89466040a419920248c1def036a00db    # AuthenticatorServer, 4-octet Status form
    30                                  # ServerVersion 3.0
"""
LOGIN_RESP_PDU = LoginResp(
    sequence_id=1, status=0, authenticator_server=AUTH_SERVER, server_version=0x30
)

LOGIN_RESP_REFUSED = """
    00000021 80000001 00000009
    00000015                            # Status 21, authentication error
    00*16                               # AuthenticatorServer empty
    20                                  # ServerVersion 2.0
"""
LOGIN_RESP_REFUSED_PDU = LoginResp(sequence_id=9, status=21, server_version=0x20)

SUBMIT = """
    00000097                            # PacketLength 151 = 126 + 21 + 4
    00000002                            # Submit
    00000002                            # SequenceID 2
    06                                  # MsgType 6, MT
    01                                  # NeedReport
    00                                  # Priority
    54455354 00*6                       # ServiceID "TEST" (10)
    3030                                # FeeType "00"
    303030303030                        # FeeCode "000000"
    303030303030                        # FixedFee "000000"
    08                                  # MsgFormat 8, UCS2
    00*17                               # ValidTime
    00*17                               # AtTime
    3130363930303031 00*13              # SrcTermID "10690001" (21)
    00*21                               # ChargeTermID empty
    01                                  # DestTermIDCount
    3133333132333435363738 00*10        # DestTermID "13312345678" (21)
    04                                  # MsgLength
    6d4b8bd5                            # MsgContent "测试" in UCS2
    00*8                                # Reserve
"""
SUBMIT_PDU = Submit(
    sequence_id=2, msg_type=6, need_report=1, priority=0, service_id="TEST", fee_type="00",
    fee_code="000000", fixed_fee="000000", msg_format=8, src_term_id="10690001",
    dest_term_ids=("13312345678",), msg_content="测试".encode("utf-16-be"),
)  # fmt: skip

# Two destinations, a UDH segment, every Submit TLV of section 5 (tag order), one unknown TLV.
SUBMIT_TLVS = """
    00000134                            # PacketLength 308 = 126 + 42 + 9 + 131
    00000002 0000002a                   # Submit, SequenceID 42
    06 01 03                            # MsgType 6, NeedReport 1, Priority 3
    5345525649434531 3233               # ServiceID "SERVICE123" (10, no padding)
    3031                                # FeeType "01"
    303030303130                        # FeeCode "000010"
    303030353030                        # FixedFee "000500"
    0f                                  # MsgFormat 15, GB18030
    3235303130323033303430353030302b 00 # ValidTime "250102030405000+" (17)
    00*17                               # AtTime empty
    313036393030303131 00*12            # SrcTermID "106900011"
    3133333030303030303030 00*10        # ChargeTermID "13300000000"
    02                                  # DestTermIDCount 2
    3133333132333435363738 00*10        # DestTermID "13312345678"
    303230383733313033323300 00*9       # DestTermID "02087310323" (fixed-net)
    09                                  # MsgLength 9
    050003a70201 414243                 # UDH (ref a7, 2 parts, part 1) + "ABC"
    00*8                                # Reserve
    0001 0001 00                        # TP_pid 0
    0002 0001 01                        # TP_udhi 1
    0003 0014 31323334353637383930 00*10 # LinkID "1234567890", padded to 20
    0004 0001 02                        # ChargeUserType 2, SP
    0005 0001 00                        # ChargeTermType 0
    0006 0004 50534431                  # ChargeTermPseudo "PSD1" (variable)
    0007 0001 01                        # DestTermType 1
    0008 0006 414141424242              # DestTermPseudo "AAABBB"
    0009 0001 02                        # PkTotal 2
    000a 0001 01                        # PkNumber 1
    000b 0001 03                        # SubmitMsgType 3
    000c 0001 00                        # SPDealResult 0
    0010 0008 3132333435363738          # MsgSrc "12345678"
    0012 0015 5032303235 00*16          # MServiceID "P2025", padded to 21
    7f01 0003 010203                    # an unknown tag, kept raw
"""
SUBMIT_TLVS_PDU = Submit(
    sequence_id=42, msg_type=6, need_report=1, priority=3, service_id="SERVICE123",
    fee_type="01", fee_code="000010", fixed_fee="000500", msg_format=15,
    valid_time="250102030405000+", src_term_id="106900011", charge_term_id="13300000000",
    dest_term_ids=("13312345678", "02087310323"), msg_content=bytes.fromhex("050003a70201")
    + b"ABC", tp_pid=0, tp_udhi=1, link_id="1234567890", charge_user_type=2,
    charge_term_type=0, charge_term_pseudo="PSD1", dest_term_type=1,
    dest_term_pseudo="AAABBB", pk_total=2, pk_number=1, submit_msg_type=3, sp_deal_result=0,
    msg_src="12345678", m_service_id="P2025", other_tlvs=((0x7F01, b"\x01\x02\x03"),),
)  # fmt: skip

SUBMIT_RESP = """
    0000001a                            # PacketLength 26
    80000002                            # Submit_Resp
    00000002                            # SequenceID 2
    01006101161700012345                # MsgID, the spec's example (section 7)
    00000000                            # Status 0
"""
SUBMIT_RESP_PDU = SubmitResp(
    sequence_id=2, msg_id=bytes.fromhex("01006101161700012345"), status=0
)

SUBMIT_RESP_BUSY = """
    0000001a 80000002 fffffffe
    00*10                               # no MsgID
    00000001                            # Status 1, system busy
"""
SUBMIT_RESP_BUSY_PDU = SubmitResp(sequence_id=0xFFFFFFFE, status=1)

REPORT_CONTENT = """
    69643a                              # "id:"
    01006101161700012345                # Id: the Submit_Resp MsgID, binary
    207375623a 303031                   # " sub:001"
    20646c7672643a 303031               # " dlvrd:001"
    205375626d697420646174653a 32353031303230333034  # " Submit date:2501020304"
    20646f6e6520646174653a 32353031303230333035      # " done date:2501020305"
    20737461743a 44454c49565244         # " stat:DELIVRD"
    206572723a 303030                   # " err:000"
    20546578743a 00*20                  # " Text:" and 20 NULs
"""
REPORT = Report(
    msg_id=bytes.fromhex("01006101161700012345"), sub="001", dlvrd="001",
    submit_date="2501020304", done_date="2501020305", stat="DELIVRD", err="000",
)  # fmt: skip

DELIVER_REPORT = f"""
    000000d3                            # PacketLength 211 = 89 + 122
    00000003                            # Deliver
    00000007                            # SequenceID 7
    01006101161700012346                # MsgID of this Deliver
    01                                  # IsReport
    00                                  # MsgFormat 0
    3230323530313032303330353030        # RecvTime "20250102030500"
    3133333132333435363738 00*10        # SrcTermID "13312345678"
    3130363930303031 00*13              # DestTermID "10690001"
    7a                                  # MsgLength 122
    {REPORT_CONTENT}
    00*8                                # Reserve
"""
DELIVER_REPORT_PDU = Deliver(
    sequence_id=7, msg_id=bytes.fromhex("01006101161700012346"), is_report=1, msg_format=0,
    recv_time="20250102030500", src_term_id="13312345678", dest_term_id="10690001",
    msg_content=unhex(REPORT_CONTENT),
)  # fmt: skip

# An MO message with every Deliver TLV of section 5, in tag order, LinkID padded to 20.
DELIVER_MO = """
    00000094                            # PacketLength 148 = 89 + 4 + 55
    00000003 00000008                   # Deliver, SequenceID 8
    0a0b0c0d0e0f10111213                # MsgID (not BCD: opaque)
    00                                  # IsReport 0
    0f                                  # MsgFormat 15
    3230323531323331323335393539        # RecvTime "20251231235959"
    3138393030303030303030 00*10        # SrcTermID "18900000000"
    313036393030303131 00*12            # DestTermID "106900011"
    04                                  # MsgLength 4
    cdcbb6a9                            # "退订" in GB18030
    00*8                                # Reserve
    0001 0001 00                        # TP_pid 0
    0002 0001 00                        # TP_udhi 0
    0003 0014 4c4944 00*17              # LinkID "LID"
    000b 0001 02                        # SubmitMsgType 2
    000c 0001 01                        # SPDealResult 1
    000d 0001 01                        # SrcTermType 1
    000e 0002 5053                      # SrcTermPseudo "PS"
"""
# The same MO as a gateway may send it: TLVs out of order, LinkID bare (compact).
DELIVER_MO_RECEIVED = """
    00000083                            # PacketLength 131 = 89 + 4 + 38
    00000003 00000008
    0a0b0c0d0e0f10111213 00 0f 3230323531323331323335393539
    3138393030303030303030 00*10 313036393030303131 00*12
    04 cdcbb6a9 00*8
    000e 0002 5053                      # SrcTermPseudo "PS"
    000d 0001 01                        # SrcTermType 1
    0003 0003 4c4944                    # LinkID "LID", bare
    000c 0001 01                        # SPDealResult 1
    000b 0001 02                        # SubmitMsgType 2
    0002 0001 00                        # TP_udhi 0
    0001 0001 00                        # TP_pid 0
"""
DELIVER_MO_PDU = Deliver(
    sequence_id=8, msg_id=bytes(range(10, 20)), is_report=0, msg_format=15,
    recv_time="20251231235959", src_term_id="18900000000", dest_term_id="106900011",
    msg_content="退订".encode("gb18030"), tp_pid=0, tp_udhi=0, link_id="LID",
    src_term_type=1, src_term_pseudo="PS", submit_msg_type=2, sp_deal_result=1,
)  # fmt: skip

DELIVER_RESP = """
    0000001a                            # PacketLength 26
    80000003                            # Deliver_Resp
    00000007                            # SequenceID 7
    01006101161700012346                # MsgID echoed
    00000000                            # Status 0
"""
DELIVER_RESP_PDU = DeliverResp(
    sequence_id=7, msg_id=bytes.fromhex("01006101161700012346"), status=0
)

QUERY = """
    0000001f                            # PacketLength 31
    00000007 00000003                   # Query, SequenceID 3
    3230323530313032                    # QueryTime "20250102"
    01                                  # QueryType 1, by service
    54455354 00*6                       # QueryCode "TEST"
"""
QUERY_PDU = Query(sequence_id=3, query_time="20250102", query_type=1, query_code="TEST")

QUERY_RESP = """
    00000047                            # PacketLength 71
    80000007 00000003                   # Query_Resp, SequenceID 3
    3230323530313032 01 54455354 00*6   # QueryTime, QueryType, QueryCode
    00000001 00000002 00000003 00000004 # MT_TLMsg, MT_Tlusr, MT_Scs, MT_WT
    00000005 00000006 00000007 00000008 # MT_FL, MO_Scs, MO_WT, MO_FL
    00*8                                # Reserve
"""
QUERY_RESP_PDU = QueryResp(
    sequence_id=3, query_time="20250102", query_type=1, query_code="TEST", mt_tlmsg=1,
    mt_tlusr=2, mt_scs=3, mt_wt=4, mt_fl=5, mo_scs=6, mo_wt=7, mo_fl=8,
)  # fmt: skip

GOLDEN: list[tuple[str, str, Pdu]] = [
    ("login", LOGIN, LOGIN_PDU),
    ("login_resp", LOGIN_RESP, LOGIN_RESP_PDU),
    ("login_resp_refused", LOGIN_RESP_REFUSED, LOGIN_RESP_REFUSED_PDU),
    ("submit", SUBMIT, SUBMIT_PDU),
    ("submit_tlvs", SUBMIT_TLVS, SUBMIT_TLVS_PDU),
    ("submit_resp", SUBMIT_RESP, SUBMIT_RESP_PDU),
    ("submit_resp_busy", SUBMIT_RESP_BUSY, SUBMIT_RESP_BUSY_PDU),
    ("deliver_report", DELIVER_REPORT, DELIVER_REPORT_PDU),
    ("deliver_mo", DELIVER_MO, DELIVER_MO_PDU),
    ("deliver_resp", DELIVER_RESP, DELIVER_RESP_PDU),
    ("active_test", "0000000c 00000004 00000005", ActiveTest(sequence_id=5)),
    ("active_test_resp", "0000000c 80000004 00000005", ActiveTestResp(sequence_id=5)),
    ("exit", "0000000c 00000006 00000006", Exit(sequence_id=6)),
    ("exit_resp", "0000000c 80000006 00000006", ExitResp(sequence_id=6)),
    ("query", QUERY, QUERY_PDU),
    ("query_resp", QUERY_RESP, QUERY_RESP_PDU),
]


@pytest.mark.parametrize(("vector", "pdu"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden_both_ways(vector: str, pdu: Pdu) -> None:
    octets = unhex(vector)
    assert int.from_bytes(octets[:4], "big") == len(octets)  # the vector's own arithmetic
    assert decode(octets) == pdu
    assert encode(pdu) == octets
    # The framer's memoryview path gives the same.
    assert decode(memoryview(bytearray(octets))) == pdu


def test_every_pdu_class_has_a_golden_vector() -> None:
    assert {type(p) for _, _, p in GOLDEN} == set(PDU_CLASSES.values())


def test_the_spec_totals() -> None:
    assert len(unhex(LOGIN)) == 42
    assert len(unhex(LOGIN_RESP)) == 33
    assert len(unhex(SUBMIT)) == 126 + 21 * 1 + 4
    assert len(unhex(SUBMIT_RESP)) == 26
    assert len(unhex(DELIVER_REPORT)) == 211
    assert len(unhex(REPORT_CONTENT)) == 122


# --- section 6 / 14: the Login built from the authenticator -----------------------------------


def test_login_built_from_the_authenticator_matches_the_vector() -> None:
    auth = authenticator_client("12345678", "secret", 102030405)
    pdu = Login(sequence_id=1, client_id="12345678", authenticator_client=auth,
                login_mode=2, timestamp=102030405, client_version=V30)  # fmt: skip
    assert encode(pdu) == unhex(LOGIN)


# --- section 9: the report content --------------------------------------------------------------


def test_report_content_both_ways() -> None:
    assert encode_report(REPORT) == unhex(REPORT_CONTENT)
    assert parse_report(unhex(REPORT_CONTENT)) == REPORT
    assert DELIVER_REPORT_PDU.report == REPORT
    assert DELIVER_REPORT_PDU.report is not None
    assert DELIVER_REPORT_PDU.report.message_id == "01006101161700012345"
    assert DELIVER_MO_PDU.report is None


def test_real_110_octet_report_from_smsgate_test_data() -> None:
    """The report quoted in SMSGate's TestSMGPMsgIdUtil (section 9): no space after the id,
    ``submit_date``/``done_date``, ``txt:`` and GBK text; its MsgID is not BCD."""
    content = unhex("""
        69643a 6495c36ac4ea6b00000b
        7375623a303031 20646c7672643a303031
        207375626d69745f646174653a31383037303532323037
        20646f6e655f646174653a31383037303532323037
        20737461743a44454c49565244 206572723a303030
        207478743a d6d0b9fa306138616535
    """)
    assert len(content) == 110
    rep = parse_report(content)
    assert rep == Report(
        msg_id=bytes.fromhex("6495c36ac4ea6b00000b"), sub="001", dlvrd="001",
        submit_date="1807052207", done_date="1807052207", stat="DELIVRD", err="000",
        text="中国0a8ae5".encode("gbk"),
    )  # fmt: skip
    assert rep.message_id == "6495c36ac4ea6b00000b"


# --- section 5: TLV forms -----------------------------------------------------------------------


def test_deliver_tlvs_in_any_order_and_length_are_read() -> None:
    assert decode(unhex(DELIVER_MO_RECEIVED)) == DELIVER_MO_PDU
    assert encode(DELIVER_MO_PDU, compact_tlvs=True) != unhex(DELIVER_MO_RECEIVED)  # order


def _tlvs_of(wire: bytes, content_length: int, dests: int = 1) -> bytes:
    return wire[126 + 21 * dests + content_length :]


def test_tlv_examples_of_section_14() -> None:
    pdu = Submit(dest_term_ids=("1",), tp_udhi=1, pk_total=2, pk_number=1,
                 link_id="1234567890", msg_src="12345678")  # fmt: skip
    assert _tlvs_of(encode(pdu), 0) == unhex("""
        0002000101                          # TP_udhi = 1
        000300 14 31323334353637383930 00*10  # LinkID spec-padded
        0009000102                          # PkTotal = 2
        000a000101                          # PkNumber = 1
        0010 0008 3132333435363738          # MsgSrc
    """)
    # Compact: the bare string, as N sends it.
    assert _tlvs_of(encode(pdu, compact_tlvs=True), 0) == unhex("""
        0002000101 0003000a31323334353637383930 0009000102 000a000101
        0010 0008 3132333435363738
    """)


def test_tlv_lengths_other_than_the_table_are_read_by_their_length() -> None:
    """G sends the string plus one NUL, N the bare string: both give the same LinkID."""
    head = encode(Submit(dest_term_ids=("1",)))
    for tlv in ("0003000b3132333435363738393000", "0003000a31323334353637383930"):
        wire = bytearray(head + unhex(tlv))
        wire[0:4] = len(wire).to_bytes(4, "big")
        got = decode(bytes(wire))
        assert isinstance(got, Submit)
        assert got.link_id == "1234567890" and got.other_tlvs == ()


# --- section 13: versions -------------------------------------------------------------------


def test_submit_in_2_0_has_no_tlvs() -> None:
    wire = encode(SUBMIT_TLVS_PDU, V20)
    assert len(wire) == 126 + 42 + 9
    assert wire == unhex(SUBMIT_TLVS)[: 126 + 42 + 9].replace(
        unhex("00000134"), unhex("000000b1"), 1
    )


def test_submit_in_1_3_has_no_fixed_fee() -> None:
    wire = encode(SUBMIT_PDU, V13)
    spec = unhex(SUBMIT)
    # Everything after FeeCode (offset 12 + 21) moves 6 octets up; PacketLength 145.
    assert wire == unhex("00000091") + spec[4:33] + spec[39:]
    assert decode(wire, V13) == SUBMIT_PDU.__replace__(fixed_fee="")  # type: ignore[attr-defined]
