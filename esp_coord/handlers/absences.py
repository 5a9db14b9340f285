"""ABSENCE, ANNULER ABSENCE, ABSENCES: the team's absences.

A member declares their own absence (the coordination may declare one for
a colleague, « Pour : Julien MARIE »); every active plan's and meeting's
reminders are then reconciled (``absence_repo.reconcile_all``) so that what
falls due during it goes to whoever covers. ABSENCES lists the current and
coming ones: the coordination and the roster's referents see the team's,
anyone else their own.

A mail that only looks like an out-of-office reply (the subject « Absence du
20/12 au 04/01 » in answer to one of the service's mails) never reaches
these handlers: the dispatcher reads its dates as an auto-reply's and does
not answer (``absence_intake``).
"""

from __future__ import annotations

from esp_coord import absence_repo, access
from esp_coord.absence_repo import absence_words
from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.processing import Request
from esp_coord.roster import people_of
from plans.absences import DECLARED, Absence, parse_absence
from plans.commands import Detected
from plans.dates import format_date, parse_date
from plans.errors import FieldError
from plans.people import resolve_person

from .common import sender_of, today_of
from .replies import say
from .trail import record

__all__ = ["cancel_absence", "declare_absence", "list_absences"]

_FOR_KEYS = ("pour", "membre", "absent", "absente", "qui")


def _for_line(detected: Detected) -> str | None:
    for _, text in detected.lines:
        key, sep, value = text.partition(":")
        if sep and key.strip(" -*•").lower() in _FOR_KEYS:
            return value.strip()
    return None


def _refused(request: Request, detected: Detected, error: FieldError) -> list[Answer]:
    where = f"Ligne {detected.line}" if detected.line is not None else "Objet"
    return say(request, "Absence non enregistrée",
               f"Rien n'a été fait : l'absence n'est pas comprise.\n\n{where} : "
               f"« {detected.text} »\n   Problème : {error.problem}\n   Attendu : "
               f"{error.expected}\n   Exemple : {error.example}", refused=True)


def declare_absence(request: Request, detected: Detected) -> list[Answer]:
    config, people = request.config, people_of(request.config)
    today = today_of(request)
    sender = sender_of(request, people)
    written_for = _for_line(detected)
    try:
        asked = parse_absence(detected.raw_args, detected.lines, today=today, sender=sender,
                              roster=people)
        who = resolve_person(written_for, team=[], roster=people) if written_for else sender
    except FieldError as e:
        return _refused(request, detected, e)
    if who.email != sender.email and not request.sender.is_coordinator:
        return say(request, "Absence non enregistrée",
                   "Rien n'a été fait : seule la coordination peut signaler l'absence d'une "
                   "autre personne. Chacun signale la sienne : « ABSENCE du 20/12/2026 au "
                   "04/01/2027 ».", refused=True)
    if asked.substitute is not None and asked.substitute.email == who.email:
        return _refused(request, detected, FieldError(
            "la personne absente est nommée remplaçante", "une autre personne de l'annuaire",
            "Remplaçant : Dr GIRARD"))
    absences, doc = absence_repo.load(request.tx)
    absence = Absence(who.email, asked.start, asked.end,
                      asked.substitute.email if asked.substitute else None, DECLARED,
                      request.now)
    replaced = absences.declare(absence, today)
    absence_repo.save(request.tx, absences, doc, author=request.sender.email, at=request.now,
                      message_id=request.mail.message_id, summary="absence déclarée")
    absence_repo.reconcile_all(request.tx, config, request.now)
    record(request, "absence", None, f"{who.email} du {absence.start.isoformat()} au "
                                     f"{absence.end.isoformat()}")
    mine = who.email == sender.email
    covered = (f"à {_name(config, absence.substitute)}" if absence.substitute
               else "à la référente ou au référent de chaque plan et à la coordination")
    lines = [f"Absence enregistrée : {absence_words(absence, config)}."]
    if replaced:
        lines.append("Elle remplace : " + " ; ".join(
            absence_words(a, config, with_name=False) for a in replaced) + ".")
    lines += ["", (f"Pendant ce temps, {'vous ne recevez' if mine else 'elle ou il ne reçoit'} "
                   f"aucun rappel : ce qui {'vous' if mine else 'lui'} revient va {covered}, "
                   "avec la mention du remplacement. Les rappels des réunions de ces jours-là "
                   "ne partent pas ; les ordres du jour et STATUT l'indiquent."),
              "", "Pour l'annuler, ou à votre retour en avance : ANNULER ABSENCE."]
    return say(request, "Absence enregistrée", "\n".join(lines))


