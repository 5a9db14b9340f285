"""The plan-mail grammar on the example bodies and on how people really type."""

from __future__ import annotations

from datetime import date

import pytest

from plans.commands import detect_command
from plans.grammar import parse_new_plan, parse_update
from plans.lines import lex
from plans.model import Patient
from tests.support.plans_examples import (
    BENALI,
    BODY_01,
    BODY_02,
    BODY_06,
    BODY_07,
    BODY_10,
    DURAND,
    GIRARD,
    LEROY,
    MARIE,
    ROSTER,
    TEAM_01,
)

MINIMAL = ("Patient : MARTIN Jeanne\nNée le : 12/03/1948\nINS : 2 48 03 75 056 118 78\n"
           "Consentement : oui\n")


def lines(text: str) -> list[tuple[int, str]]:
    return list(enumerate(text.splitlines(), start=1))


def new(text: str, today: date = date(2026, 11, 23), sender=DURAND):
    return parse_new_plan(lines(text), today=today, sender=sender, roster=ROSTER)


def test_example_01() -> None:
    parsed = parse_new_plan(detect_command("NOUVEAU PPS", BODY_01).lines,
                            today=date(2026, 11, 23), sender=DURAND, roster=ROSTER)
    assert parsed.errors == [] and parsed.warnings == []
    draft = parsed.value
    assert draft.patient == Patient("MARTIN", "Jeanne", date(1948, 3, 12), "F", "248037505611878")
    assert draft.consent is True and draft.referent == DURAND.email
    assert draft.team == [p.email for p in TEAM_01]
    assert len(draft.problems) == 3 and len(draft.objectives) == 2
    assert draft.preferences == ["rester à domicile, garder son autonomie pour les courses"]
    assert draft.alerts == ["prise de poids > 2 kg en 3 jours -> appeler Dr DURAND"]
    assert draft.review_date == date(2027, 5, 15) and draft.protocols == ["diabete-type-2"]
    own = [a for a in draft.actions if a.protocol is None]
    assert [a.assignee for a in own] == [MARIE.email, LEROY.email, BENALI.email, DURAND.email]
    assert own[0].when.rhythm.to_rrule() == "FREQ=WEEKLY;INTERVAL=1"
    assert own[1].when.due == date(2026, 12, 15) and own[1].when.rhythm is None
    assert own[2].when.rhythm.per_week == 2 and own[2].when.until == date(2027, 2, 23)
    assert own[3].when.rhythm.to_rrule() == "FREQ=MONTHLY;INTERVAL=3"
    follow = [a for a in draft.actions if a.protocol == "diabete-type-2"]
    assert len(follow) >= 4 and draft.actions[:4] == own  # the mail's actions come first
    assert all(a.assignee in draft.team for a in follow)


def test_example_06_gives_exactly_the_four_errors() -> None:
    parsed = new(BODY_06, date(2026, 11, 26), GIRARD)
    assert parsed.value is None and parsed.warnings == []
    errors = parsed.errors
    assert [(e.line, e.field) for e in errors] == [(2, "birth_date"), (3, "ins"), (5, "action"),
                                                  (6, "action")]
    assert errors[0].text == "Né le : 31/02/1937" and "février" in errors[0].problem
    assert errors[0].example == "Né le : 28/02/1937"
    assert "87" in errors[1].problem and errors[1].example.endswith("87")
    assert "podologue" in errors[2].problem
    assert errors[2].example.startswith("Action : ") and errors[2].example.endswith(
        "| soins de pieds | mensuel")
    assert "quatre jeudis" in errors[3].problem
    assert errors[3].example == "Action : IDE | pansement | chaque semaine"


def test_example_07_html_text() -> None:
    parsed = new(BODY_07, date(2026, 11, 27), GIRARD)
    assert parsed.ok, parsed.errors
    draft = parsed.value
    assert draft.patient == Patient("PETIT", "Odette", date(1941, 6, 25), "F", "241062A00402743")
    assert draft.referent == GIRARD.email
    assert draft.team == [GIRARD.email, MARIE.email]  # "IDE": the only nurse of the roster
    first, second = draft.actions
    assert first.assignee == MARIE.email and first.when.rhythm.to_rrule() == "FREQ=DAILY;INTERVAL=1"
    assert second.assignee == GIRARD.email and second.when.due == date(2026, 11, 30)
    assert second.when.rhythm.to_rrule() == "FREQ=WEEKLY;BYDAY=MO"


