"""Mails around the size limit through the real IMAP path (Dovecot).

A mail over the limit gets one precise "too large" answer, is kept (filed),
and is never downloaded whole: only its header block is fetched, so memory
stays far below its size. A mail just under the limit is processed as any
other. A crash after the answer is committed does not bring a second one.
"""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Sequence

import pytest

from esp_coord.intake import HeadersOnly, content_key, message_key, parse_mail
from esp_coord.ports import FetchedMail
from tests.e2e.harness import Team, wait_until
from tests.hostile import corpus
from tests.support.crashing import CrashingMailbox, crashed, settled

MiB = 2**20
LIMIT = 25 * MiB
_FROM_CLAIRE = re.compile(rb"^From:[^\r\n]*" + re.escape(corpus.CLAIRE[1].encode()), re.M)


class RecordingMailbox(CrashingMailbox):
    """The real IMAP adapter, keeping what each fetch handed over."""

    def __init__(self, team: Team, *, crash_on_move: bool = False) -> None:
        super().__init__(team.config.imap, team.config.folders, crash_on_move=crash_on_move)
        self.fetched: list[FetchedMail] = []

    async def fetch(self, uids: Sequence[int], *,
                    max_bytes: int | None = None) -> list[FetchedMail]:
        mails = await super().fetch(uids, max_bytes=max_bytes)
        self.fetched.extend(mails)
        return mails

    def claire_mails(self) -> list[FetchedMail]:
        # Witness copies of our answers come through the inbox too.
        return [m for m in self.fetched if _FROM_CLAIRE.search(m.raw)]


async def _filed(team: Team) -> bool:
    folders = team.config.folders
    return (await team.dovecot.folder_count(folders.inbox) == 0
            and await team.dovecot.folder_count(folders.processed) == 1)


def _without_message_id(raw: bytes) -> bytes:
    return re.sub(rb"Message-ID: [^\r]*\r\n", b"", raw, count=1)


def test_a_header_block_is_judged_by_the_size_it_carries() -> None:
    head = corpus.huge_mail(0).partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    mail = parse_mail(HeadersOnly(head, 50 * MiB), max_message_bytes=LIMIT)
    assert mail.too_large == "le message fait 50 Mo, au-delà de la limite de 25 Mo"
    assert (mail.size, mail.text, mail.dedup_key) == (
        50 * MiB, "", message_key(mail.from_address, "<huge-50mb@medecin.mssante.test>"))
    bare = HeadersOnly(_without_message_id(head), 30 * MiB)
    assert parse_mail(bare, max_message_bytes=LIMIT).dedup_key == content_key(bare)
    # Cut with a larger limit than the intake's: still nothing to read.
    cut = parse_mail(HeadersOnly(head, 20 * MiB), max_message_bytes=LIMIT)
    assert cut.too_large == "le message fait 20 Mo, trop volumineux pour être lu"


async def test_a_50_mb_mail_gets_one_too_large_answer_and_is_never_fetched_whole(
        team: Team) -> None:
    raw = corpus.huge_mail(50 * MiB)
    assert team.config.limits.max_message_bytes == LIMIT
    await team.dovecot.deliver(raw)
    mid = "<huge-50mb@medecin.mssante.test>"
    mailbox = RecordingMailbox(team)
    tracemalloc.start()
    try:
        await team.start(mailbox=mailbox)
        await wait_until(lambda: any(mid in a.in_reply_to
                                     for a in team.answers_to(corpus.CLAIRE[1])),
                         60, "the answer to the 50 MB mail")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    await wait_until(lambda: _filed(team), 20, "the mail filed and the inbox empty")
    await wait_until(lambda: settled(team), 20, "the outbox empty")

    answers = team.answers_to(corpus.CLAIRE[1])
    assert len(answers) == 1 and answers[0].in_reply_to == (mid,)
    assert re.search(r"le message fait 50(,0)? Mo, au-delà de la limite de 25 Mo",
                     answers[0].text)
    assert "rien n'a été enregistré" in answers[0].text
    assert team.service is not None
    assert await team.service.store.run(lambda tx: tx.find_documents("plan")) == []

    (fetched,) = mailbox.claire_mails()
    assert fetched.headers_only and fetched.size >= len(raw)
    assert fetched.raw.endswith(b"\r\n\r\n") and b"Compte rendu" not in fetched.raw
    print(f"peak traced memory, 50 MB mail: {peak / MiB:.1f} MiB")
    # Fetched whole, the mail cost about twice its size (106 MiB).
    assert peak < len(raw) // 10


async def test_a_mail_just_under_the_limit_is_processed_normally(team: Team) -> None:
    # Dovecot adds a few header lines on delivery: keep clear of them.
    raw = corpus.huge_mail(LIMIT - 256 * 1024, mid="huge-under", order=16)
    await team.dovecot.deliver(raw)
    mailbox = RecordingMailbox(team)
    await team.start(mailbox=mailbox)
    await wait_until(lambda: _filed(team), 120, "the mail processed and filed")

    (fetched,) = mailbox.claire_mails()
    assert not fetched.headers_only and fetched.size == len(fetched.raw) <= LIMIT
    assert team.service is not None
    plans = await team.service.store.run(lambda tx: tx.find_documents("plan"))
    assert len(plans) == 1
    await wait_until(lambda: team.answers_to(corpus.CLAIRE[1]), 20, "the answer")
    (answer,) = team.answers_to(corpus.CLAIRE[1])
    assert "au-delà de la limite" not in answer.text


@pytest.mark.parametrize("message_id", [True, False], ids=["message-id", "no-message-id"])
async def test_a_crash_before_the_move_brings_no_second_too_large_answer(
        team: Team, message_id: bool) -> None:
    raw = corpus.huge_mail(50 * MiB, mid="huge-crash")
    if not message_id:
        raw = _without_message_id(raw)
    await team.dovecot.deliver(raw)
    crashing = RecordingMailbox(team, crash_on_move=True)
    await team.start(mailbox=crashing)
    await crashed(team)
    await team.stop()
    # Committed, not moved (the answer may have gone out: its copy is in the inbox).
    assert await team.dovecot.folder_count(team.config.folders.processed) == 0

    again = RecordingMailbox(team)
    await team.start(mailbox=again)
    await wait_until(lambda: _filed(team), 30, "the mail filed after the restart")
    await wait_until(lambda: team.answers_to(corpus.CLAIRE[1]), 20, "the answer")
    await wait_until(lambda: settled(team), 20, "the outbox empty")

    (answer,) = team.answers_to(corpus.CLAIRE[1])
    assert "au-delà de la limite de 25 Mo" in answer.text
    (before,), (after,) = crashing.claire_mails(), again.claire_mails()
    assert before.headers_only and after == FetchedMail(before.uid, before.raw, before.size,
                                                        headers_only=True)
    # The dedup record the restart found is keyed as the first run keyed it.
    mail = parse_mail(HeadersOnly(after.raw, after.size), max_message_bytes=LIMIT)
    assert mail.dedup_key.startswith("mid:" if message_id else "sha256:")
    assert team.service is not None
    record = await team.service.store.run(lambda tx: tx.processed(mail.dedup_key))
    assert record is not None and record.outcome == "answered"
