"""The French answers the service sends, as text (the mail's HTML part is made
from it when the mail is built, ``esp_coord.outgoing``), never sent here.

Every function returns a ``Rendered`` (subject, text). Texts are written
with ordinary spaces and passed once through ``plans.typography.french()``.
Subjects stay short and carry at most the plan reference and, for a created
or updated plan, the patient's « NOM Prénom » (as the acknowledgement of
example 01 shows); error subjects carry no patient data at all.

``people`` is the roster (``Person``s) used to show an address as
« IDE Julien MARIE »; an address not on it is shown as is. ``tz`` converts
instants to the team's local time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from plans.commands import DISPLAY, SYNTAX, SYNTAXES, Syntax
from plans.dates import format_date, format_time
from plans.drafts import LineError, LineWarning
from plans.model import Action, Occurrence, Plan
from plans.people import Person
from plans.typography import french

__all__ = ["COMMAND_EXAMPLES", "DocumentLine", "Rendered", "counted", "render_closed",
           "render_created", "render_done", "render_errors", "render_help", "render_list",
           "render_not_understood", "render_postponed", "render_status", "render_undone",
           "render_updated"]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


@dataclass(frozen=True)
class DocumentLine:
    """A document received for a plan, as STATUT lists it (no content)."""

    number: int
    title: str
    day: date | None
    origin: str  # author and institution, or the sender's address


# One example per command, as a professional would write it (help, "not
# understood"): read from the commands' declarations (``plans.commands.SYNTAXES``).
COMMAND_EXAMPLES: dict[str, tuple[str, str]] = {s.name: (s.purpose, s.example)
                                                for s in SYNTAXES}

_REPLY_HELP = [
    "Pour répondre, gardez la référence dans l'objet et écrivez en première ligne :",
    " - MAJ, puis des lignes « Rubrique : valeur », par exemple :",
    "     MAJ",
    "     Action : IDE | pansement | tous les 2 jours",
    "     Note : patiente fatiguée",
    " - FAIT 1 : l'action 1 est faite (le reste du message devient son commentaire)",
    " - REPORTER 2 au 15/12/2026 : l'action 2 est repoussée",
    " - STATUT : l'état du plan ; AIDE : toutes les commandes",
]


def _done(subject: str, lines: Iterable[str]) -> Rendered:
    text = french("\n".join(lines).strip() + "\n")
    return Rendered(french(subject), text)


def _who(address: str | None, people: Sequence[Person]) -> str:
    if not address:
        return "(sans intervenant)"
    for person in people:
        if person.email.lower() == address.lower():
            return person.label
    return address


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """« 1 action », « 2 actions », « 0 action » (French: zero takes the singular)."""
    return f"{n} {singular if n < 2 else plural or singular + 's'}"


def _when(action: Action) -> str:
    if action.when.rhythm is None:
        # REPORTER stores the new date's time or clears the old one: always current.
        return (f"le {format_date(action.due)}" if action.due else "sans date"
                ) + action.when.time_suffix()
    text = action.when.describe()
    if action.due and action.status == "todo":
        text += f", prochaine le {format_date(action.due)}"
    return text


def _action_line(action: Action, people: Sequence[Person]) -> str:
    line = f"{action.number}. {_who(action.assignee, people)} : {action.what} - {_when(action)}"
    if action.protocol:
        line += f" (protocole {action.protocol})"
    return line


def _at(moment: datetime, tz: tzinfo | None) -> str:
    local = moment.astimezone(tz) if tz and moment.tzinfo else moment
    return f"{local:%d/%m/%Y} à {format_time(local.time())}"


def _born(plan: Plan) -> str:
    word = "née" if plan.patient.sex == "F" else "né"
    return f"{word} le {format_date(plan.patient.birth_date)}"


def _section(title: str, items: Sequence[str]) -> list[str]:
    return [f"{title} :", *(f" - {item}" for item in items), ""] if items else []


def _warnings(warnings: Sequence[LineWarning]) -> list[str]:
    return _section("À noter", [str(w) for w in warnings])


# STATUT shows this many notes, the most recent first; the rest are counted.
STATUS_NOTES = 5


def _dated_notes(plan: Plan, people: Sequence[Person], tz: tzinfo | None) -> list[str]:
    """Notes and FAIT comments, most recent first, each with its date and author."""
    notes = [(n.at, n.author, n.text) for n in plan.notes]
    notes += [(o.at, o.by, f"action {a.number} faite le {format_date(o.on)} : {o.comment}")
              for a in plan.actions for o in a.done if o.comment and o.at]
    notes.sort(key=lambda n: n[0], reverse=True)
    lines = [f"{_at(at, tz)}, {_who(by, people)} : {text}" for at, by, text in notes]
    if len(lines) > STATUS_NOTES:
        older = counted(len(lines) - STATUS_NOTES, "note plus ancienne", "notes plus anciennes")
        lines = [*lines[:STATUS_NOTES], f"… et {older}"]
    return lines


def _plan_body(plan: Plan, people: Sequence[Person],
               notes: Sequence[str] | None = None) -> list[str]:
    """The plan's content; ``notes`` replaces the plain list of its notes."""
    lines = [f"Référent : {_who(plan.referent, people)}",
             "Équipe : " + ", ".join(_who(m, people) for m in plan.team), ""]
    lines += _section("Thèmes", plan.themes)
    lines += _section("Problèmes", plan.problems)
    lines += _section("Souhaits du patient", plan.preferences)
    lines += _section("Objectifs", plan.objectives)
    actions = [a for a in plan.actions if a.status != "cancelled"]
    if actions:
        lines += ["Actions :", *(" " + _action_line(a, people) for a in actions), ""]
    lines += _section("Protocoles", [p.name if p.title == p.name else f"{p.name} ({p.title})"
                                     for p in plan.protocols])
    lines += _section("Alertes", plan.alerts)
    if plan.review_date:
        lines += [f"Réévaluation : {format_date(plan.review_date)}", ""]
    lines += _section("Notes", [n.text for n in plan.notes] if notes is None else notes)
    return lines


