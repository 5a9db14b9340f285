"""A 50 MB mail through the real IMAP path: a precise "too large" answer, the
mail kept (filed), and memory bounded by a few times the mail's size."""

from __future__ import annotations

import re
import tracemalloc

from tests.e2e.harness import Team, wait_until
from tests.hostile import corpus

MiB = 2**20


async def test_a_50_mb_mail_gets_a_too_large_answer(team: Team) -> None:
    raw = corpus.huge_mail(50 * MiB)
    assert team.config.limits.max_message_bytes == 25 * MiB
    await team.dovecot.deliver(raw)
    mid = "<huge-50mb@medecin.mssante.test>"
    tracemalloc.start()
    try:
        await team.start()
        await wait_until(lambda: any(mid in a.in_reply_to
                                     for a in team.answers_to(corpus.CLAIRE[1])),
                         60, "the answer to the 50 MB mail")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    answer = next(a for a in team.answers_to(corpus.CLAIRE[1]) if mid in a.in_reply_to)
    assert re.search(r"le message fait 50(,0)? Mo, au-delà de la limite de 25 Mo", answer.text)
    assert "rien n'a été enregistré" in answer.text
    async def filed() -> bool:
        folders = team.config.folders
        return (await team.dovecot.folder_count(folders.inbox) == 0
                and await team.dovecot.folder_count(folders.processed) == 1)

    await wait_until(filed, 20, "the mail filed and the inbox empty")
    assert team.service is not None
    docs = await team.service.store.run(lambda tx: tx.find_documents("plan"))
    assert docs == []
    print(f"peak traced memory while fetching and answering: {peak / MiB:.0f} MiB")
    assert peak < 4 * len(raw)
