"""The hostile mails of issue 11 on the real service path: each is decided
(quarantined, or answered that it could not be read) and the member's mail
queued behind them is answered. Their cost is what
tests/fuzz/test_fuzz_resources.py and ``make bench`` measure."""

from __future__ import annotations

from tests.e2e.harness import Team
from tests.support.mail import mail

MARC = "marc.petit@medecin.mssante.test"
CLAIRE = "claire.durand@medecin.mssante.test"


def _raw(sender: str, name: str, subject: str, body: str, ctype: str) -> bytes:
    return mail(subject, "", sender=sender, name=name).replace(
        b"Content-Type: text/plain; charset=utf-8", f"Content-Type: {ctype}".encode()
    ).rstrip(b"\r\n") + b"\r\n\r\n" + body.encode()


async def test_hostile_mails_are_decided_and_the_member_behind_them_answered(
        team: Team, example_messages: dict[str, bytes]) -> None:
    await team.start()
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    # SMTP lines stop at 998 characters: the body in lines, the fields folded.
    bomb = "<blockquote>\r\n" * 16_000 + "x<br>\r\n" * 16_000
    params = "text/plain;" + ";\r\n ".join(f"p{i}=v" for i in range(20_000))
    comments = "text/plain; charset=utf-8" + "\r\n " .join(["(" * 500] * 200)
    strangers = [
        await team.submit(_raw(MARC, "Marc PETIT", "STATUT PPS-2026-0001", bomb, "text/html")),
        await team.submit(_raw(MARC, "Marc PETIT", "AIDE", "aide", params)),
        # From: claire.durand@medecin.mssante.test <intrus@autre.mssante.test>
        await team.submit(mail("STATUT PPS-2026-0001", "", sender="intrus@autre.mssante.test",
                               name=CLAIRE)),
    ]
    members = [
        await team.submit(_raw(CLAIRE, "Claire DURAND", "STATUT PPS-2026-0001", bomb,
                               "text/html")),
        await team.submit(_raw(CLAIRE, "Claire DURAND", "STATUT PPS-2026-0001", "STATUT",
                               comments)),
    ]
    status = await team.submit(mail("STATUT PPS-2026-0001", ""))
    for stranger in strangers:
        assert await team.wait_outcome(stranger, 60) == "quarantined"
    for hostile in members:
        assert await team.wait_outcome(hostile, 60) == "answered"
    answer = await team.wait_answer(status, 60)
    assert "MARTIN Jeanne" in answer.text
    # Nothing to anyone outside the team; the intruder's display name fooled nobody.
    assert team.answers_to(MARC) == [] and team.answers_to("intrus@autre.mssante.test") == []
