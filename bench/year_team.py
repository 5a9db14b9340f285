"""The team of the year-long reminder simulation (issue 17): who they are,
their patients, their absences, and how they behave.

Twelve professionals (three GPs, four nurses, two pharmacists, two
physiotherapists, the coordinator) share 150 patients: 100 plans written in
the first weeks of January (the patients the team already follows), 50 more
through the year. Each plan has three to five actions of the rhythms a real
team writes (weekly nursing visits, dressings every two days for a few weeks,
a physiotherapy course, monthly pharmacist interviews, quarterly
consultations, one-off assessments) and, for three in ten, the type 2
diabetes protocol's follow-ups. A monthly concertation meeting (RCP) has the
whole team as participants.

Everything random here is drawn from ``random.Random`` seeded with the
thing it is about, so both sides of the comparison (before/after) see the
same team, the same plans and the same fate for each occurrence of each
action, whatever happened before it.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from stdnum import luhn
from stdnum.fr import nir

ROOT = Path(__file__).resolve().parents[1]
BOT = "coordination@esp-valdelorge.mssante.test"
YEAR = 2027
NEVER = 10_000  # days: an occurrence nobody ever marks done


@dataclass(frozen=True)
class Pro:
    name: str
    profession: str
    domain: str
    label: str          # how colleagues name them in an "Équipe" or "Action" line
    roles: tuple[str, ...] = ()

    @property
    def email(self) -> str:
        given, family = self.name.lower().split(" ", 1)
        return f"{given}.{family.replace(' ', '-')}@{self.domain}.mssante.test"


def _pros() -> list[Pro]:
    people = [("Claire DURAND", "medecin", "medecin", "Dr DURAND", ("referent",)),
              ("Paul GIRARD", "medecin", "medecin", "Dr GIRARD", ()),
              ("Helene ROCHE", "medecin", "medecin", "Dr ROCHE", ()),
              ("Julien MARIE", "infirmier", "infirmier", "IDE Julien MARIE", ()),
              ("Nadia BOUCHER", "infirmier", "infirmier", "IDE Nadia BOUCHER", ()),
              ("Thomas LEGER", "infirmier", "infirmier", "IDE Thomas LEGER", ()),
              ("Ines CARON", "infirmier", "infirmier", "IDE Ines CARON", ()),
              ("Sophie LEROY", "pharmacien", "pharmacien", "pharmacien LEROY", ()),
              ("Marc VIDAL", "pharmacien", "pharmacien", "pharmacien VIDAL", ()),
              ("Karim BENALI", "masseur-kinesitherapeute", "mk", "kiné BENALI", ()),
              ("Lucie NOEL", "masseur-kinesitherapeute", "mk", "kiné NOEL", ()),
              ("Ana COSTA", "coordinatrice", "esp-valdelorge", "Ana COSTA", ("coordinator",))]
    return [Pro(*p) for p in people]


PROS = _pros()
GPS = [p for p in PROS if p.profession == "medecin"]
NURSES = [p for p in PROS if p.profession == "infirmier"]
PHARMACISTS = [p for p in PROS if p.profession == "pharmacien"]
PHYSIOS = [p for p in PROS if p.profession == "masseur-kinesitherapeute"]
COORDINATOR = PROS[-1]


def _rpps(index: int) -> str:
    body = f"1000{index:06d}"
    return body + luhn.calc_check_digit(body)


def config_data(*, digest: bool, days_off: bool) -> dict[str, Any]:
    """The example team's configuration with this roster: ``digest`` and
    ``days_off`` off give the service as it was before issue 17."""
    data = tomllib.loads((ROOT / "config" / "esp.example.toml").read_text(encoding="utf-8"))
    data["team"]["members"] = [
        {"name": p.name, "email": p.email, "profession": p.profession,
         "roles": list(p.roles), **({"rpps": _rpps(i)} if p is not COORDINATOR else {})}
        for i, p in enumerate(PROS)]
    for server in ("imap", "smtp"):
        data[server] = {"host": "127.0.0.1", "security": "none", "auth": "none"}
    data["reminders"]["digest"] = digest
    if not days_off:
        data["reminders"]["days_off"] = []
    return data


# --- patients and plans ------------------------------------------------------

@dataclass(frozen=True)
class Patient:
    index: int
    family: str
    given: str
    sex: str
    birth: date
    ins: str
    referent: Pro
    nurse: Pro
    pharmacist: Pro
    physio: Pro | None
    written: date       # the day the referent writes the plan


FAMILIES = ["MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DUBOIS", "MOREAU",
            "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "ROUX", "DAVID", "BERTRAND", "MOREL",
            "FOURNIER", "BONNET", "DUPONT", "LAMBERT", "ROUSSEAU", "VINCENT", "MULLER",
            "FAURE", "ANDRE", "MERCIER", "BLANC", "GUERIN", "BOYER", "GARNIER"]
GIVEN = {"F": ["Jeanne", "Odette", "Simone", "Yvette", "Germaine", "Paulette", "Monique"],
         "M": ["Louis", "Marcel", "André", "René", "Roger", "Henri", "Lucien"]}


def working_days(start: date, end: date) -> list[date]:
    """Mondays to Fridays from ``start`` to ``end``; holidays are the
    service's business, not the team's writing habits."""
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def patients(count: int = 150, first_wave: int = 100) -> list[Patient]:
    """``first_wave`` plans over the first four weeks of January, the rest
    spread over the following working days of the year."""
    january = working_days(date(YEAR, 1, 4), date(YEAR, 1, 29))
    later = working_days(date(YEAR, 2, 1), date(YEAR, 11, 30))
    out = []
    for i in range(count):
        rng = random.Random(f"patient:{i}")
        sex = rng.choice("FM")
        birth = date(rng.randint(1925, 1960), rng.randint(1, 12), rng.randint(1, 28))
        body = f"{1 if sex == 'M' else 2}{birth.year % 100:02d}{birth.month:02d}75056{i + 1:03d}"
        family = FAMILIES[i % len(FAMILIES)]
        if i >= len(FAMILIES):
            family = f"{family}-{FAMILIES[(i // len(FAMILIES)) % len(FAMILIES)]}"
        if i < first_wave:
            written = january[i * len(january) // first_wave]
        else:
            written = later[(i - first_wave) * len(later) // max(1, count - first_wave)]
        out.append(Patient(
            index=i, family=family, given=rng.choice(GIVEN[sex]), sex=sex, birth=birth,
            ins=body + nir.calc_check_digits(body), referent=GPS[i % len(GPS)],
            nurse=NURSES[i % len(NURSES)], pharmacist=PHARMACISTS[i % len(PHARMACISTS)],
            physio=PHYSIOS[i % len(PHYSIOS)] if rng.random() < 0.4 else None, written=written))
    return out


def plan_body(p: Patient) -> str:
    rng = random.Random(f"plan:{p.index}")
    spaced = (f"{p.ins[0]} {p.ins[1:3]} {p.ins[3:5]} {p.ins[5:7]} {p.ins[7:10]} "
              f"{p.ins[10:13]} {p.ins[13:]}")
    team = [p.nurse, p.pharmacist] + ([p.physio] if p.physio else [])
    lines = [f"Patient : {p.family} {p.given}",
             f"{'Née' if p.sex == 'F' else 'Né'} le : {p.birth:%d/%m/%Y}",
             f"Sexe : {p.sex}", f"INS : {spaced}", "Consentement : oui",
             f"Référent : {p.referent.label}", "Équipe : " + ", ".join(m.label for m in team),
             "", "Problème : maintien à domicile, polypathologie",
             "Objectif : aucune hospitalisation non programmée sur 6 mois", ""]
    later = p.written + timedelta(days=rng.randint(10, 50))
    nursing = rng.choice(["chaque semaine", "chaque semaine", "tous les 15 jours"])
    lines.append(f"Action : {p.nurse.label} | surveillance poids, tension, glycémies | {nursing}")
    if rng.random() < 0.15:
        lines.append(f"Action : {p.nurse.label} | pansement de la plaie | "
                     "tous les 2 jours pendant 3 semaines")
    lines.append(f"Action : {p.pharmacist.label} | "
                 + rng.choice([f"bilan partagé de médication | {later:%d/%m/%Y}",
                               "entretien observance | tous les mois"]))
    if p.physio:
        lines.append(f"Action : {p.physio.label} | rééducation à la marche | "
                     "2 fois par semaine pendant 3 mois")
    lines.append(f"Action : {p.referent.label} | consultation de suivi | tous les 3 mois")
    if rng.random() < 0.3:
        lines.append("Protocole : diabete-type-2")
    lines += [f"Réévaluation : {p.written + timedelta(days=180):%d/%m/%Y}", "", "--",
              p.referent.label]
    return "\n".join(lines) + "\n"


def fate(ref: str, number: int, due: date) -> int:
    """How many days after ``due`` this occurrence is marked done: most on
    the day, some a few days late, a few weeks late, a few never."""
    x = random.Random(f"fate:{ref}:{number}:{due.isoformat()}").random()
    if x < 0.60:
        return 0
    if x < 0.80:
        return 1 + int((x - 0.60) / 0.20 * 3)
    if x < 0.92:
        return 4 + int((x - 0.80) / 0.12 * 9)
    if x < 0.98:
        return 14 + int((x - 0.92) / 0.06 * 22)
    return NEVER


# --- absences ----------------------------------------------------------------

@dataclass(frozen=True)
class Away:
    who: Pro
    start: date
    end: date
    substitute: Pro | None
    declared: bool      # ABSENCE sent a few days before; else only an out-of-office reply


def _monday(week: int) -> date:
    return date.fromisocalendar(YEAR, week, 1)


def absences() -> list[Away]:
    """Two weeks in summer (staggered over July and August), a week in
    winter or spring, and the Christmas week for half the team. One member
    in three never declares theirs: only their out-of-office replies say it.
    A colleague of the same profession substitutes for every other one."""
    out = []
    for i, who in enumerate(PROS):
        same = [p for p in PROS if p.profession == who.profession and p is not who]
        declared = i % 3 != 0
        substitute = same[0] if same and i % 2 == 0 else None
        summer = _monday(27 + (i * 5) % 8)
        spring = _monday(7 + (i * 3) % 12)
        periods = [(summer, summer + timedelta(days=13)), (spring, spring + timedelta(days=6))]
        if i % 2 == 1:
            periods.append((date(YEAR, 12, 20), date(YEAR, 12, 31)))
        out += [Away(who, s, e, substitute, declared) for s, e in periods]
    return out


def away(people: list[Away], who: Pro, day: date) -> Away | None:
    return next((a for a in people if a.who is who and a.start <= day <= a.end), None)


# --- mails -------------------------------------------------------------------

class Writer:
    """RFC 5322 mails from the team to the service, with unique Message-IDs."""

    def __init__(self) -> None:
        self.count = 0

    def mail(self, sender: Pro, subject: str, body: str, at: datetime, *,
             automatic: bool = False) -> bytes:
        self.count += 1
        msg = EmailMessage(policy=SMTP)
        msg["From"] = f"{sender.name} <{sender.email}>"
        msg["To"] = BOT
        msg["Subject"] = subject
        msg["Date"] = format_datetime(at)
        msg["Message-ID"] = f"<year.{self.count}@{sender.email.split('@')[1]}>"
        if automatic:
            msg["Auto-Submitted"] = "auto-replied"
        msg.set_content(body, charset="utf-8", cte="8bit")
        return msg.as_bytes()


def absence_body(a: Away) -> str:
    lines = [f"ABSENCE du {a.start:%d/%m/%Y} au {a.end:%d/%m/%Y}"]
    if a.substitute:
        lines.append(f"Remplaçant : {a.substitute.label}")
    return "\n".join(lines) + "\n"


def out_of_office(a: Away) -> tuple[str, str]:
    """The subject and text of an out-of-office reply, French or English."""
    if PROS.index(a.who) % 2 == 0:
        return ("Réponse automatique : absence",
                f"Je suis absent(e) du {a.start:%d/%m/%Y} au {a.end:%d/%m/%Y}. "
                "En cas d'urgence, contactez le cabinet.\n")
    return ("Automatic reply: out of office",
            f"I am out of the office until {a.end:%B} {a.end.day}, {a.end.year}.\n")