def test_example_10_upper_case_keys_in_update() -> None:
    found = detect_command("MAJ PPS-2026-0001", BODY_10)
    parsed = parse_update(found.lines, today=date(2026, 11, 30), sender=MARIE, team=TEAM_01,
                          roster=ROSTER)
    assert parsed.ok and parsed.warnings == []
    update = parsed.value
    assert update.problems == ["plaie du talon droit, apparue le 28/11"]
    assert update.notes == ["prévenir le médecin si signes d'infection"]
    (action,) = update.actions
    assert action.assignee == MARIE.email and action.when.until == date(2026, 12, 31)
    assert action.when.rhythm.to_rrule() == "FREQ=DAILY;INTERVAL=2"
    assert update.team == []


def test_example_02_update() -> None:
    found = detect_command("RE: [PPS-2026-0001] Plan créé - MARTIN Jeanne", BODY_02)
    parsed = parse_update(found.lines, today=date(2026, 11, 24), sender=MARIE, team=TEAM_01,
                          roster=ROSTER)
    assert parsed.ok
    assert parsed.value.actions[0].when.due == date(2026, 12, 1)
    assert parsed.value.notes == ["patiente motivée, fille présente le mercredi"]


@pytest.mark.parametrize("key", ["Né le", "Née le", "Né(e) le", "NE(E) LE", "Date de naissance",
                                 "DDN", "ddn"])
def test_birth_date_keys(key: str) -> None:
    text = MINIMAL.replace("Née le", key)
    assert new(text).value.patient.birth_date == date(1948, 3, 12)


@pytest.mark.parametrize("colon", [" : ", ":", " :", ": ", "\u00a0: ", "\u202f:\u00a0", "\t:  "])
def test_colon_spacing_and_bullets(colon: str) -> None:
    text = MINIMAL.replace(" : ", colon) + f"• Problème{colon}chutes\n* Objectif{colon}marcher\n"
    parsed = new(text)
    assert parsed.ok, parsed.errors
    assert parsed.value.problems == ["chutes"] and parsed.value.objectives == ["marcher"]


def test_name_and_given_name_keys_and_sex_from_ins() -> None:
    text = MINIMAL.replace("Patient : MARTIN Jeanne", "Nom : Martin\nPrénom : Jeanne")
    patient = new(text).value.patient
    assert (patient.family_name, patient.given_name, patient.sex) == ("MARTIN", "Jeanne", "F")


def test_sex_contradicting_ins_is_an_error() -> None:
    parsed = new(MINIMAL + "Sexe : M\n")
    assert parsed.value is None and [e.field for e in parsed.errors] == ["ins"]


def test_missing_required_fields_and_consent() -> None:
    parsed = new("Problème : chutes\n")
    assert parsed.value is None
    assert {e.field for e in parsed.errors} == {"patient", "birth_date", "ins", "consent"}
    assert all(e.line is None and e.example for e in parsed.errors)
    refused = new(MINIMAL.replace("oui", "non"))
    assert [e.field for e in refused.errors] == ["consent"] and refused.errors[0].line == 4


def test_unknown_key_is_kept_as_note_and_warned() -> None:
    parsed = new(MINIMAL + "Problme : chutes\nAidant : sa fille, le mercredi\n")
    assert parsed.ok
    assert parsed.value.notes == ["Problme : chutes", "Aidant : sa fille, le mercredi"]
    assert len(parsed.warnings) == 2 and "Problème" in parsed.warnings[0].message


def test_lines_without_colon() -> None:
    text = ("Bonjour,\n" + MINIMAL + "Problème : insuffisance cardiaque avec\n"
            "dyspnée d'effort\nLa fille passe tous les soirs après le travail\n"
            "Cordialement\nDr Claire Durand\nMédecin généraliste\n")
    parsed = new(text)
    assert parsed.ok
    assert parsed.value.problems == ["insuffisance cardiaque avec dyspnée d'effort"]
    assert parsed.value.notes == ["La fille passe tous les soirs après le travail"]
    assert [w.line for w in parsed.warnings] == [8]


def test_repeated_single_key_and_action_shapes() -> None:
    parsed = new(MINIMAL + "Né le : 13/03/1948\nAction : IDE ; pansement ; demain\n"
                 "Action : IDE | pansement\nAction : Dr DURAND | visite | 01/01/2020\n")
    assert parsed.value is None
    assert [(e.line, e.field) for e in parsed.errors] == [(5, "birth_date"), (7, "action"),
                                                          (8, "action")]
    assert parsed.errors[1].example == "Action : IDE | pansement | chaque semaine"


