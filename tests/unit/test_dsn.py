"""Reading delivery status notifications: Postfix and Exchange shapes,
malformed and hostile ones (the cost: tests/fuzz/test_fuzz_dsn.py)."""

from __future__ import annotations

from esp_coord.intake import HeadersOnly, parse_head
from esp_coord.intake.dsn import (
    MAX_DIAGNOSTIC,
    MAX_RECIPIENTS,
    FailedRecipient,
    is_delivery_report,
    read_delivery_report,
)
from tests.support.dsn import BOUNDARY, exchange_ndr, postfix_dsn
from tests.support.mail import BOT, CLAIRE, JULIEN

OURS = "<ans.0123456789abcdef0123456789abcdef@esp-valdelorge.mssante.test>"


def our_answer(message_id: str = OURS) -> bytes:
    return (f"From: Coordination <{BOT}>\r\nTo: Claire DURAND <{CLAIRE}>\r\n"
            "Subject: RE: AIDE\r\nAuto-Submitted: auto-replied\r\n"
            f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nPatiente MARTIN Jeanne\r\n").encode()


def test_a_postfix_bounce() -> None:
    raw = postfix_dsn(our_answer(), CLAIRE)
    assert parse_head(raw).automatic is not None  # never answered, as before
    report = read_delivery_report(raw)
    assert report is not None
    assert report.message_ids == (OURS,)
    assert report.failed == (FailedRecipient(
        original=CLAIRE, final=CLAIRE, status="5.1.1",
        diagnostic=(f"550 5.1.1 <{CLAIRE}>: Recipient address rejected: User unknown in "
                    "virtual mailbox table")),)
    assert report.failed[0].addresses == (CLAIRE,)


def test_an_exchange_report_with_the_original_headers_only() -> None:
    raw = exchange_ndr(OURS, JULIEN)
    report = read_delivery_report(raw)
    assert report is not None
    assert report.message_ids == (OURS,)  # part 3, then In-Reply-To: the same id
    (failed,) = report.failed
    assert (failed.original, failed.final, failed.status) == (JULIEN, JULIEN, "5.2.2")
    assert failed.diagnostic.startswith("554 5.2.2 mailbox full; STOREDRV.Deliver.Exception")
    assert len(failed.diagnostic) <= MAX_DIAGNOSTIC and failed.diagnostic.endswith("...")
    # Never the bounced mail's subject: only its header fields that name it.
    assert "MARTIN" not in repr(report)


def test_ids_named_elsewhere_and_their_order() -> None:
    other = "<x.1@esp-valdelorge.mssante.test>"
    raw = postfix_dsn(b"Subject: no id\r\n\r\nbody\r\n", CLAIRE).replace(
        b"Reporting-MTA: dns; relay.medecin.mssante.test\r\n",
        b"Reporting-MTA: dns; relay.medecin.mssante.test\r\n"
        b"Original-Envelope-Id: ans.42@esp-valdelorge.mssante.test\r\n"
        + f"X-Original-Message-ID: {other}\r\n".encode())
    report = read_delivery_report(raw)
    assert report is not None
    assert report.message_ids == (other, "<ans.42@esp-valdelorge.mssante.test>")
    # An envelope id that is no message id names nothing.
    raw = raw.replace(b"Original-Envelope-Id: ans.42@esp-valdelorge.mssante.test",
                      b"Original-Envelope-Id: QQ314159")
    assert read_delivery_report(raw).message_ids == (other,)  # type: ignore[union-attr]


def test_only_failures_count() -> None:
    raw = postfix_dsn(our_answer(), CLAIRE)
    for action in (b"delayed", b"delivered", b"relayed", b"expanded"):
        report = read_delivery_report(raw.replace(b"Action: failed", b"Action: " + action))
        assert report is not None and report.failed == ()
    # Failed without a readable status: "other or undefined" (RFC 3463 5.0.0).
    report = read_delivery_report(raw.replace(b"Status: 5.1.1", b"Status: bad"))
    assert report is not None and report.failed[0].status == "5.0.0"
    report = read_delivery_report(raw.replace(b"Status: 5.1.1", b"Status: 4.4.7 (expired)"))
    assert report is not None and report.failed[0].status == "4.4.7"


def test_not_reports_or_unreadable_ones_are_none() -> None:
    good = postfix_dsn(our_answer(), CLAIRE)
    assert is_delivery_report('multipart/report; report-type="delivery-status"; boundary=x')
    assert is_delivery_report("multipart/report; report-type=global-delivery-status")
    assert not is_delivery_report("multipart/report; report-type=disposition-notification")
    assert not is_delivery_report("multipart/mixed")
    for raw in (
        our_answer(),                                                     # not a report
        good.replace(b"report-type=delivery-status", b"report-type=disposition-notification"),
        good.replace(b"Content-Type: message/delivery-status", b"Content-Type: text/plain"),
        good.replace(BOUNDARY.encode(), b"other-boundary", 1),            # parts not found
        good.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n",                      # no body at all
        b"",
        b"\xff\xfe garbage \x00",
        HeadersOnly(good.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", 30 * 2**20),
    ):
        assert read_delivery_report(raw) is None
    assert read_delivery_report(good, max_message_bytes=100) is None
    too_deep = good.replace(b"This is a MIME-encapsulated message.",
                            b"boundary " * 100)
    assert read_delivery_report(too_deep) is None  # intake._too_complex


def test_malformed_blocks_are_skipped_not_fatal() -> None:
    raw = postfix_dsn(our_answer(), CLAIRE)
    cases = {
        b"Final-Recipient: rfc822; " + CLAIRE.encode(): b"Final-Recipient: x400; /C=FR/",
        b"Original-Recipient: rfc822;" + CLAIRE.encode(): b"Original-Recipient: nonsense",
    }
    broken = raw
    for old, new in cases.items():
        broken = broken.replace(old, new)
    report = read_delivery_report(broken)
    assert report is not None and report.failed == ()  # no address to blame
    # 8-bit garbage in a diagnostic: printable ASCII only comes out.
    dirty = raw.replace(b"smtp; 550 5.1.1", "smtp; 550 5.1.1 \x1b[31mé\u202e".encode())
    report = read_delivery_report(dirty)
    assert report is not None
    assert report.failed[0].diagnostic.isascii() and "\x1b" not in report.failed[0].diagnostic
    # A status part sent base64 (RFC 3464 says 7bit) is not understood: no failure read.
    report = read_delivery_report(raw.replace(
        b"Content-Type: message/delivery-status\r\n",
        b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n"))
    assert report is None or all(f.addresses for f in report.failed)


def test_a_global_report_is_read_too() -> None:
    raw = postfix_dsn(our_answer(), CLAIRE).replace(
        b"report-type=delivery-status", b"report-type=global-delivery-status").replace(
        b"Content-Type: message/delivery-status", b"Content-Type: message/global-delivery-status")
    report = read_delivery_report(raw)
    assert report is not None and report.message_ids == (OURS,)
    assert [f.status for f in report.failed] == ["5.1.1"]


def test_recipients_are_bounded() -> None:
    block = f"Final-Recipient: rfc822; {CLAIRE}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
    raw = postfix_dsn(our_answer(), CLAIRE).replace(
        b"Final-Recipient:", (block * 500).encode() + b"Final-Recipient:", 1)
    report = read_delivery_report(raw)
    assert report is not None and len(report.failed) == MAX_RECIPIENTS