def render_created(plan: Plan, *, people: Sequence[Person],
                   warnings: Sequence[LineWarning] = (), tz: tzinfo | None = None) -> Rendered:
    """Acknowledgement of ``NOUVEAU PPS``: the whole plan and how to reply."""
    version = plan.versions[-1]
    lines = [f"Plan {plan.ref} créé pour {plan.patient.display_name} ({_born(plan)}).",
             f"Version {version.number} du {_at(version.at, tz)}, par "
             f"{_who(version.author, people)}.", ""]
    lines += _plan_body(plan, people) + _warnings(warnings) + _REPLY_HELP
    return _done(f"[{plan.ref}] Plan créé - {plan.patient.display_name}", lines)


_CHANGE_TITLES = {"team": "Rejoint l'équipe", "referent": "Nouveau référent",
                  "problem": "Nouveau problème", "objective": "Nouvel objectif",
                  "preference": "Souhait du patient", "alert": "Nouvelle alerte",
                  "note": "Note", "review_date": "Réévaluation le",
                  "protocol": "Protocole appliqué", "action": "Nouvelle action",
                  "theme": "Thème"}


def render_updated(plan: Plan, changes: Sequence[tuple[str, str]], *, people: Sequence[Person],
                   warnings: Sequence[LineWarning] = (), tz: tzinfo | None = None) -> Rendered:
    """Acknowledgement of ``MAJ``: what changed (``Plan.apply``'s result), the new version."""
    version = plan.versions[-1]
    lines = [f"Plan {plan.ref} ({plan.patient.display_name}) mis à jour : version "
             f"{version.number} du {_at(version.at, tz)}, par {_who(version.author, people)}.",
             "", "Ce qui a changé :"]
    for kind, value in changes:
        if kind in ("team", "referent"):
            value = _who(value, people)
        elif kind == "review_date":
            value = format_date(date.fromisoformat(value))
        elif kind == "action":
            value = _action_line(plan.action(int(value)), people)
        lines.append(f" - {_CHANGE_TITLES.get(kind, kind)} : {value}")
    lines.append("")
    open_actions = [a for a in plan.actions if a.status == "todo"]
    if open_actions:
        lines += ["Actions en cours :", *(" " + _action_line(a, people) for a in open_actions), ""]
    lines += _warnings(warnings) + _REPLY_HELP
    return _done(f"[{plan.ref}] Plan mis à jour - {plan.patient.display_name}", lines)