def test_unknown_protocol_lists_the_library() -> None:
    parsed = new(MINIMAL + "Protocole : diabete type 3\n")
    (error,) = parsed.errors
    assert "diabete-type-2" in error.expected and "avk-inr" in error.expected
    assert error.example == "Protocole : diabete-type-2"
    assert new(MINIMAL + "Protocole : Diabète type 2\n").value.protocols == ["diabete-type-2"]


def test_protocol_profession_missing_from_team_goes_to_roster_member() -> None:
    parsed = new(MINIMAL + "Protocole : prevention-chutes\n")
    assert parsed.ok
    assignees = {a.assignee for a in parsed.value.actions}
    assert BENALI.email in assignees and BENALI.email in parsed.value.team
    assert any("BENALI (kinésithérapeute), qui rejoint l'équipe" in w.message
               for w in parsed.warnings)
    assert all("(e)" not in w.message for w in parsed.warnings)  # no « confié(e) »


def test_ambiguous_person_is_an_error() -> None:
    parsed = new(MINIMAL + "Action : médecin | visite | demain\n", sender=MARIE)
    (error,) = parsed.errors
    assert "DURAND" in error.problem and "GIRARD" in error.problem


def test_update_checks_identity_against_the_plan() -> None:
    patient = Patient("MARTIN", "Jeanne", date(1948, 3, 12), "F", "248037505611878")
    parsed = parse_update(lines("INS : 1 37 11 69 123 045 87\nNote : x\n"),
                          today=date(2026, 11, 24), sender=MARIE, team=TEAM_01, roster=ROSTER,
                          patient=patient)
    assert [e.field for e in parsed.errors] == ["ins"]
    same = parse_update(lines("Patient : MARTIN Jeanne\nNote : x\n"), today=date(2026, 11, 24),
                        sender=MARIE, team=TEAM_01, roster=ROSTER, patient=patient)
    assert same.ok


def test_empty_update_and_consent_withdrawal_are_errors() -> None:
    kw = {"today": date(2026, 11, 24), "sender": MARIE, "team": TEAM_01, "roster": ROSTER}
    assert parse_update(lines("Merci\n"), **kw).errors[0].line is None
    assert parse_update(lines("Consentement : non\nNote : x\n"), **kw).errors[0].field == "consent"


def test_sender_and_new_members_join_in_update() -> None:
    parsed = parse_update(lines("Équipe : diététicienne\n"), today=date(2026, 11, 24),
                          sender=GIRARD, team=TEAM_01, roster=ROSTER)
    assert parsed.ok
    assert parsed.value.team == [GIRARD.email, "lea.fontaine@dieteticien.mssante.test"]


@pytest.mark.parametrize("separator", ["-- ", "--", "  --\t", "\u202f--\u00a0"])
def test_lexer_stops_at_signature_separator(separator: str) -> None:
    lexed = lex(lines(f"Note : a\n{separator}\nNote : signature\n"))
    assert [ln.value for ln in lexed] == ["a"]
    assert lex(lines("Note : a\n---\nNote : b\n"))[-1].value == "b"  # a rule, not a separator


@pytest.mark.parametrize(
    ("stem", "command", "sender", "errors"),
    [("01-nouveau-pps", "NOUVEAU_PPS", DURAND, 0), ("02-maj-pps-reponse", "MAJ", MARIE, 0),
     ("06-erreurs", "NOUVEAU_PPS", GIRARD, 4), ("07-html-outlook", "NOUVEAU_PPS", GIRARD, 0),
     ("10-latin1-qp", "MAJ", MARIE, 0)],
)
def test_real_example_mails_through_intake(example_messages: dict[str, bytes], stem: str,
                                           command: str, sender, errors: int) -> None:
    """The same bodies as the intake really decodes them (charset, QP, HTML)."""
    from esp_coord.intake import parse_mail

    mail = parse_mail(example_messages[stem])
    found = detect_command(mail.subject, mail.body)
    assert found.name == command
    today = mail.date.date()
    if command == "MAJ":
        parsed = parse_update(found.lines, today=today, sender=sender, team=TEAM_01,
                              roster=ROSTER)
    else:
        parsed = parse_new_plan(found.lines, today=today, sender=sender, roster=ROSTER)
    assert len(parsed.errors) == errors and parsed.ok == (errors == 0)


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [("Alerte chute", "alerts", "chute"), ("Alerte - saignement", "alerts", "saignement"),
     ("Alerte AVK", "alerts", "AVK"), ("Objectif marcher 20 minutes", "objectives",
                                       "marcher 20 minutes"),
     ("Note – fille présente le mercredi", "notes", "fille présente le mercredi")])
