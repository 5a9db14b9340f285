"""Synthetic plan mails from the example team, for the benchmarks.

Many different invented patients, each with a valid INS (key computed with
``stdnum.fr.nir``, in agreement with sex and birth date), and the commands a
team really sends about them: NOUVEAU PPS first, then MAJ, STATUT and FAIT
that name the plan by its reference or answer the service's acknowledgement.
Plans are numbered in the order their NOUVEAU PPS mails are processed, which
is the order of the corpus (the inbox is read by ascending UID).

Encodings vary as in real mailboxes: 8bit UTF-8, quoted-printable, base64,
ISO-8859-1, HTML-only, multipart/alternative, and replies quoting the
service's answer below the new text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from html import escape

from stdnum.fr import nir

BOT = "coordination@esp-valdelorge.mssante.test"
DOMAIN = "esp-valdelorge.mssante.test"


@dataclass(frozen=True)
class Member:
    name: str
    email: str
    label: str  # how colleagues name them in an "Équipe" or "Action" line


DURAND = Member("Claire DURAND", "claire.durand@medecin.mssante.test", "Dr DURAND")
GIRARD = Member("Paul GIRARD", "paul.girard@medecin.mssante.test", "Dr GIRARD")
MARIE = Member("Julien MARIE", "julien.marie@infirmier.mssante.test", "IDE Julien MARIE")
LEROY = Member("Sophie LEROY", "sophie.leroy@pharmacien.mssante.test", "pharmacien LEROY")
BENALI = Member("Karim BENALI", "karim.benali@mk.mssante.test", "kiné BENALI")
FONTAINE = Member("Lea FONTAINE", "lea.fontaine@dieteticien.mssante.test", "diététicienne FONTAINE")
COSTA = Member("Ana COSTA", "ana.costa@esp-valdelorge.mssante.test", "Ana COSTA")

FAMILY = ["MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS",
          "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID",
          "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE",
          "ROUSSEAU", "VINCENT", "MULLER", "LEFEVRE", "FAURE", "ANDRE", "MERCIER", "BLANC",
          "GUERIN", "BOYER", "GARNIER", "CHEVALIER", "FRANCOIS", "LEGRAND", "GAUTHIER",
          "GARCIA", "PERRIN", "ROBIN", "CLEMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL",
          "MATHIEU", "GAUTIER", "MASSON"]
GIVEN_F = ["Jeanne", "Odette", "Marie", "Simone", "Yvette", "Germaine", "Paulette", "Denise",
           "Monique", "Colette", "Suzanne", "Hélène", "Renée", "Lucienne", "Gisèle", "Éliane"]
GIVEN_M = ["Louis", "Marcel", "André", "René", "Jean", "Pierre", "Roger", "Robert", "Henri",
           "Lucien", "Georges", "Maurice", "Raymond", "Gérard", "Émile", "François"]
# (INSEE commune code of birth): Paris, Lyon, Marseille, Ajaccio, Rennes, Lille, Toulouse.
PLACES = ["75056", "69123", "13055", "2A004", "35238", "59350", "31555", "2B033"]

PROBLEMS = ["Diabète de type 2 déséquilibré (HbA1c {a},{b} %)",
            "Insuffisance cardiaque, décompensation en {y}",
            "Chutes à domicile", "Dénutrition (perte de {a} kg en 6 mois)",
            "Troubles cognitifs débutants", "BPCO stade {a}", "Plaie chronique du pied gauche",
            "Fibrillation auriculaire sous AVK", "Isolement social, aidant épuisé",
            "Douleurs chroniques du genou", "Insuffisance rénale modérée"]
OBJECTIVES = ["HbA1c < 7,5 % d'ici 6 mois", "aucune hospitalisation non programmée sur 6 mois",
              "reprise de {a} kg d'ici 3 mois", "marche autonome avec aide technique",
              "cicatrisation complète de la plaie", "INR dans la cible 2-3"]
WISHES = ["rester à domicile", "garder son autonomie pour les courses",
          "continuer à jardiner", "voir ses petits-enfants le dimanche"]
ALERTS = ["prise de poids > 2 kg en 3 jours -> appeler {ref}",
          "glycémie > 3 g/l -> appeler {ref}", "chute avec traumatisme -> appeler le 15"]
# (member, what) -- every rhythm form the grammar accepts appears somewhere.
ACTIONS = [(MARIE, "surveillance glycémies et poids, examen des pieds", "chaque semaine"),
           (MARIE, "pansement de la plaie", "tous les 2 jours"),
           (LEROY, "bilan partagé de médication", "{d1}"),
           (BENALI, "rééducation à la marche, prévention des chutes",
            "2 fois par semaine pendant 3 mois"),
           (FONTAINE, "bilan nutritionnel et conseils", "{d2}"),
           (None, "consultation de suivi", "tous les 3 mois"),
           (MARIE, "contrôle tension artérielle", "tous les 15 jours"),
           (LEROY, "entretien observance", "tous les mois")]
NOTES = ["patiente motivée, fille présente le mercredi", "passage fait, patient fatigué",
         "aidant joignable le matin", "douleurs mieux contrôlées depuis une semaine"]
DONE = ["Séance faite, marche avec déambulateur sur 50 m.", "Fait ce jour, RAS.",
        "Réalisé, à revoir la semaine prochaine.", "Fait. Patient coopérant."]


@dataclass
class Patient:
    family: str
    given: str
    sex: str
    birth: date
    ins: str
    team: list[Member]
    referent: Member
    actions: list[Member]  # who carries each numbered action, in order
    ref: str = ""


def _patient(rng: random.Random, index: int) -> Patient:
    sex = rng.choice("FM")
    given = rng.choice(GIVEN_F if sex == "F" else GIVEN_M)
    # A unique family name per patient (suffix beyond the list): no two patients
    # share name and birth date, which would raise an identity check.
    family = FAMILY[index % len(FAMILY)]
    if index >= len(FAMILY):
        family = f"{family}-{FAMILY[(index // len(FAMILY)) % len(FAMILY)]}"
    birth = date(rng.randint(1925, 1965), rng.randint(1, 12), rng.randint(1, 28))
    place = rng.choice(PLACES)
    order = f"{(index * 7 + rng.randint(1, 6)) % 999 + 1:03d}"
    body = f"{1 if sex == 'M' else 2}{birth.year % 100:02d}{birth.month:02d}{place}{order}"
    ins = body + nir.calc_check_digits(body)
    nir.validate(ins)
    referent = rng.choice([DURAND, GIRARD])
    team = [MARIE] + rng.sample([LEROY, BENALI, FONTAINE], rng.randint(1, 3))
    return Patient(family, given, sex, birth, ins, team, referent, [])


def _fill(text: str, rng: random.Random, patient: Patient, today: date) -> str:
    year = today.year
    return text.format(a=rng.randint(2, 9), b=rng.randint(0, 9), y=year,
                       d1=f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{year + 1}",
                       d2=f"{rng.randint(1, 28):02d}/0{rng.randint(1, 9)}/{year + 1}",
                       ref=patient.referent.label)


def _new_plan_body(rng: random.Random, p: Patient, today: date) -> str:
    born = "Née le" if p.sex == "F" else "Né le"
    spaced = f"{p.ins[0]} {p.ins[1:3]} {p.ins[3:5]} {p.ins[5:7]} {p.ins[7:10]} " \
             f"{p.ins[10:13]} {p.ins[13:]}"
    lines = [f"Patient : {p.family} {p.given}", f"{born} : {p.birth:%d/%m/%Y}",
             f"Sexe : {p.sex}", f"INS : {rng.choice([spaced, p.ins])}", "Consentement : oui",
             f"Référent : {p.referent.label}",
             "Équipe : " + ", ".join(m.label for m in p.team), ""]
    for text in rng.sample(PROBLEMS, rng.randint(1, 3)):
        lines.append(f"Problème : {_fill(text, rng, p, today)}")
    if rng.random() < 0.5:
        lines.append(f"Souhaits du patient : {', '.join(rng.sample(WISHES, 2))}")
    for text in rng.sample(OBJECTIVES, rng.randint(1, 2)):
        lines.append(f"Objectif : {_fill(text, rng, p, today)}")
    lines.append("")
    carriers = {m.email for m in p.team}
    for who, what, when in rng.sample(ACTIONS, rng.randint(2, 4)):
        member = who or p.referent
        if member.email not in carriers and member is not p.referent:
            member = MARIE
        label = "IDE" if member is MARIE else member.label
        lines.append(f"Action : {label} | {what} | {_fill(when, rng, p, today)}")
        p.actions.append(member)
    if rng.random() < 0.3:
        lines.append("Protocole : diabete-type-2")
    if rng.random() < 0.5:
        lines.append(f"Alerte : {_fill(rng.choice(ALERTS), rng, p, today)}")
    lines.append(f"Réévaluation : {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/"
                 f"{today.year + 1}")
    lines += ["", "--", f"Dr {p.referent.name.split()[0]} {p.referent.name.split()[1].title()}"]
    return "\n".join(lines) + "\n"


def _quote(ref: str, p: Patient) -> str:
    return (f"\nLe {random.randint(1, 28):02d}/11/2026 à 09:13, {BOT} a écrit :\n"
            f"> Plan {ref} créé pour {p.family} {p.given}.\n> Actions :\n"
            f">  1. IDE Julien MARIE : surveillance - chaque semaine\n")


class _Writer:
    """Builds RFC 5322 messages with varied MIME shapes."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.count = 0

    def message(self, sender: Member, subject: str, body: str, *,
                in_reply_to: str | None = None) -> bytes:
        self.count += 1
        local, domain = sender.email.split("@")
        msg = EmailMessage(policy=SMTP)
        msg["From"] = f"{sender.name} <{sender.email}>"
        msg["To"] = BOT
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.now)
        msg["Message-ID"] = f"<bench.{self.count}.{self.rng.getrandbits(48):x}@{domain}>"
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
            msg["References"] = in_reply_to
        shape = self.rng.random()
        if shape < 0.55:
            msg.set_content(body, charset="utf-8", cte="8bit")
        elif shape < 0.70:
            msg.set_content(body, charset="utf-8", cte="quoted-printable")
        elif shape < 0.78:
            msg.set_content(body, charset="iso-8859-1", cte="quoted-printable")
        elif shape < 0.85:
            msg.set_content(body, charset="utf-8", cte="base64")
        else:
            html = "".join(f"<div>{escape(line) or '<br>'}</div>" for line in body.split("\n"))
            html = f"<html><body style=\"font-family:Calibri\">{html}</body></html>"
            if shape < 0.92:
                msg.set_content(html, subtype="html", charset="utf-8", cte="quoted-printable")
            else:
                msg.set_content(body, charset="utf-8", cte="quoted-printable")
                msg.add_alternative(html, subtype="html", charset="utf-8",
                                    cte="quoted-printable")
        return msg.as_bytes()