def render_errors(errors: Sequence[LineError], warnings: Sequence[LineWarning] = (), *,
                  command: str | None = None, ref: str | None = None) -> Rendered:
    """Every problem of a refused mail, one block each; nothing was saved."""
    count = len(errors)
    what = f"Votre message {DISPLAY.get(command, command)}" if command else "Votre message"
    lines = ["Rien n'a été enregistré.", "",
             f"{what} contient {count} erreur{'s' if count > 1 else ''}. Corrigez "
             f"{'les lignes' if count > 1 else 'la ligne'} ci-dessous et renvoyez le message "
             "en entier.", ""]
    for error in sorted(errors, key=lambda e: (e.line is None, e.line or 0)):
        if error.line is None:
            lines.append("Ligne manquante :")
        else:
            lines.append(f"Ligne {error.line} : « {error.text} »")
        lines += [f"   Problème : {error.problem}", f"   Attendu : {error.expected}",
                  f"   Exemple : {error.example}", ""]
    lines += _warnings(warnings)
    lines.append("AIDE en réponse vous renvoie des exemples de chaque message.")
    tag = f"[{ref}] " if ref else ""
    return _done(f"{tag}Non enregistré : {count} erreur{'s' if count > 1 else ''}", lines)


def _action_status(action: Action, people: Sequence[Person], today: date) -> str:
    head = f"{action.number}. {_who(action.assignee, people)} : {action.what}"
    last = action.done[-1] if action.done else None
    done = f"fait le {format_date(last.on)} par {_who(last.by, people)}" if last else ""
    if action.status == "cancelled":
        state = "annulée"
    elif action.status == "done":
        state = done or "faite"
    elif action.due is None:
        state = "sans date"
    elif action.due < today:
        state = f"EN RETARD depuis le {format_date(action.due)}"
    else:
        state = f"prévue le {format_date(action.due)}" + (
            "" if action.recurring else action.when.time_suffix())
    if action.status == "todo" and action.recurring:
        state = f"{action.when.describe()} ; {state}" + (f" ; dernière fois {done}" if done else "")
    return f"{head} - {state}"


def _documents(documents: Sequence[DocumentLine]) -> list[str]:
    if not documents:
        return []
    items = [f"n° {d.number} : {d.title or 'document'}"
             + (f" du {format_date(d.day)}" if d.day else "")
             + (f" ({d.origin})" if d.origin else "") for d in documents]
    return [*_section("Documents reçus", items)[:-1],
            "   (DOCUMENT 1 en réponse pour recevoir le document n° 1)", ""]


def render_status(plan: Plan, *, people: Sequence[Person], today: date,
                  next_meeting: str | None = None, tz: tzinfo | None = None,
                  documents: Sequence[DocumentLine] = (),
                  absences: Sequence[str] = ()) -> Rendered:
    """``STATUT``: the plan with every action's state, its documents and the
    last changes; ``absences``: those of its team, current and coming, as the
    service words them."""
    state = "actif" if plan.is_active else f"clos le {_at(plan.closed_at, tz)}" \
        if plan.closed_at else "clos"
    late = plan.overdue(today)
    lines = [f"Plan {plan.ref} - {plan.patient.display_name} ({_born(plan)}) : {state}, "
             f"version {plan.version}.",
             f"Au {format_date(today)} : {counted(len(plan.open_actions()), 'action')} en "
             f"cours, {len(late)} en retard.", ""]
    body = _plan_body(plan, people, _dated_notes(plan, people, tz))
    start = body.index("Actions :") if "Actions :" in body else None
    if start is not None:
        end = body.index("", start)
        body[start + 1:end] = [" " + _action_status(a, people, today) for a in plan.actions]
    lines += body
    lines += _documents(documents)
    lines += _section("Dernières modifications",
                      [f"{_at(v.at, tz)}, {_who(v.author, people)} : {v.summary}"
                       for v in reversed(plan.versions[-5:])])
    if next_meeting:
        lines += [f"Prochaine concertation : {next_meeting}", ""]
    if absences:
        lines += _section("Absences dans l'équipe du plan", list(absences))
    lines += _REPLY_HELP
    return _done(f"[{plan.ref}] Statut", lines)


def render_list(plans: Sequence[Plan], *, people: Sequence[Person], today: date) -> Rendered:
    """``LISTE``: one line per active plan."""
    lines = [f"{counted(len(plans), 'plan actif', 'plans actifs')} au {format_date(today)} :"
             if plans else f"Aucun plan actif au {format_date(today)}.", ""]
    for plan in sorted(plans, key=lambda p: p.ref):
        nxt = plan.next_due(today)
        coming = (f"prochaine action le {format_date(nxt.due)} ({_who(nxt.assignee, people)})"
                  if nxt and nxt.due else "aucune action à venir")
        late = len(plan.overdue(today))
        lines.append(f" - {plan.ref} {plan.patient.display_name} : {coming}"
                     + (f", {late} en retard" if late else ""))
    lines += ["", "STATUT suivi de la référence donne le détail d'un plan."]
    return _done("Vos plans actifs", lines)


