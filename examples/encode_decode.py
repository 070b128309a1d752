"""Build a submit_sm, frame a byte stream, and read a delivery receipt — no network needed."""

from smsengine.smpp import DeliverSm, Framer, SubmitSm, Tag, Tlv, parse_receipt

submit = SubmitSm(
    sequence_number=1,
    source_addr_ton=5,
    source_addr="SHOP",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="8613800138000",
    registered_delivery=1,
    short_message=b"Your order 1234 has shipped",
)
receipt = DeliverSm(
    sequence_number=9,
    esm_class=0x04,
    source_addr="8613800138000",
    destination_addr="SHOP",
    short_message=b"id:00A1 sub:001 dlvrd:001 submit date:2611231200 "
    b"done date:2611231201 stat:DELIVRD err:000 text:Your order 1234 has",
    tlvs=(Tlv(Tag.receipted_message_id, "00A1"), Tlv(Tag.message_state, 2)),
)

framer = Framer()
stream = submit.encode() + receipt.encode()
for event in framer.feed(stream[:50]) + framer.feed(stream[50:]):
    print(type(event).__name__, event.sequence_number)
    if isinstance(event, DeliverSm) and event.is_receipt:
        r = parse_receipt(event.short_message)
        print("  receipt for", r.id, "->", r.stat, r.state)
