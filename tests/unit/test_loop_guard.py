"""The loop guard's rules, on the records the store keeps (pure: no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from esp_coord.intake import parse_mail
from esp_coord.loop_guard import (
    REPEAT_BUDGET,
    SENDER_BUDGET,
    WINDOW,
    base_subject,
    hold_reason,
    is_echo,
    thread_key,
)
from esp_coord.store.records import RecentMail
from tests.cost import assert_linear

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
JULIEN = "julien.marie@infirmier.mssante.test"


def _mail(subject: str, body: str, *, reply: bool = True):  # type: ignore[no-untyped-def]
    threading = "In-Reply-To: <PPS-2026-0001.ack.1@esp.test>\r\n" if reply else ""
    return parse_mail((f"From: {JULIEN}\r\nSubject: {subject}\r\nMessage-ID: <m@x.test>\r\n"
                       f"{threading}\r\n{body}").encode())


def _rows(thread: str, *specs: tuple[str, str | None], ago: timedelta = timedelta(seconds=30)
          ) -> list[RecentMail]:
    return [RecentMail(NOW - ago, outcome, reason, thread) for outcome, reason in specs]


def test_reply_and_forward_prefixes_do_not_make_another_repeat() -> None:
    for subject in ("RE: [PPS-2026-0001] Statut", "TR: RE: [PPS-2026-0001] Statut",
                    "Fwd: Re : [PPS-2026-0001]   Statut", "[EXT] RE: [PPS-2026-0001] Statut",
                    "Réf. : AW: [PPS-2026-0001] Statut", "RE[2]: [PPS-2026-0001] Statut"):
        assert base_subject(subject) == "[pps-2026-0001] statut", subject
    echo = _mail("RE: [PPS-2026-0001] Statut", "> Plan PPS-2026-0001\r\n> x\r\n")
    again = _mail("RE: RE: [PPS-2026-0001] Statut", "")
    assert thread_key(echo) == thread_key(again)
    # Another text of one's own is another repeat: a person writing again.
    assert thread_key(_mail("RE: [PPS-2026-0001] Statut", "FAIT 1")) != thread_key(
        _mail("RE: [PPS-2026-0001] Statut", "FAIT 2"))


def test_an_echo_is_answered_once_not_twice_in_a_row() -> None:
    echo = _mail("RE: [PPS-2026-0001] Statut", "> Plan PPS-2026-0001\r\n")
    assert is_echo(echo)
    assert not is_echo(_mail("STATUT PPS-2026-0001", "", reply=False))
    assert not is_echo(_mail("RE: [PPS-2026-0001] Statut", "FAIT 1"))
    key = thread_key(echo)
    assert hold_reason(echo, key, [], NOW) is None
    assert hold_reason(echo, key, _rows(key, ("answered", "echo-answered")), NOW) == "echo"
    # Older than the window: a new conversation.
    old = _rows(key, ("answered", "echo-answered"), ago=WINDOW + timedelta(seconds=1))
    assert hold_reason(echo, key, old, NOW) is None


def test_the_same_mail_again_and_again_is_paused_once_then_held() -> None:
    away = _mail("RE: [PPS-2026-0001] Statut", "Je suis en tournée.")
    key = thread_key(away)
    answered = [("answered", None)] * REPEAT_BUDGET
    assert hold_reason(away, key, _rows(key, *answered[1:]), NOW) is None
    assert hold_reason(away, key, _rows(key, *answered), NOW) == "loop-paused"
    paused = _rows(key, *answered, ("ignored", "loop-paused"))
    assert hold_reason(away, key, paused, NOW) == "loop-held"
    # Another conversation of the same person is not held by this one.
    other = _mail("FAIT 2 PPS-2026-0001", "RAS", reply=False)
    assert hold_reason(other, thread_key(other), paused, NOW) is None


def test_a_person_writing_different_lines_in_one_thread_is_answered_each_time() -> None:
    rows: list[RecentMail] = []
    for number in range(1, 10):
        mail = _mail("RE: Rappels du jour", f"FAIT {number} PPS-2026-0001")
        key = thread_key(mail)
        assert hold_reason(mail, key, rows, NOW) is None
        rows.append(RecentMail(NOW, "answered", None, key))


def test_the_sender_budget_catches_a_robot_whose_text_varies() -> None:
    rows = [RecentMail(NOW, "answered", "reply", f"t{i}") for i in range(SENDER_BUDGET)]
    mail = _mail("RE: x", "Absent, message n° 31")
    assert hold_reason(mail, thread_key(mail), rows[1:], NOW) is None
    assert hold_reason(mail, thread_key(mail), rows, NOW) == "loop-paused"
    held = [*rows, RecentMail(NOW, "ignored", "loop-paused", "t99")]
    assert hold_reason(mail, thread_key(mail), held, NOW) == "loop-held"


def test_subject_prefixes_are_read_linearly() -> None:
    for unit in ("RE: ", " ", "[a] ", "RE[1]", "re re "):
        assert_linear(base_subject, lambda n, u=unit: u * n, 200, memory=False)
    mail = _mail("x", "y")
    assert_linear(lambda body: thread_key(replace(mail, body=body)), lambda n: "a \t\n" * n,
                  1000)


def test_fresh_mails_are_never_budgeted_however_many() -> None:
    # A backlog after a stop: the same question many times, many mails.
    fresh = _mail("STATUT PPS-2026-9999", "Où en est ce plan ?", reply=False)
    key = thread_key(fresh)
    rows = [RecentMail(NOW, "answered", None, key)] * (SENDER_BUDGET + REPEAT_BUDGET)
    assert hold_reason(fresh, key, rows, NOW) is None
    # ... and answers to fresh mails do not count in a sender's reply budget.
    reply = _mail("RE: [PPS-2026-0001] Statut", "Merci, et le plan de soins ?")
    assert hold_reason(reply, thread_key(reply), rows, NOW) is None