def _name(config: Config, address: str) -> str:
    found = config.member(address)
    return found.name if found else address


def cancel_absence(request: Request, detected: Detected) -> list[Answer]:
    """``ANNULER ABSENCE`` (``du 20/12/2026``: the one covering that day): the
    sender's current and coming absences end (the coordination may name
    someone else with « Pour : »)."""
    people = people_of(request.config)
    today = today_of(request)
    written_for = _for_line(detected)
    day = None
    try:
        who = (resolve_person(written_for, team=[], roster=people) if written_for
               else sender_of(request, people))
        text = detected.raw_args.strip()
        if text:
            day = parse_date(text.removeprefix("du ").removeprefix("le ").strip(), today=today)
    except FieldError as e:
        return _refused(request, detected, e)
    if who.email != request.sender.email and not request.sender.is_coordinator:
        return say(request, "Absence", "Rien n'a été fait : seule la coordination peut annuler "
                   "l'absence d'une autre personne.", refused=True)
    absences, doc = absence_repo.load(request.tx)
    gone = absences.cancel(who.email, today, day)
    if not gone:
        return say(request, "Absence", f"Rien n'a été fait : aucune absence en cours ou à venir "
                   f"n'est enregistrée pour {who.name}"
                   + (f" le {format_date(day)}" if day else "") + ".", refused=True)
    absence_repo.save(request.tx, absences, doc, author=request.sender.email, at=request.now,
                      message_id=request.mail.message_id, summary="absence annulée")
    absence_repo.reconcile_all(request.tx, request.config, request.now)
    record(request, "absence-cancel", None, f"{who.email}, {len(gone)}")
    said = " ; ".join(absence_words(a, request.config, with_name=False) for a in gone)
    whose = "vous" if who.email == request.sender.email else "lui"
    return say(request, "Absence annulée",
               f"Absence annulée pour {who.name} : {said}. Les rappels {whose} reviennent dès "
               "maintenant.")


def list_absences(request: Request, detected: Detected) -> list[Answer]:
    today = today_of(request)
    absences, _ = absence_repo.load(request.tx)
    everyone = access.sees_every_plan(request.sender)
    shown = [a for a in absences.current_and_coming(today)
             if everyone or a.member == request.sender.email]
    record(request, "absences", None, f"{len(shown)} listed")
    title = "Absences de l'équipe" if everyone else "Vos absences"
    if not shown:
        body = (f"Au {format_date(today)}, aucune absence en cours ou à venir"
                + (" dans l'équipe." if everyone else " n'est enregistrée pour vous."))
    else:
        now_away = [a for a in shown if a.start <= today]
        coming = [a for a in shown if a.start > today]
        parts = []
        if now_away:
            parts += ["En ce moment :", *(f" - {absence_words(a, request.config)}"
                                          + _source(a) for a in now_away), ""]
        if coming:
            parts += ["À venir :", *(f" - {absence_words(a, request.config)}" + _source(a)
                                     for a in coming), ""]
        body = "\n".join(parts).rstrip()
    if not everyone:
        body += ("\n\nLa liste de toute l'équipe est réservée à la coordination et aux "
                 "référents de l'équipe.")
    body += ("\n\nPour signaler une absence : « ABSENCE du 20/12/2026 au 04/01/2027 », "
             "éventuellement suivie d'une ligne « Remplaçant : Dr GIRARD ».")
    return say(request, title, body)


def _source(absence: Absence) -> str:
    return " (lue dans une réponse automatique)" if absence.source != DECLARED else ""

