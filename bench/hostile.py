"""The hostile mails of issue 11, measured on the service's own path.

For each case: the CPU time (``time.process_time``, best of a few) and the
allocation peak (tracemalloc, one more run) of what the processor does
before its transaction (``triage.read_and_triage``: the header block, then
the body only for a member) and, for a member's mail, of understanding it as
the handlers do (``interpret.interpret``: body, command and grammar).
``python -m bench.hostile`` prints them; ``make bench`` includes them
(``hostile`` in bench/results/latest.json).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from esp_coord.crypto import Keyring
from esp_coord.interpret import interpret
from esp_coord.triage import read_and_triage
from tests.support.config import offline_config

MEMBER = "Claire DURAND <claire.durand@medecin.mssante.test>"
STRANGER = "Marc PETIT <marc.petit@medecin.mssante.test>"


def _mail(sender: str, body: str, *, subject: str = "STATUT PPS-2026-0001",
          ctype: str = "text/plain; charset=utf-8") -> bytes:
    return (f"From: {sender}\r\nTo: coordination@esp-valdelorge.mssante.test\r\n"
            f"Subject: {subject}\r\nMessage-ID: <h.1@medecin.mssante.test>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\n\r\n{body}").encode()


def _params(n: int) -> str:
    return "text/plain; " + "; ".join(f"p{i}=v" for i in range(n))


# (name, sender, raw): the cases of the issue, in its order.
CASES: list[tuple[str, bytes]] = [
    ("1. HTML quote bomb, 272 kB, stranger", _mail(
        STRANGER, "<blockquote>" * 16_000 + "x<br>" * 16_000, ctype="text/html")),
    ("1. HTML quote bomb, 272 kB, member", _mail(
        MEMBER, "<blockquote>" * 16_000 + "x<br>" * 16_000, ctype="text/html")),
    ("2. Content-Type, 20,000 parameters, stranger", _mail(STRANGER, "x", ctype=_params(20_000))),
    ("2. Content-Type, 100,000 parameters, member", _mail(MEMBER, "STATUT",
                                                          ctype=_params(100_000))),
    ("2. Content-Type, 100,000 '(', member", _mail(MEMBER, "STATUT",
                                                   ctype="text/plain " + "(" * 100_000)),
    ("4. 'Équipe : ' + 100,000 letters", _mail(
        MEMBER, "Patient : MARTIN Jeanne\r\nÉquipe : " + "a" * 100_000 + "\r\n",
        subject="NOUVEAU PPS")),
    ("4. 'Participants : ' + 100,000 letters", _mail(
        MEMBER, "Date : 15/12/2026 14h\r\nParticipants : " + "a" * 100_000 + "\r\n",
        subject="RCP NOUVELLE")),
    ("4. an Action's who, 100,000 letters", _mail(
        MEMBER, "Action : " + "a" * 100_000 + " | suivi | demain\r\n",
        subject="MAJ PPS-2026-0001")),
    ("4. a FAIT comment of 50,000 'a@'", _mail(
        MEMBER, "FAIT 1 PPS-2026-0001, " + "a@" * 50_000 + "\r\n", subject="FAIT")),
    ("4. one 1 MB line", _mail(MEMBER, "a" * 2**20 + "\r\n")),
    ("4. a 1 MB format=flowed body", _mail(
        MEMBER, "a " * 2**19 + "\r\n", ctype="text/plain; charset=utf-8; format=flowed")),
]


def _cpu(fn: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run_hostile() -> list[dict[str, Any]]:
    config = offline_config()
    keyring = Keyring.generate()
    rows = []
    for name, raw in CASES:
        def decide(raw: bytes = raw) -> object:
            return read_and_triage(raw, config, keyring)

        def understand(raw: bytes = raw) -> object:
            return interpret(raw, config)

        row: dict[str, Any] = {"case": name, "bytes": len(raw),
                               "decide_cpu_s": round(_cpu(decide), 4),
                               "decide_peak_mb": round(_peak(decide) / 2**20, 1)}
        if MEMBER.encode() in raw:
            row["understand_cpu_s"] = round(_cpu(understand), 4)
            row["understand_peak_mb"] = round(_peak(understand) / 2**20, 1)
        rows.append(row)
    return rows


def hostile_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Hostile mail (issue 11): CPU time and allocation peak")
    for column in ("case", "size", "decide (s)", "decide (MB)", "understand (s)",
                   "understand (MB)"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["case"], f"{row['bytes'] / 1024:.0f} kB", f"{row['decide_cpu_s']:.3f}",
                      f"{row['decide_peak_mb']:.1f}",
                      f"{row.get('understand_cpu_s', float('nan')):.3f}",
                      f"{row.get('understand_peak_mb', float('nan')):.1f}")
    return table


if __name__ == "__main__":
    Console().print(hostile_table(run_hostile()))