def generate(n: int, *, seed: int = 1, now: datetime | None = None) -> list[bytes]:
    """``n`` raw mails: about 30 % NOUVEAU PPS, 30 % MAJ, 20 % STATUT, 20 % FAIT.

    Every mail is valid and answerable by the example team: each command comes
    from someone allowed to send it, about a plan created earlier in the list.
    """
    rng = random.Random(seed)
    now = now or datetime.now().astimezone()
    today = now.date()
    writer = _Writer(rng, now)
    mails: list[bytes] = []
    patients: list[Patient] = []
    while len(mails) < n:
        roll = rng.random()
        if not patients or roll < 0.3:
            p = _patient(rng, len(patients))
            p.ref = f"PPS-{today.year}-{len(patients) + 1:04d}"
            body = _new_plan_body(rng, p, today)
            patients.append(p)
            mails.append(writer.message(p.referent, "NOUVEAU PPS", body))
            continue
        p = rng.choice(patients)
        ack = f"<{p.ref}.ack.1@{DOMAIN}>"
        if roll < 0.6:
            sender = rng.choice(p.team + [p.referent])
            body = "MAJ\n" if rng.random() < 0.5 else ""
            lines = [f"Note : {rng.choice(NOTES)}"]
            if rng.random() < 0.5:
                lines.append(f"Problème : {_fill(rng.choice(PROBLEMS), rng, p, today)}")
            if rng.random() < 0.3:
                d = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{today.year + 1}"
                lines.append(f"Action : IDE | visite à domicile | {d}")
            body += "\n".join(lines) + "\n"
            if body.startswith("MAJ"):
                # A reply to the acknowledgement, quote below: the plan comes from In-Reply-To.
                mails.append(writer.message(sender, f"RE: [{p.ref}] Plan créé - {p.family} "
                                            f"{p.given}", body + _quote(p.ref, p),
                                            in_reply_to=ack))
            else:
                mails.append(writer.message(sender, f"MAJ {p.ref}", body))
        elif roll < 0.8:
            sender = rng.choice([COSTA, p.referent])
            if rng.random() < 0.5:
                mails.append(writer.message(sender, f"Re: [{p.ref}] Plan créé - {p.family} "
                                            f"{p.given}", "statut\n\nAna\n", in_reply_to=ack))
            else:
                mails.append(writer.message(sender, f"STATUT {p.ref}", "Merci.\n"))
        else:
            number = rng.randint(1, len(p.actions))
            sender = p.actions[number - 1]
            mails.append(writer.message(sender, f"FAIT {number} {p.ref}",
                                        rng.choice(DONE) + "\n"))
    return mails
