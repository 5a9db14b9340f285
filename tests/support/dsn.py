"""Delivery status notifications (RFC 3464) as real relays write them."""

from __future__ import annotations

from tests.support.mail import BOT

BOUNDARY = "8A3C21A0B5.1763885564/relay.medecin.mssante.test"


def postfix_dsn(original: bytes, recipient: str, *, status: str = "5.1.1",
                report_id: str = "<20261123081244.8A3C21A0B5@relay.medecin.mssante.test>",
                diagnostic: str | None = None) -> bytes:
    """A Postfix bounce: human part, delivery-status, the whole original."""
    diagnostic = diagnostic or (f"smtp; 550 {status} <{recipient}>: Recipient\r\n"
                                "    address rejected: User unknown in virtual mailbox table")
    return (
        "Return-Path: <>\r\n"
        "From: MAILER-DAEMON@relay.medecin.mssante.test (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"To: {BOT}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f'\tboundary="{BOUNDARY}"\r\n'
        f"Message-Id: {report_id}\r\n"
        "Date: Mon, 23 Nov 2026 09:12:44 +0100 (CET)\r\n\r\n"
        "This is a MIME-encapsulated message.\r\n\r\n"
        f"--{BOUNDARY}\r\n"
        "Content-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host relay.medecin.mssante.test.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        f"<{recipient}>: host mx.medecin.mssante.test[10.0.0.5] said: 550\r\n"
        f"    {status} User unknown (in reply to RCPT TO command)\r\n\r\n"
        f"--{BOUNDARY}\r\n"
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; relay.medecin.mssante.test\r\n"
        "X-Postfix-Queue-ID: 8A3C21A0B5\r\n"
        f"X-Postfix-Sender: rfc822; {BOT}\r\n"
        "Arrival-Date: Mon, 23 Nov 2026 09:12:40 +0100 (CET)\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mx.medecin.mssante.test\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n\r\n"
        f"--{BOUNDARY}\r\n"
        "Content-Description: Undelivered Message\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
    ).encode() + original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + (
        f"\r\n--{BOUNDARY}--\r\n").encode()


def exchange_ndr(original_id: str, recipient: str, *, subject: str = "Non remis : AIDE",
                 headers: str = "") -> bytes:
    """An Exchange Online non-delivery report: alternative human part,
    delivery-status, the original's header block only; threaded under it."""
    b = "_000_PR3P193MB0892A1_"
    c = "_001_PR3P193MB0892A1_"
    return (
        "From: Microsoft Outlook\r\n"
        " <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@chu.mssante.test>\r\n"
        f"To: <{BOT}>\r\n"
        "Date: Mon, 23 Nov 2026 08:12:44 +0000\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f'\tboundary="{b}"\r\n'
        "X-MS-Exchange-Message-Is-Ndr:\r\n"
        "Content-Language: fr-FR\r\n"
        "Message-ID:\r\n"
        " <4f2c9a1e-0b7d-4c11-9d55-7e8a1c2b3d4e@PR3P193MB0892.EURP193.PROD.OUTLOOK.COM>\r\n"
        f"In-Reply-To: {original_id}\r\n"
        f"References: {original_id}\r\n"
        "Thread-Topic: AIDE\r\n"
        f"Subject: {subject}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n\r\n"
        f"--{b}\r\n"
        "Content-Type: multipart/alternative; differences=Content-Type;\r\n"
        f'\tboundary="{c}"\r\n\r\n'
        f"--{c}\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        "Vm90cmUgbWVzc2FnZSBuJ2EgcGFzIHB1IMOqdHJlIHJlbWlzLg==\r\n\r\n"
        f"--{c}\r\n"
        'Content-Type: text/html; charset="utf-8"\r\n\r\n'
        "<html><body>Votre message n'a pas pu &ecirc;tre remis.</body></html>\r\n\r\n"
        f"--{c}--\r\n\r\n"
        f"--{b}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns;PR3P193MB0892.EURP193.PROD.OUTLOOK.COM\r\n"
        "Received-From-MTA: dns;relay.esp-valdelorge.mssante.test\r\n"
        "Arrival-Date: Mon, 23 Nov 2026 08:12:40 +0000\r\n\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Final-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.2.2\r\n"
        "Diagnostic-Code: smtp;554 5.2.2 mailbox full;\r\n"
        " STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded;\r\n"
        " Failed to process message due to a permanent exception with message\r\n"
        " [BeginDiagnosticData]Cannot open mailbox /o=ExchangeLabs/ou=Exchange\r\n"
        " Administrative Group/cn=Recipients/cn=0123456789abcdef[EndDiagnosticData]\r\n"
        "X-Display-Name: Julien MARIE\r\n\r\n"
        f"--{b}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Return-Path: {BOT}\r\n"
        f"From: Coordination <{BOT}>\r\n"
        f"To: Julien MARIE <{recipient}>\r\n"
        "Subject: [PPS-2026-0001] Plan mis a jour - MARTIN Jeanne\r\n"
        f"Message-ID: {original_id}\r\n{headers}"
        "MIME-Version: 1.0\r\n\r\n"
        f"--{b}--\r\n"
    ).encode()
