"""iCalendar invitations read back with icalendar: RFC 5545 essentials."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Timezone

from esp_coord.invitations import attachment, cancellation, invitation, vtimezone
from esp_coord.outgoing import build_mail
from plans.meetings import Meeting
from plans.recurrence import Rhythm

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 25, 8, 45, tzinfo=PARIS)
BOT = ("Coordination ESP", "coordination@esp.test")
PEOPLE = [("Claire DURAND", "claire@esp.test"), ("Julien MARIE", "julien@esp.test")]


def meeting(tz: str = "Europe/Paris", rhythm: Rhythm | None = None) -> Meeting:
    zone = ZoneInfo(tz)
    return Meeting(ref="RCP-2026-001", start=datetime(2026, 12, 3, 12, 30, tzinfo=zone),
                   duration_minutes=90, location="Maison de santé, salle 1",
                   participants=[a for _, a in PEOPLE], organizer="claire@esp.test",
                   created_at=NOW, timezone=tz,
                   rhythm=rhythm or Rhythm("MONTHLY", byweekday=(3,), bysetpos=1))


def read(data: bytes) -> tuple[Calendar, object]:
    cal = Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def test_request_has_the_rfc_5545_essentials() -> None:
    data = invitation(meeting(), domain="esp.test", organizer=BOT, attendees=PEOPLE, now=NOW,
                      agenda_refs=["PPS-2026-0001"])
    assert b"\r\n" in data and all(len(line) <= 75 for line in data.split(b"\r\n"))
    cal, event = read(data)
    assert cal["VERSION"] == "2.0" and cal["PRODID"] and cal["METHOD"] == "REQUEST"
    (tz,) = cal.walk("VTIMEZONE")
    assert tz["TZID"] == "Europe/Paris"
    assert event["UID"] == "RCP-2026-001@esp.test" and event["SEQUENCE"] == 0
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert event.decoded("DTSTART") == datetime(2026, 12, 3, 12, 30, tzinfo=PARIS)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=90)
    assert event.decoded("DTSTAMP") == NOW.astimezone(UTC)
    assert event["RRULE"].to_ical() == b"FREQ=MONTHLY;BYDAY=TH;BYSETPOS=1"
    assert str(event["ORGANIZER"]) == "mailto:coordination@esp.test"
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:claire@esp.test", "mailto:julien@esp.test"]
    assert all(a.params["PARTSTAT"] == "NEEDS-ACTION" and a.params["RSVP"] == "TRUE"
               and a.params["ROLE"] == "REQ-PARTICIPANT" for a in attendees)
    assert "PPS-2026-0001" in str(event["DESCRIPTION"])
    # The first occurrences, expanded by the calendar's own rule and zone.
    assert str(event["LOCATION"]) == "Maison de santé, salle 1"


def test_sequence_exdate_and_cancel_of_one_occurrence() -> None:
    m = meeting()
    m.cancel_occurrence(date(2027, 1, 7), by="claire@esp.test", at=NOW)
    _, updated = read(invitation(m, domain="esp.test", organizer=BOT, attendees=PEOPLE, now=NOW))
    assert updated["SEQUENCE"] == 1
    exdates = [d.dt for d in updated["EXDATE"].dts]
    assert exdates == [datetime(2027, 1, 7, 12, 30, tzinfo=PARIS)]
    cal, cancel = read(cancellation(m, domain="esp.test", organizer=BOT, attendees=PEOPLE,
                                    now=NOW, day=date(2027, 1, 7)))
    assert cal["METHOD"] == "CANCEL" and cancel["STATUS"] == "CANCELLED"
    assert cancel["UID"] == "RCP-2026-001@esp.test" and cancel["SEQUENCE"] == 1
    assert cancel.decoded("RECURRENCE-ID") == datetime(2027, 1, 7, 12, 30, tzinfo=PARIS)
    assert cancel["RECURRENCE-ID"].params["TZID"] == "Europe/Paris"
    assert "RRULE" not in cancel


def test_cancel_of_the_series() -> None:
    m = meeting()
    m.cancel(by="claire@esp.test", at=NOW)
    cal, cancel = read(cancellation(m, domain="esp.test", organizer=BOT, attendees=PEOPLE,
                                    now=NOW))
    assert cal["METHOD"] == "CANCEL" and cancel["SEQUENCE"] == 1
    assert "RECURRENCE-ID" not in cancel and cancel["STATUS"] == "CANCELLED"
    assert cancel.decoded("DTSTART") == datetime(2026, 12, 3, 12, 30, tzinfo=PARIS)


@pytest.mark.parametrize("key", ["Europe/Paris", "America/Martinique", "Indian/Reunion",
                                 "America/Cayenne", "Pacific/Noumea", "America/New_York",
                                 "Australia/Sydney"])
def test_vtimezone_agrees_with_the_tz_database(key: str) -> None:
    tz = vtimezone(key)
    assert tz["TZID"] == key
    # Renamed, so that icalendar builds the zone from our rules, not from its name.
    # (icalendar caches zones by TZID: one name per zone.)
    renamed = tz.to_ical().replace(f"TZID:{key}".encode(), f"TZID:X-test-{key}".encode())
    ours, real = Timezone.from_ical(renamed).to_tz(), ZoneInfo(key)
    moment, checked = datetime(2026, 1, 1, tzinfo=UTC), set()
    while moment < datetime(2029, 1, 1, tzinfo=UTC):
        local = moment.astimezone(real)
        if not _near_change(moment, real):
            wall = local.replace(tzinfo=None)
            assert wall.replace(tzinfo=ours).utcoffset() == local.utcoffset(), (key, moment)
            checked.add(local.utcoffset())
        moment += timedelta(hours=5)
    assert len(checked) == (1 if key in ("America/Martinique", "Indian/Reunion",
                                         "America/Cayenne", "Pacific/Noumea") else 2)


def _near_change(moment: datetime, zone: ZoneInfo) -> bool:
    """Within two hours of an offset change, wall times are ambiguous: skip them."""
    offsets = {(moment + timedelta(hours=h)).astimezone(zone).utcoffset() for h in (-2, 2)}
    return len(offsets) > 1


def test_overseas_request_carries_its_own_zone() -> None:
    data = invitation(meeting("America/Martinique", Rhythm("WEEKLY", 2)), domain="esp.test",
                      organizer=BOT, attendees=PEOPLE, now=NOW)
    cal, event = read(data)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["America/Martinique"]
    assert event["DTSTART"].to_ical() == b"20261203T123000"
    assert event.decoded("DTSTART").astimezone(UTC).hour == 16
    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;INTERVAL=2"


def test_in_a_mail_as_clients_expect() -> None:
    data = invitation(meeting(), domain="esp.test", organizer=BOT, attendees=PEOPLE, now=NOW)
    raw = build_mail(sender_address=BOT[1], sender_name=BOT[0], to=PEOPLE, subject="RCP",
                     text="Invitation", message_id="<RCP-2026-001.x@esp.test>", date=NOW,
                     attachments=[attachment(data, "REQUEST")])
    msg = email.message_from_bytes(raw, policy=policy.default)
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    methods = {p.get_param("method") for p in parts}
    assert methods == {"REQUEST"} and len(parts) == 2     # inline alternative and file
    assert any(p.get_filename() == "invitation.ics" for p in parts)
    for part in parts:
        assert Calendar.from_ical(part.get_payload(decode=True))["METHOD"] == "REQUEST"
