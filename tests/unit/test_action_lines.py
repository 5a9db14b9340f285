"""Several FAIT / REPORTER / ANNULER FAIT lines in one mail: which lines count,
and what each one keeps as its comment (``plans.commands.action_commands``)."""

from __future__ import annotations

from plans.commands import MAX_ACTION_LINES, action_commands, action_comment, detect_command


def _lines(body: str, subject: str = "RE: Rappels du 30/11/2026 : 3 actions") -> list[tuple[
        str | None, str | None, str, str]]:
    found = action_commands(detect_command(subject, body, replying=True))
    # A comment is FAIT's only (REPORTER's rest is its date).
    return [(d.name, d.ref, d.raw_args, action_comment(d) if d.name != "REPORTER" else "")
            for d in found]


def test_each_command_line_of_a_digest_reply_is_one_command_with_its_comment() -> None:
    body = ("FAIT 3 PPS-2026-0001\nglycémies notées\n\n"
            "REPORTER 1 PPS-2026-0002 au 15/12/2026\n"
            "FAIT 2 PPS-2026-0002\n"
            "ANNULER FAIT 4 PPS-2026-0001\nerreur de ma part\n")
    assert _lines(body) == [
        ("FAIT", "PPS-2026-0001", "3", "glycémies notées"),
        ("REPORTER", "PPS-2026-0002", "1 au 15/12/2026", ""),
        ("FAIT", "PPS-2026-0002", "2", ""),
        ("ANNULER_FAIT", "PPS-2026-0001", "4", "erreur de ma part"),
    ]


def test_line_numbers_are_those_of_the_body() -> None:
    found = action_commands(detect_command("RE: x", "FAIT 1\n\nFAIT 2\nFAIT 3 PPS-2026-0001",
                                           replying=True))
    assert [d.line for d in found] == [1, 3, 4]


def test_a_comment_that_starts_like_a_command_stays_a_comment() -> None:
    # « Fait 2 fois » has words after its number and names no plan.
    body = "FAIT 1 PPS-2026-0001\nFait 2 fois cette semaine, RAS\nfaite à domicile"
    assert _lines(body) == [("FAIT", "PPS-2026-0001", "1",
                             "Fait 2 fois cette semaine, RAS\nfaite à domicile")]


def test_bare_numbers_count_in_a_reply_about_one_plan() -> None:
    assert [(n, a) for n, _, a, _ in _lines("FAIT 1\nFAIT 2\nREPORTER 3 au 20/12/2026")] == [
        ("FAIT", "1"), ("FAIT", "2"), ("REPORTER", "3 au 20/12/2026")]


def test_other_commands_are_never_split() -> None:
    found = action_commands(detect_command("RE: x", "STATUT PPS-2026-0001\nFAIT 2 PPS-2026-0001",
                                           replying=True))
    assert [d.name for d in found] == ["STATUT"]


def test_the_number_of_lines_is_bounded() -> None:
    body = "\n".join(f"FAIT {n} PPS-2026-0001" for n in range(1, 200))
    assert len(_lines(body)) == MAX_ACTION_LINES
