"""The quarantine notice's wording and its reminder-hour instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from esp_coord.scheduling.quarantine_notice import REASONS, notice_answer, notice_instant
from esp_coord.store.mail import QuarantinedMail
from tests.support.config import offline_config as _config

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


def plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def test_one_mail_singular_every_reason_worded_and_a_hostile_address_on_one_line() -> None:
    config = _config()
    one = notice_answer(config, "Ana COSTA", "ana@x.test", [
        QuarantinedMail(T0, "x@y.test\r\nSubject: injected", "quarantined", "no-sender")])
    text = plain(one.text)
    assert "1 message reçu par le service a été mis en quarantaine" in text
    assert "de x@y.testSubject:injected" in text and "\r" not in one.text
    assert "1. Le 27/11/2026 à 12h00, de " in text  # the team's time, written the French way
    assert plain(one.subject) == "Messages en quarantaine : 1 depuis le dernier avis"
    assert one.to == ("ana@x.test",) and one.auto_submitted == "auto-generated"
    every = [QuarantinedMail(T0, "a@b.test", "quarantined", code) for code in REASONS]
    text = plain(notice_answer(config, "Ana", "ana@x.test", every).text)
    assert all(reason in text for reason in REASONS.values())
    assert "motif non enregistré" in plain(notice_answer(config, "Ana", "ana@x.test", [
        QuarantinedMail(T0, "a@b.test", "quarantined", None)]).text)


def test_a_long_list_is_cut_with_the_count_of_the_rest() -> None:
    mails = [QuarantinedMail(T0 + timedelta(minutes=i), f"s{i}@b.test", "quarantined",
                             "not-on-roster") for i in range(103)]
    text = plain(notice_answer(_config(), "Ana", "ana@x.test", mails).text)
    assert "103 messages reçus" in text and "100. Le" in text and "101. Le" not in text
    assert "… et 3 autres messages." in text


def test_the_cut_off_is_the_last_reminder_hour_across_daylight_saving() -> None:
    config = _config()  # Europe/Paris, 08:00
    assert notice_instant(datetime(2026, 10, 25, 8, 0, tzinfo=PARIS), config) == datetime(
        2026, 10, 25, 8, 0, tzinfo=PARIS)
    assert notice_instant(datetime(2026, 10, 25, 7, 59, tzinfo=PARIS), config) == datetime(
        2026, 10, 24, 8, 0, tzinfo=PARIS)
    assert notice_instant(datetime(2026, 3, 29, 23, 0, tzinfo=PARIS), config) == datetime(
        2026, 3, 29, 8, 0, tzinfo=PARIS)