def test_known_key_without_colon_is_read_with_a_warning(line: str, field: str,
                                                        value: str) -> None:
    parsed = new(MINIMAL + line + "\n")
    assert parsed.ok and getattr(parsed.value, field) == [value]
    (warning,) = parsed.warnings
    assert warning.line == 5 and "comprise comme" in warning.message and value in warning.message


def test_review_date_without_colon() -> None:
    parsed = new(MINIMAL + "Réévaluation 15/05/2027\n")
    assert parsed.ok and parsed.value.review_date == date(2027, 5, 15)
    assert [w.line for w in parsed.warnings] == [5]


def test_single_key_without_colon_already_given_is_a_note_not_a_change() -> None:
    parsed = new(MINIMAL + "Patiente fatiguée ce matin\n")
    assert parsed.ok and parsed.value.patient.family_name == "MARTIN"
    assert parsed.value.notes == ["Patiente fatiguée ce matin"]
    update = parse_update(lines("Patiente fatiguée ce matin\n"), today=date(2026, 11, 24),
                          sender=MARIE, team=TEAM_01, roster=ROSTER,
                          patient=Patient("MARTIN", "Jeanne", date(1948, 3, 12), "F",
                                          "248037505611878"))
    assert update.ok and update.value.notes == ["Patiente fatiguée ce matin"]


def test_action_without_colon_or_bars_is_an_error_with_an_example() -> None:
    (error,) = new(MINIMAL + "Action IDE pansement demain\n").errors
    assert error.line == 5 and error.example == "Action : IDE | pansement | chaque semaine"


def test_short_lines_that_are_not_a_signature_are_kept_as_notes() -> None:
    text = (MINIMAL + "Problème : diabète\nAllergie pénicilline\nDiabète\n"
            "Merci de prévenir si chute\nMme MARTIN fatiguée\n"
            "Bien cordialement, Claire\nClaire DURAND\nMédecin généraliste\n"
            "06 12 34 56 78\n12 rue des Lilas\n45000 Orléans\nESP du Val de Lorge\n")
    parsed = new(text)
    assert parsed.ok
    assert parsed.value.notes == ["Allergie pénicilline", "Diabète",
                                  "Merci de prévenir si chute", "Mme MARTIN fatiguée"]
    assert [w.line for w in parsed.warnings] == [6, 7, 8, 9]


def test_the_command_repeated_on_the_first_line_is_not_a_note() -> None:
    for first in ("MAJ", "Mise à jour", "MAJ PPS-2026-0001"):
        parsed = parse_update(lines(f"{first}\nNote : x\n"), today=date(2026, 11, 24),
                              sender=MARIE, team=TEAM_01, roster=ROSTER)
        assert parsed.ok and parsed.value.notes == ["x"] and parsed.warnings == [], first


@pytest.mark.parametrize("contact", ["Médecin généraliste - 02 41 52 00 00",
                                     "Infirmière libérale, 06 98 76 54 32"])
def test_a_sign_off_line_joining_a_profession_and_a_phone_is_not_a_note(contact: str) -> None:
    parsed = new(MINIMAL + f"Note : RAS\nCordialement,\nDr Hélène Marchand\n{contact}\n")
    assert parsed.ok
    assert parsed.value.notes == ["RAS"] and parsed.warnings == []


def test_clinical_lines_with_numbers_are_still_kept_as_notes() -> None:
    kept = ["Glycémie à jeun 1,32 g/l", "Tension 14/8", "INR 2,5 - contrôle le 15/12",
            "Pansement, 06 98 76 54 32"]
    parsed = new(MINIMAL + "\n".join(kept) + "\nCordialement,\nDr Hélène Marchand\n"
                 "Médecin généraliste - 02 41 52 00 00\n")
    assert parsed.ok
    assert parsed.value.notes == kept
    assert [w.line for w in parsed.warnings] == [5, 6, 7, 8]
