"""Reading a calendar answer (``esp_coord.itip_reply``) as Outlook and
Thunderbird send it, what is refused and why, and the meeting's record of
answers (``plans.attendance``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esp_coord.intake import calendar_part, parse_mail
from esp_coord.interpret import interpret
from esp_coord.itip_reply import (
    MAX_CALENDAR_BYTES,
    PROBLEMS,
    DayAnswer,
    meeting_ref_of_uid,
    read_reply,
)
from plans.attendance import CalendarReply, answer_on, answers_on, with_reply
from tests.support.calendar_replies import (
    DOMAIN,
    outlook_calendar,
    outlook_reply,
    thunderbird_calendar,
    thunderbird_reply,
)
from tests.support.config import offline_config

PARIS = ZoneInfo("Europe/Paris")
CLAIRE = "claire.durand@medecin.mssante.test"
WHEN = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)


def read(text: str, sender: str = CLAIRE, method: str = "REPLY"):  # type: ignore[no-untyped-def]
    return read_reply(method, text, sender=sender, tz=PARIS)


def test_outlook_accepts_the_series_and_declines_one_day() -> None:
    series = read(outlook_calendar(name="DURAND, Claire", address=CLAIRE.upper(),
                                   status="ACCEPTED", when=WHEN, sequence=2))
    assert not isinstance(series, str)
    assert (series.uid, series.attendee, series.sequence) == (
        f"RCP-2026-001@{DOMAIN}", CLAIRE, 2)
    assert series.answers == (DayAnswer(None, "accepted"),)
    # Outlook names the occurrence by its Windows zone and local start.
    one = read(outlook_calendar(name="Claire", address=CLAIRE, status="DECLINED", when=WHEN,
                                day=date(2026, 12, 3)))
    assert not isinstance(one, str) and one.answers == (DayAnswer(date(2026, 12, 3),
                                                                   "declined"),)


def test_thunderbird_answers_the_series_and_its_exceptions_at_once() -> None:
    reply = read(thunderbird_calendar(name="Claire", address=CLAIRE, status="TENTATIVE",
                                      when=WHEN, days={date(2027, 1, 7): "DECLINED"}))
    assert not isinstance(reply, str)
    assert reply.answers == (DayAnswer(None, "tentative"),
                             DayAnswer(date(2027, 1, 7), "declined"))


def test_a_utc_recurrence_id_is_the_team_s_day() -> None:
    text = outlook_calendar(name="C", address=CLAIRE, status="ACCEPTED", when=WHEN,
                            day=date(2026, 12, 3)).replace(
        "RECURRENCE-ID;TZID=Romance Standard Time:20261203T123000",
        "RECURRENCE-ID:20261203T233000Z")  # 00:30 on the 4th in Paris
    reply = read(text)
    assert not isinstance(reply, str) and reply.answers[0].day == date(2026, 12, 4)


def test_the_mail_s_calendar_part_is_found_in_both_shapes() -> None:
    outlook = outlook_reply(name="C", address=CLAIRE, status="ACCEPTED", when=WHEN, mid="o")
    thunderbird = thunderbird_reply(name="C", address=CLAIRE, status="ACCEPTED", when=WHEN,
                                    mid="t")
    for raw in (outlook, thunderbird):
        found = calendar_part(raw, max_bytes=MAX_CALENDAR_BYTES)
        assert found is not None and found[0] == "REPLY" and "BEGIN:VEVENT" in found[1]
    # Over the bound, nothing is decoded at all.
    assert calendar_part(outlook, max_bytes=100) is None
    assert calendar_part(b"From: a@b\r\n\r\nno calendar\r\n", max_bytes=10_000) is None


@pytest.mark.parametrize(("change", "problem"), [
    (lambda t: t.replace("METHOD:REPLY", "METHOD:COUNTER"), "not-reply"),
    (lambda t: t.replace(CLAIRE, "claire.durand@ailleurs.test"), "no-attendee"),
    (lambda t: t.replace("PARTSTAT=ACCEPTED", "PARTSTAT=NEEDS-ACTION"), "no-status"),
    (lambda t: t.replace("PARTSTAT=ACCEPTED;", ""), "no-status"),
    (lambda t: t.replace("END:VEVENT", "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:other@x\r\n"
                         f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{CLAIRE}\r\nEND:VEVENT"),
     "several-uids"),
    (lambda t: t.replace("END:VCALENDAR", ""), "unreadable"),
    (lambda t: t.replace("END:VEVENT", "END:VTODO"), "unreadable"),
    (lambda t: t.replace("RRULE:FREQ=MONTHLY;BYDAY=1TH", "RECURRENCE-ID:demain"), "unreadable"),
    (lambda t: t.replace("UID:", "X-UID:"), "unreadable"),
    (lambda t: "BEGIN:VEVENT\r\n" + t, "unreadable"),
    (lambda t: t + "\r\n" + "X-PAD:" + "x" * MAX_CALENDAR_BYTES, "unreadable"),
    (lambda t: "", "unreadable"),
])
def test_what_is_not_an_answer_says_why(change, problem) -> None:  # type: ignore[no-untyped-def]
    text = outlook_calendar(name="C", address=CLAIRE, status="ACCEPTED", when=WHEN)
    assert not isinstance(read(text), str)
    assert read(change(text)) == problem
    assert problem in PROBLEMS


def test_an_alarm_s_attendee_is_not_an_answer() -> None:
    """Thunderbird's VALARM names an ATTENDEE too (an e-mail alarm's address)."""
    text = thunderbird_calendar(name="C", address="julien.marie@infirmier.mssante.test",
                                status="ACCEPTED", when=WHEN).replace(
        "ATTENDEE:mailto:julien.marie", f"ATTENDEE;PARTSTAT=DECLINED:mailto:{CLAIRE}\r\n"
        "X-A:julien.marie")
    assert read(text) == "no-attendee"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*"BEGIN:VCALENDAREVTMHOD;=\"\\,\r\n \t@",
                                  "BEGIN:VEVENT\r\n", "END:VEVENT\r\n", "\r\n ",
                                  "ATTENDEE;PARTSTAT=ACCEPTED:mailto:" + CLAIRE + "\r\n",
                                  "RECURRENCE-ID;TZID=X:", "20261203T123000",
                                  "UID:RCP-2026-001@" + DOMAIN + "\r\n"]),
                max_size=80).map("".join))
def test_any_text_is_an_answer_or_a_problem(text: str) -> None:
    for wrapped in (text, "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n" + text + "\r\nEND:VCALENDAR"):
        result = read(wrapped)
        if isinstance(result, str):
            assert result in PROBLEMS
        else:
            assert result.attendee == CLAIRE and result.answers


def test_only_our_meetings_uids() -> None:
    assert meeting_ref_of_uid(f"RCP-2026-001@{DOMAIN.upper()}", DOMAIN) == "RCP-2026-001"
    for uid in ("RCP-2026-001@evil.test", "RCP-2026-001", f"PPS-2026-0001@{DOMAIN}",
                f"RCP-26-1@{DOMAIN}", f"040000008200E00074C5B7101A82E008@{DOMAIN}",
                f"RCP-٢٠٢٦-001@{DOMAIN}"):
        assert meeting_ref_of_uid(uid, DOMAIN) is None, uid


def test_parse_reports_what_would_be_recorded() -> None:
    config = offline_config()
    raw = thunderbird_reply(name="Claire", address=CLAIRE, status="ACCEPTED", when=WHEN,
                            mid="p", days={date(2026, 12, 3): "DECLINED"})
    report = interpret(raw, config)
    assert report["command"] == "ignored" and "recorded" in report["ignored_reason"]
    assert report["calendar_reply"] == {"meeting_ref": "RCP-2026-001", "problem": None,
                                        "answers": [{"day": None, "status": "accepted"},
                                                    {"day": "2026-12-03", "status": "declined"}]}
    paul = "paul.girard@medecin.mssante.test"
    other = interpret(outlook_reply(name="Paul", address=paul, status="ACCEPTED", when=WHEN,
                                    mid="q", calendar=outlook_calendar(
                                        name="C", address=CLAIRE, status="ACCEPTED",
                                        when=WHEN)), config)
    assert other["calendar_reply"] == {"meeting_ref": None, "answers": [],
                                       "problem": "no-attendee"}
    assert parse_mail(raw).attachments  # the calendar is an attachment, never the body
    # A server-side calendar's answer, marked automatic, is recorded all the same.
    automatic = interpret(raw.replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\n"
                                      b"Auto-Submitted: auto-generated\r\n", 1), config)
    assert "automatic" in automatic["ignored_reason"]
    assert automatic["calendar_reply"] == report["calendar_reply"]


# --- plans.attendance -----------------------------------------------------------------


def _reply(status: str, day: date | None, minutes: int, who: str = CLAIRE) -> CalendarReply:
    return CalendarReply(who, status, day, datetime(2026, 11, 25, 9, tzinfo=UTC)
                         + timedelta(minutes=minutes))


def test_the_latest_word_counts_day_by_day() -> None:
    dec3, jan7 = date(2026, 12, 3), date(2027, 1, 7)
    replies: list[CalendarReply] = []
    for reply in (_reply("accepted", None, 0), _reply("declined", dec3, 1),
                  _reply("tentative", None, 0, who="julien@x")):
        replies = with_reply(replies, reply)
    assert answers_on(replies, dec3) == {CLAIRE: "declined", "julien@x": "tentative"}
    assert answers_on(replies, jan7) == {CLAIRE: "accepted", "julien@x": "tentative"}
    # Accepting the whole series again, later, covers the 3rd as well.
    replies = with_reply(replies, _reply("accepted", None, 5))
    assert answer_on(replies, CLAIRE, dec3) == _reply("accepted", None, 5)
    # One entry per person and day, whatever the number of answers.
    for minutes in range(10, 20):
        replies = with_reply(replies, _reply("declined", dec3, minutes))
    assert len(replies) == 3
    # An answer older than the one kept (mails read out of order) changes nothing.
    assert with_reply(replies, _reply("accepted", dec3, 2)) == replies


def test_a_series_and_its_exception_in_one_mail() -> None:
    """Same instant: the day's own answer wins for that day."""
    dec3 = date(2026, 12, 3)
    replies = with_reply(with_reply([], _reply("accepted", None, 0)),
                         _reply("declined", dec3, 0))
    assert answers_on(replies, dec3) == {CLAIRE: "declined"}
    assert CalendarReply.from_dict(replies[1].to_dict()) == replies[1]
