"""A reply with several FAIT / REPORTER / ANNULER FAIT lines: each line is
handled as if it were alone in its mail, and one answer says line by line
what was done. Through the real processor into SQLite (the access matrix's
three plans: P1 and P2 active, P3 closed)."""

from __future__ import annotations

from datetime import date

from tests.integration import test_access_matrix as matrix
from tests.integration.test_access_matrix import ANA, P1, P2, P3, P9, Desk

# The access matrix's fixtures: its plans made once, a copy of them per test.
template = matrix.template
desk_for = matrix.desk_for

JULIEN = ("Julien MARIE", "julien.marie@infirmier.mssante.test")


def _flat(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


async def test_each_line_is_handled_and_the_answer_lists_them(desk_for: Desk) -> None:
    body = (f"FAIT 1 {P1}\nRAS, glycémies stables\n"
            f"REPORTER 1 {P2} au 20/12/2026\n"
            f"FAIT 42 {P1}\n"
            f"FAIT 1 {P3}\n"
            f"FAIT 1 {P9}\n")
    outcome, answers = await desk_for.send(ANA, "RE: Rappels du 25/11/2026", body)
    assert outcome.outcome == "answered"
    (answer,) = answers
    text = _flat(answer.text)
    assert "5 lignes de suivi, traitées chacune à part : 2 enregistrées, 3 non" in text
    assert f"Ligne 1 : « FAIT 1 {P1} » Fait : Action 1 du plan {P1} notée faite" in text
    assert f"Ligne 3 : « REPORTER 1 {P2} au 20/12/2026 » Fait : Action 1 du plan {P2}" in text
    assert f"Rien n'a été fait : le plan {P1} n'a pas d'action n° 42" in text
    assert f"Rien n'a été fait : le plan {P3} est clos" in text
    assert "Rien n'a été fait : je ne trouve pas ce plan" in text
    one = await desk_for.plan(P1)
    assert [o.comment for o in one.action(1).done] == ["RAS, glycémies stables"]
    assert (await desk_for.plan(P2)).action(1).due == date(2026, 12, 20)


async def test_a_line_about_a_plan_not_theirs_says_nothing_of_it(desk_for: Desk) -> None:
    # Julien is not on P2's team: its line reads as an unknown plan's.
    body = f"FAIT 1 {P1}\nREPORTER 1 {P2} au 20/12/2026\nREPORTER 1 {P9} au 20/12/2026"
    _, (answer,) = await desk_for.send(JULIEN, "RE: Rappels", body)
    text = _flat(answer.text.split("<!DOCTYPE")[0])  # the plain part
    lines = text.split("Ligne ")
    said = [line.split("»", 1)[1] for line in lines[1:]]
    assert said[1].startswith(" Rien n'a été fait : je ne trouve pas ce plan")
    assert said[1] == said[2].split(" Les lignes non")[0] + " "
    assert "BERNARD" not in answer.text and "nutritionnel" not in answer.text
    assert (await desk_for.plan(P1)).action(1).done
    assert answer.subject.startswith(f"[{P1}] ")  # the one plan acted on


async def test_nothing_done_on_any_line_is_a_refusal(desk_for: Desk) -> None:
    outcome, (answer,) = await desk_for.send(ANA, "RE: Rappels",
                                             f"FAIT 42 {P1}\nFAIT 1 {P9}")
    assert "0 enregistrée" in _flat(answer.text)
    assert outcome.answers == 1


async def test_one_line_keeps_its_usual_answer(desk_for: Desk) -> None:
    _, (answer,) = await desk_for.send(ANA, f"FAIT 1 {P1}", "Fait 2 fois cette semaine")
    assert answer.subject == f"[{P1}] Action 1 faite"
    assert [o.comment for o in (await desk_for.plan(P1)).action(1).done] == [
        "Fait 2 fois cette semaine"]
