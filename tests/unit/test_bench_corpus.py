"""The benchmark's synthetic mails are valid commands the example team may send."""

from __future__ import annotations

from collections import Counter
from datetime import date

from stdnum.fr import nir

from bench.corpus import generate
from esp_coord.intake import parse_mail
from plans.commands import detect_command
from plans.grammar import parse_new_plan
from tests.support.plans_examples import ROSTER


def test_corpus_is_varied_and_every_new_plan_parses() -> None:
    raws = generate(200, seed=7)
    assert len(raws) == 200
    commands: Counter[str] = Counter()
    ins_seen: set[str] = set()
    people = {p.email: p for p in ROSTER}
    for raw in raws:
        mail = parse_mail(raw)
        assert not mail.defects, mail.defects
        detected = detect_command(mail.subject, mail.body)
        assert detected.name is not None
        commands[detected.name] += 1
        if detected.name == "NOUVEAU_PPS":
            parsed = parse_new_plan(detected.lines, today=date.today(),
                                    sender=people[mail.from_address], roster=ROSTER)
            assert parsed.ok, parsed.errors
            assert parsed.value is not None
            ins = parsed.value.patient.ins
            assert nir.is_valid(ins) and ins not in ins_seen
            ins_seen.add(ins)
    assert set(commands) == {"NOUVEAU_PPS", "MAJ", "STATUT", "FAIT"}
    assert min(commands.values()) >= 20
