"""Calendar answers (iTIP REPLY by mail) shaped as the clients send them.

Outlook (Exchange, French): ``multipart/alternative`` with a quoted-printable
text part (often empty, or the person's comment), an HTML part and
``text/calendar; charset="utf-8"; method=REPLY`` in base64; the calendar has
``PRODID:Microsoft Exchange Server 2010``, a VTIMEZONE under the Windows name
``Romance Standard Time``, the answering ``ATTENDEE`` first, ``COMMENT``,
``X-MICROSOFT-CDO-*`` lines, and ``RECURRENCE-ID`` for one occurrence.

Thunderbird: ``multipart/mixed`` holding a ``multipart/alternative`` (text
« X a accepté votre invitation », then ``text/calendar; method=REPLY`` in
8 bit) and the same calendar as ``application/ics; name=invite.ics``
(comm-central ``CalItipEmailTransport._createTempImipFile``); the calendar has
the Mozilla PRODID, an Olson VTIMEZONE, ``X-MOZ-*`` lines and a VALARM.
"""

from __future__ import annotations

import base64
import quopri
from datetime import UTC, date, datetime

DOMAIN = "esp-valdelorge.mssante.test"
BOT = f"coordination@{DOMAIN}"
_OUTLOOK_SUBJECT = {"ACCEPTED": "Accepté", "DECLINED": "Refusé", "TENTATIVE": "Provisoire"}
_THUNDERBIRD_SUBJECT = {"ACCEPTED": "Accepté", "DECLINED": "Refusé",
                        "TENTATIVE": "Accepté provisoirement"}
_THUNDERBIRD_BODY = {"ACCEPTED": "a accepté", "DECLINED": "a décliné",
                     "TENTATIVE": "a accepté provisoirement"}
TITLE = "Réunion de concertation pluriprofessionnelle (RCP-2026-001)"


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """RFC 5545 folding at 75 octets, as both clients do."""
    out, data = [], line.encode("utf-8")
    while len(data) > 75:
        cut = 75
        while (data[cut] & 0xC0) == 0x80:  # never inside a UTF-8 sequence
            cut -= 1
        out.append(data[:cut].decode())
        data = b" " + data[cut:]
    out.append(data.decode())
    return "\r\n".join(out)


def _calendar(lines: list[str]) -> str:
    return "".join(_fold(line) + "\r\n" for line in lines)


def outlook_calendar(*, name: str, address: str, status: str, when: datetime,
                     uid: str = f"RCP-2026-001@{DOMAIN}", day: date | None = None,
                     sequence: int = 0, comment: str = "") -> str:
    start = "20261203T123000" if day is None else f"{day:%Y%m%d}T123000"
    event = [
        "BEGIN:VEVENT",
        f"ATTENDEE;PARTSTAT={status};CN={name}:mailto:{address}",
        f"COMMENT;LANGUAGE=fr-FR:{comment}\\n",
        *([] if day is not None else ["RRULE:FREQ=MONTHLY;BYDAY=1TH"]),
        f"UID:{uid}",
        f"SUMMARY;LANGUAGE=fr-FR:{_OUTLOOK_SUBJECT[status]} : {TITLE}",
        *([f"RECURRENCE-ID;TZID=Romance Standard Time:{start}"] if day is not None else []),
        f"DTSTART;TZID=Romance Standard Time:{start}",
        f"DTEND;TZID=Romance Standard Time:{start[:9]}140000",
        "CLASS:PUBLIC", "PRIORITY:5", f"DTSTAMP:{_stamp(when)}", "TRANSP:OPAQUE",
        "STATUS:CONFIRMED", f"SEQUENCE:{sequence}",
        "LOCATION;LANGUAGE=fr-FR:Maison de santé\\, salle de réunion du 1er étage",
        f"X-MICROSOFT-CDO-APPT-SEQUENCE:{sequence}", "X-MICROSOFT-CDO-OWNERAPPTID:-1283741265",
        "X-MICROSOFT-CDO-BUSYSTATUS:BUSY", "X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY",
        "X-MICROSOFT-CDO-ALLDAYEVENT:FALSE", "X-MICROSOFT-CDO-IMPORTANCE:1",
        f"X-MICROSOFT-CDO-INSTTYPE:{3 if day is not None else 1}",
        "X-MICROSOFT-DONOTFORWARDMEETING:FALSE", "X-MICROSOFT-DISALLOW-COUNTER:FALSE",
        "END:VEVENT"]
    return _calendar([
        "BEGIN:VCALENDAR", "METHOD:REPLY", "PRODID:Microsoft Exchange Server 2010",
        "VERSION:2.0", "BEGIN:VTIMEZONE", "TZID:Romance Standard Time", "BEGIN:STANDARD",
        "DTSTART:16010101T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200", "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3",
        "END:DAYLIGHT", "END:VTIMEZONE", *event, "END:VCALENDAR"])


