"""The evaluation figures of a period, from what the service already holds.

Pure: plans, meetings and the mail counts in, figures out. Each figure says
in one French sentence how it is computed, so that the coordinator can
answer the ARS's "how did you count?" and anyone can recompute it from the
stored plans and the audit trail. No funding threshold is written here: the
team's configuration names its own targets.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from esp_coord.config import Member
from esp_coord.report.attendance import attendance
from esp_coord.store.records import MailActivity
from plans.meetings import Held, Meeting
from plans.model import CLOSED, TODO, Plan
from plans.people import profession_name
from plans.periods import Period


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | int | str | None  # None: not available yet
    how: str  # French: how it is computed
    unit: str = ""  # "%", "jours", "min"...
    count: bool = True  # a count of patients (small counts are hidden outside the team)
    breakdown: Mapping[str, int] = field(default_factory=dict)  # for a chart
    target: float | None = None


@dataclass(frozen=True)
class Section:
    title: str
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class Report:
    team: str
    period: Period
    sections: tuple[Section, ...]
    annex: tuple[tuple[str, str, str], ...]  # (plan ref, created, closed) of the period

    def figure(self, key: str) -> Figure:
        for section in self.sections:
            for f in section.figures:
                if f.key == key:
                    return f
        raise KeyError(key)


def _day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def _active_during(plan: Plan, period: Period, tz: ZoneInfo) -> bool:
    created = _day(plan.created_at, tz)
    closed = _day(plan.closed_at, tz) if plan.closed_at is not None else None
    return created <= period.end and (closed is None or closed >= period.start)


def _held_in(meetings: Iterable[Meeting], period: Period) -> list[tuple[Meeting, Held]]:
    return sorted(((m, h) for m in meetings for h in m.held if h.day in period),
                  key=lambda pair: pair[1].day)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def compute(*, team: str, plans: Sequence[Plan], meetings: Sequence[Meeting],
            mail: MailActivity, members: Sequence[Member], period: Period, tz: ZoneInfo,
            targets: Mapping[str, float] | None = None,
            themes: Sequence[str] = ()) -> Report:
    """``themes``: the team's declared problem themes; none, no figure by theme."""
    targets = targets or {}
    in_period = [p for p in plans if _active_during(p, period, tz)]
    created = [p for p in plans if _day(p.created_at, tz) in period]
    closed = [p for p in plans if p.status == CLOSED and p.closed_at is not None
              and _day(p.closed_at, tz) in period]
    active_end = [p for p in in_period if p.closed_at is None or _day(p.closed_at, tz) > period.end]
    by_protocol = Counter(pr.title for p in in_period for pr in p.protocols)
    profession_of = {m.email: m.profession for m in members}

    def fig(key: str, label: str, value: float | int | str | None, how: str,
            **kw: object) -> Figure:
        return Figure(key, label, value, how, target=targets.get(key), **kw)  # type: ignore[arg-type]

    by_theme = Counter(t for p in in_period for t in dict.fromkeys(p.themes) if t in themes)
    without_theme = sum(1 for p in in_period if not set(p.themes) & set(themes))
    theme_figures = (fig(
        "plans_by_theme", "Patients par thème", sum(by_theme.values()),
        "Plans actifs pendant la période, comptés une fois par thème du projet de santé "
        "(lignes « Thème : » du plan, parmi les thèmes déclarés par l’équipe) ; « sans "
        "thème » : plans qui n’en portent aucun.",
        breakdown={**{t: by_theme[t] for t in themes if by_theme[t]},
                   **({"sans thème": without_theme} if without_theme else {})}),
    ) if themes else ()
    patients = Section("Patients suivis", (
        fig("plans_created", "Plans créés", len(created),
            "Plans personnalisés de santé créés pendant la période (date de création)."),
        fig("plans_active", "Plans actifs en fin de période", len(active_end),
            "Plans créés avant la fin de la période et non clos à cette date."),
        fig("plans_closed", "Plans clos", len(closed),
            "Plans clos pendant la période (commande CLORE)."),
        fig("plans_by_protocol", "Patients par protocole", sum(by_protocol.values()),
            "Plans actifs pendant la période, comptés une fois par protocole appliqué.",
            breakdown=dict(by_protocol.most_common())),
        *theme_figures,
    ))

    held = _held_in(meetings, period)
    decisions = [(h, d) for _, h in held for d in h.decisions]
    reviewed = {d.plan for _, d in decisions}
    active_refs = {p.ref for p in in_period}
    came = attendance(meetings, period, members)
    per_meeting = [len({d.plan for d in h.decisions}) for _, h in held]
    concertation = Section("Concertation pluriprofessionnelle", (
        fig("meetings_held", "Réunions tenues", len(held),
            "Réunions de concertation dont le compte rendu a été enregistré "
            "(commande COMPTE-RENDU), à leur date.", count=False),
        fig("patients_per_meeting", "Patients revus par réunion",
            round(statistics.mean(per_meeting), 1) if per_meeting else None,
            "Moyenne, sur les réunions tenues, du nombre de plans ayant une décision "
            "au compte rendu.", count=False),
        fig("share_reviewed", "Part des patients revus en réunion",
            _pct(len(reviewed & active_refs), len(active_refs)),
            "Plans ayant au moins une décision dans un compte rendu de la période, "
            "rapportés aux plans actifs pendant la période.", unit="%", count=False),
        fig("decisions", "Décisions par patient enregistrées", len(decisions),
            "Décisions nominatives (une ligne par plan) des comptes rendus : le compte "
            "rendu daté et interrogeable, patient par patient."),
        fig("attendance", "Présents par réunion", sum(came.present.values()),
            "Présence effective : personnes de l’équipe nommées par la ligne « Présents : » "
            "du compte rendu de chaque réunion tenue.", count=False, breakdown=came.present),
        fig("attendance_by_profession", "Présences par profession",
            sum(came.present_by_profession.values()),
            "Les mêmes présences effectives (comptes rendus), par profession de l’annuaire "
            "de l’équipe.", count=False,
            breakdown=dict(came.present_by_profession.most_common())),
        fig("attendance_intended", "Participations annoncées par réunion",
            sum(came.intended.values()),
            "Présence annoncée, pas la présence effective : invitations acceptées depuis "
            "l’agenda des participants (réponse « Accepter » d’Outlook, Thunderbird, Apple, "
            "Gmail…), pour chaque date de réunion de la période tenue ou ayant reçu des "
            "réponses ; la dernière réponse de chacun pour cette date compte.", count=False,
            breakdown=came.intended),
        fig("attendance_intended_by_profession", "Participations annoncées par profession",
            sum(came.intended_by_profession.values()),
            "Les mêmes invitations acceptées, par profession de l’annuaire de l’équipe.",
            count=False, breakdown=dict(came.intended_by_profession.most_common())),
        fig("calendar_answers", "Réponses aux invitations", sum(came.answers.values()),
            "Réponses des agendas des participants (acceptées, provisoires, refusées) pour "
            "ces mêmes dates, la dernière de chacun par date.", count=False,
            breakdown=dict(came.answers.most_common())),
    ))

    on_time = late = still_open = 0
    delays: list[int] = []
    done_by_profession: Counter[str] = Counter()
    for plan in in_period:
        for action in plan.actions:
            for occ in action.done:
                if occ.on in period:
                    done_by_profession[profession_name(profession_of.get(occ.by, "autre"))] += 1
                if occ.due is None or occ.due not in period:
                    continue
                if occ.on <= occ.due:
                    on_time += 1
                else:
                    late += 1
                    delays.append((occ.on - occ.due).days)
            if action.status == TODO and action.due is not None and action.due in period:
                still_open += 1
    protocols_section = Section("Protocoles et suivis", (
        fig("protocols_in_use", "Protocoles en usage", len(by_protocol),
            "Protocoles de la bibliothèque de l’équipe appliqués à au moins un plan actif "
            "pendant la période.", count=False),
        fig("followups_on_time", "Suivis faits à temps", on_time,
            "Occurrences d’actions échues pendant la période et marquées FAIT au plus tard "
            "le jour prévu.", count=False),
        fig("followups_late", "Suivis faits en retard", late,
            "Occurrences échues pendant la période et marquées FAIT après le jour prévu.",
            count=False),
        fig("followups_delay", "Retard médian", statistics.median(delays) if delays else None,
            "Médiane, en jours, du retard des suivis faits en retard.", unit="jours",
            count=False),
        fig("followups_open", "Suivis encore ouverts", still_open,
            "Actions échues pendant la période et toujours à faire.", count=False),
    ))

    involved = {a for p in in_period for a in p.team}
    involved_by_profession = Counter(profession_name(profession_of.get(a, "autre"))
                                     for a in involved if a in profession_of)
    coordinators = [m.name for m in members if m.is_coordinator]
    team_section = Section("Équipe et coordination", (
        fig("professionals", "Professionnels impliqués", sum(involved_by_profession.values()),
            "Membres de l’annuaire dans l’équipe de soins d’au moins un plan actif pendant "
            "la période.", count=False, breakdown=dict(involved_by_profession.most_common())),
        fig("actions_by_profession", "Actions faites par profession",
            sum(done_by_profession.values()),
            "Occurrences marquées FAIT pendant la période, par profession de qui l’a fait.",
            count=False, breakdown=dict(done_by_profession.most_common())),
        fig("coordination", "Fonction de coordination", ", ".join(coordinators) or None,
            "Membres de l’annuaire qui ont le rôle de coordination.", count=False),
    ))

    delays_min = [d / 60 for d in mail.answer_delays]
    messaging = Section("Messagerie sécurisée", (
        fig("mails_handled", "Messages traités", mail.handled,
            "Messages reçus dans la boîte de l’équipe et traités pendant la période.",
            count=False),
        fig("mails_answered", "Messages répondus", mail.answered,
            "Messages de membres de l’équipe auxquels le service a répondu.", count=False),
        fig("mails_quarantined", "Messages en quarantaine", mail.quarantined,
            "Messages d’expéditeurs hors de l’équipe, mis de côté sans réponse.", count=False),
        fig("answer_time", "Délai médian de réponse",
            round(statistics.median(delays_min), 1) if delays_min else None,
            "Médiane, en minutes, entre le traitement d’un message et l’envoi de sa réponse.",
            unit="min", count=False),
        fig("hospital_documents", "Documents reçus des établissements", None,
            "Pas encore disponible : la réception des lettres de liaison arrive avec une "
            "prochaine version.", count=False),
    ))
    annex = tuple((p.ref, f"{_day(p.created_at, tz):%d/%m/%Y}",
                   f"{_day(p.closed_at, tz):%d/%m/%Y}" if p.closed_at else "")
                  for p in sorted(in_period, key=lambda p: p.ref))
    return Report(team, period, (patients, concertation, protocols_section, team_section,
                                 messaging), annex)