def render_done(plan: Plan, action: Action, *, people: Sequence[Person]) -> Rendered:
    last = action.done[-1]
    lines = [f"Action {action.number} du plan {plan.ref} notée faite le {format_date(last.on)} "
             f"par {_who(last.by, people)} : {action.what}."]
    if action.status == "todo" and action.due:
        lines.append(f"Prochaine fois : le {format_date(action.due)} ({action.when.describe()}).")
    elif action.status == "done":
        lines.append("Cette action est terminée.")
    if last.comment:
        lines += ["", "Commentaire enregistré :", last.comment]
    return _done(f"[{plan.ref}] Action {action.number} faite", lines)


def render_undone(plan: Plan, action: Action, undone: Occurrence, *,
                  people: Sequence[Person]) -> Rendered:
    """``ANNULER FAIT``: the action is to do again, and from when."""
    lines = [f"Action {action.number} du plan {plan.ref} ({_who(action.assignee, people)} : "
             f"{action.what}) remise à faire.",
             f"La mention « faite le {format_date(undone.on)} par {_who(undone.by, people)} » "
             "est annulée."]
    if action.due is None:
        lines.append("Elle n'a pas d'échéance.")
    else:
        lines.append(f"Échéance : le {format_date(action.due)}"
                     + (f" ({action.when.describe()})." if action.recurring
                        else f"{action.when.time_suffix()}."))
        lines.append("Les rappels de cette action reprennent.")
    if undone.comment:
        lines.append("Son commentaire est gardé dans les notes du plan.")
    return _done(f"[{plan.ref}] Action {action.number} remise à faire", lines)


def render_postponed(plan: Plan, action: Action, *, people: Sequence[Person]) -> Rendered:
    new = format_date(action.due) if action.due else "?"
    lines = [f"Action {action.number} du plan {plan.ref} ({_who(action.assignee, people)} : "
             f"{action.what}) reportée au {new}."]
    return _done(f"[{plan.ref}] Action {action.number} reportée", lines)


def render_closed(plan: Plan, *, people: Sequence[Person], tz: tzinfo | None = None) -> Rendered:
    when = _at(plan.closed_at, tz) if plan.closed_at else ""
    lines = [f"Plan {plan.ref} ({plan.patient.display_name}) clos le {when} par "
             f"{_who(plan.closed_by, people)}.",
             "Il reste consultable (STATUT) mais ne reçoit plus de mise à jour."]
    return _done(f"[{plan.ref}] Plan clos", lines)


def _example(syntax: Syntax) -> list[str]:
    return [f"{syntax.display} : {syntax.purpose}",
            *("    " + ln for ln in syntax.example.split("\n")), ""]


def render_help(sender_name: str | None = None,
                commands: Sequence[Syntax] = SYNTAXES) -> Rendered:
    """``AIDE``: one example per command of ``commands`` (the service passes
    those of its registry), in that order."""
    lines = [f"Bonjour {sender_name},", ""] if sender_name else []
    lines += ["Écrivez la commande dans l'objet du message ou sur sa première ligne ; "
             "majuscules et accents ne comptent pas.", ""]
    for syntax in commands:
        lines += _example(syntax)
    lines.append("Les personnes s'écrivent par leur nom (Dr DURAND), leur adresse ou leur "
                 "profession (IDE, kiné, pharmacien) ; les dates en 15/12/2026, J+10 ou "
                 "« dans 2 semaines » ; les rythmes en « chaque semaine », « tous les 2 jours », "
                 "« 2 fois par semaine pendant 3 mois ».")
    return _done("Aide - commandes du service de coordination", lines)


def render_not_understood(text: str, suggestions: Sequence[str],
                          sender_name: str | None = None) -> Rendered:
    """Anything else: what was not understood, the closest commands with examples."""
    shown = " ".join(text.split())[:80]
    lines = [f"Bonjour {sender_name},", ""] if sender_name else []
    lines += [f"Votre message n'a pas été compris : « {shown} » n'est pas une commande."
             if shown else "Votre message n'a pas été compris : il ne contient pas de commande.",
             "Rien n'a été enregistré.", ""]
    names = list(suggestions) or ["STATUT", "MAJ", "AIDE"]
    lines.append("Vouliez-vous écrire :" if suggestions else "Par exemple :")
    for name in names:
        lines += _example(SYNTAX[name])
    lines.append("AIDE en réponse vous renvoie toutes les commandes.")
    return _done("Message non compris", lines)
