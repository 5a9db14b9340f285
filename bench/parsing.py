"""Parsing: the service's intake and plan grammar against the standard library alone.

Intake + grammar: ``parse_mail`` (MIME, charsets, HTML, quotes, signature),
``detect_command``, then the grammar of the command's body (``parse_new_plan``
for NOUVEAU PPS, ``parse_update`` for MAJ; STATUT and FAIT have no body
grammar). Standard library: ``BytesParser(policy=default)`` and the text of
the preferred body part, which is the least any mail reader has to do.
"""

from __future__ import annotations

import email.policy
import time
from collections.abc import Callable
from datetime import date
from email.parser import BytesParser
from typing import Any

from esp_coord.intake import parse_mail
from plans.commands import detect_command
from plans.grammar import parse_new_plan, parse_update
from plans.people import Person
from plans.protocols import load_library
from tests.support.plans_examples import ROSTER


def _stdlib(raw: bytes) -> None:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        body.get_content()  # type: ignore[attr-defined]


def _intake_and_grammar(today: date) -> Callable[[bytes], None]:
    library = load_library()
    by_email: dict[str, Person] = {p.email: p for p in ROSTER}

    def run(raw: bytes) -> None:
        mail = parse_mail(raw)
        detected = detect_command(mail.subject, mail.body)
        sender = by_email[mail.from_address]
        if detected.name == "NOUVEAU_PPS":
            parsed = parse_new_plan(detected.lines, today=today, sender=sender, roster=ROSTER,
                                    library=library)
            assert parsed.ok, parsed.errors
        elif detected.name == "MAJ":
            parse_update(detected.lines, today=today, sender=sender, team=ROSTER,
                         roster=ROSTER, library=library)

    return run


def _rate(fn: Callable[[bytes], None], raws: list[bytes], *, rounds: int = 3,
          min_seconds: float = 0.5) -> float:
    """Best mails/s over ``rounds``, each at least ``min_seconds`` long."""
    best = 0.0
    for _ in range(rounds):
        done = 0
        t0 = time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < min_seconds or done == 0:
            for raw in raws:
                fn(raw)
            done += len(raws)
        best = max(best, done / elapsed)
    return best


def run_parsing(raws: list[bytes], *, today: date | None = None,
                min_seconds: float = 0.5) -> dict[str, Any]:
    today = today or date.today()
    sample = raws[:300]
    intake = _rate(_intake_and_grammar(today), sample, min_seconds=min_seconds)
    stdlib = _rate(_stdlib, sample, min_seconds=min_seconds)
    return {
        "mails": len(sample),
        "intake_grammar_per_s": round(intake, 1),
        "stdlib_mime_per_s": round(stdlib, 1),
        "ratio_to_stdlib": round(intake / stdlib, 3),
    }