def outlook_reply(*, name: str, address: str, status: str, when: datetime, mid: str,
                  day: date | None = None, comment: str = "",
                  calendar: str | None = None) -> bytes:
    """The mail Outlook sends for « Accepter » / « Refuser » / « Provisoire »
    (« Modifier la réponse avant l'envoi » for a ``comment``)."""
    ics = calendar if calendar is not None else outlook_calendar(
        name=name, address=address, status=status, when=when, day=day, comment=comment)
    text = quopri.encodestring((comment + "\r\n").encode("iso-8859-1")).decode("ascii")
    html = quopri.encodestring(
        ('<html><head><meta http-equiv="Content-Type" content="text/html; '
         'charset=iso-8859-1"></head><body><div>' + comment + "</div></body></html>"
         ).encode("iso-8859-1")).decode("ascii")
    b64 = base64.encodebytes(ics.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    boundary = "_000_DB9PR07MB7771A2C3E1F0B6D0E9D4C8B1A0E52DB9PR07MB7771eurp_"
    subject = quopri.encodestring(f"{_OUTLOOK_SUBJECT[status]} : {TITLE}".encode(
        "iso-8859-1"), header=True).decode("ascii")
    topic = quopri.encodestring(TITLE.encode("iso-8859-1"), header=True).decode("ascii")
    return (f'From: "{name}" <{address}>\r\nTo: Coordination ESP du Val de Lorge <{BOT}>\r\n'
            f"Subject: =?iso-8859-1?Q?{subject}?=\r\n"
            f"Thread-Topic: =?iso-8859-1?Q?{topic}?=\r\n"
            "Thread-Index: AQHZ9xK3c2Vx0m6wQkKp1Zb8yCq5Tg==\r\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S %z')}\r\n"
            f"Message-ID: <{mid}@DB9PR07MB7771.eurprd07.prod.outlook.com>\r\n"
            "Accept-Language: fr-FR, en-US\r\nContent-Language: fr-FR\r\n"
            "X-MS-Has-Attach:\r\nX-MS-TNEF-Correlator:\r\n"
            f'Content-Type: multipart/alternative;\r\n\tboundary="{boundary}"\r\n'
            "MIME-Version: 1.0\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/plain; charset=\"iso-8859-1\"\r\n"
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Type: text/html; charset=\"iso-8859-1\"\r\n"
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{html}\r\n"
            f"--{boundary}\r\nContent-Type: text/calendar; charset=\"utf-8\"; method=REPLY\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
            f"--{boundary}--\r\n").encode("ascii")


def thunderbird_calendar(*, name: str, address: str, status: str, when: datetime,
                         uid: str = f"RCP-2026-001@{DOMAIN}",
                         days: dict[date, str] | None = None) -> str:
    """The series' answer, then one VEVENT per day answered otherwise (``days``)."""
    def event(partstat: str, day: date | None) -> list[str]:
        start = "20261203T123000" if day is None else f"{day:%Y%m%d}T123000"
        return [
            "BEGIN:VEVENT", f"CREATED:{_stamp(when)}", f"LAST-MODIFIED:{_stamp(when)}",
            f"DTSTAMP:{_stamp(when)}", f"UID:{uid}", f"SUMMARY:{TITLE}",
            f"ORGANIZER;CN=Coordination ESP du Val de Lorge:mailto:{BOT}",
            f"ATTENDEE;CN={name};PARTSTAT={partstat};ROLE=REQ-PARTICIPANT;"
            f"CUTYPE=INDIVIDUAL:mailto:{address}",
            *(["RRULE:FREQ=MONTHLY;BYDAY=1TH"] if day is None else
              [f"RECURRENCE-ID;TZID=Europe/Paris:{start}"]),
            f"DTSTART;TZID=Europe/Paris:{start}", f"DTEND;TZID=Europe/Paris:{start[:9]}140000",
            "DESCRIPTION:Réunion de concertation pluriprofessionnelle RCP-2026-001\\, "
            "organisée par l'équipe via le service de coordination.",
            "LOCATION:Maison de santé\\, salle de réunion du 1er étage", "SEQUENCE:0",
            "STATUS:CONFIRMED", "TRANSP:OPAQUE", "X-MOZ-RECEIVED-SEQUENCE:0",
            f"X-MOZ-RECEIVED-DTSTAMP:{_stamp(when)}", "X-MOZ-GENERATION:1",
            "BEGIN:VALARM", "ACTION:EMAIL", f"ATTENDEE:mailto:{address}",
            "TRIGGER;VALUE=DURATION:-PT15M", "DESCRIPTION:Rappel", "END:VALARM",
            "END:VEVENT"]
    events = event(status, None)
    for day, partstat in (days or {}).items():
        events += event(partstat, day)
    return _calendar([
        "BEGIN:VCALENDAR", "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN",
        "VERSION:2.0", "METHOD:REPLY", "BEGIN:VTIMEZONE", "TZID:Europe/Paris",
        "X-TZINFO:Europe/Paris[2025b]", "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19700329T020000",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "END:DAYLIGHT", "BEGIN:STANDARD",
        "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "END:STANDARD", "END:VTIMEZONE",
        *events, "END:VCALENDAR"])


def thunderbird_reply(*, name: str, address: str, status: str, when: datetime, mid: str,
                      days: dict[date, str] | None = None, calendar: str | None = None
                      ) -> bytes:
    ics = calendar if calendar is not None else thunderbird_calendar(
        name=name, address=address, status=status, when=when, days=days)
    outer, inner = "Boundary_(ID_qyG4ZdjoAsiZ+Jo19dCbWQ)", "Boundary_(ID_ryU4ZdJoASiZ+Jo21dCbwA)"
    subject = f"{_THUNDERBIRD_SUBJECT[status]} : {TITLE}"
    body = f"{name} <{address}> {_THUNDERBIRD_BODY[status]} votre invitation à l’évènement."
    return (f"Message-ID: <{mid}@{address.split('@')[1]}>\r\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S %z')}\r\n"
            f"From: {name} <{address}>\r\nMIME-Version: 1.0\r\n"
            "User-Agent: Mozilla Thunderbird\r\n"
            f"To: {BOT}\r\nSubject: =?UTF-8?B?"
            f"{base64.b64encode(subject.encode()).decode()}?=\r\n"
            f'Content-type: multipart/mixed; boundary="{outer}"\r\n\r\n\r\n'
            f"--{outer}\r\nContent-type: multipart/alternative;\r\n"
            f' boundary="{inner}"\r\n\r\n\r\n'
            f"--{inner}\r\nContent-type: text/plain; charset=UTF-8\r\n"
            f"Content-transfer-encoding: 8BIT\r\n\r\n{body}\r\n\r\n\r\n"
            f"--{inner}\r\nContent-type: text/calendar; method=REPLY; charset=UTF-8\r\n"
            f"Content-transfer-encoding: 8BIT\r\n\r\n{ics}\r\n\r\n"
            f"--{inner}--\r\n\r\n"
            f"--{outer}\r\nContent-type: application/ics; name=invite.ics\r\n"
            "Content-transfer-encoding: 8BIT\r\n"
            f"Content-disposition: attachment; filename=invite.ics\r\n\r\n{ics}\r\n\r\n"
            f"--{outer}--\r\n").encode()
