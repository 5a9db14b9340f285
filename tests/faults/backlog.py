"""A realistic backlog for the campaigns: plan creations, questions, strangers, auto-replies.

Every mail says what it must produce (``Expected``): the folder it ends in and
whether it gets exactly one answer. Patients are all distinct (their own INS),
so each NOUVEAU PPS must create exactly one plan.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from stdnum.fr import nir

from esp_coord.intake import parse_mail
from tests.servers.smtp_front import SmtpFront

BOT = "coordination@esp-valdelorge.mssante.test"
MEMBERS = [
    ("Claire DURAND", "claire.durand@medecin.mssante.test"),
    ("Paul GIRARD", "paul.girard@medecin.mssante.test"),
    ("Julien MARIE", "julien.marie@infirmier.mssante.test"),
    ("Sophie LEROY", "sophie.leroy@pharmacien.mssante.test"),
    ("Ana COSTA", "ana.costa@esp-valdelorge.mssante.test"),
]
FAMILY = ["MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS",
          "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID"]
GIVEN = ["Jeanne", "Marie", "Louise", "Odette", "Suzanne", "Madeleine", "Germaine", "Yvonne"]


@dataclass(frozen=True)
class Expected:
    raw: bytes
    message_id: str
    kind: str          # plan | help | unknown-plan | stranger | automatic
    folder: str        # where the mail must end
    answered: bool     # exactly one answer, else none
    patient: str = ""  # family name, for plan mails


def _ins(order: int) -> str:
    first13 = f"2480375056{order:03d}"
    return first13 + nir.calc_check_digits(first13)


def _mail(*, name: str, sender: str, subject: str, body: str, mid: str,
          extra: str = "") -> bytes:
    # Today's date: the weekly action of a plan falls due today, so that its
    # reminder goes out during the campaign (see process.write_config).
    date = format_datetime(datetime.now(UTC))
    return (f"From: {name} <{sender}>\r\nTo: {BOT}\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: {mid}\r\n{extra}"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def plan_body(family: str, given: str, order: int) -> str:
    return (f"Patient : {family} {given}\n"
            "Née le : 12/03/1948\nSexe : F\n"
            f"INS : {_ins(order)}\n"
            "Consentement : oui\nRéférent : Dr DURAND\n"
            "Équipe : IDE Julien MARIE, pharmacien LEROY\n\n"
            "Problème : Diabète de type 2 déséquilibré\n"
            "Objectif : HbA1c < 7,5 % d'ici 6 mois\n"
            "Action : IDE | surveillance glycémies et poids | chaque semaine\n"
            "Action : pharmacien | bilan partagé de médication | 15/12/2026\n"
            "Réévaluation : 15/05/2027\n")


def backlog(seed: int, size: int = 200, *, processed: str = "Traités",
            quarantine: str = "Quarantaine") -> list[Expected]:
    """``size`` mails in a seeded random order: 40 % plans, 30 % questions,
    15 % unknown plans, 10 % strangers, 5 % auto-replies."""
    rng = random.Random(seed)
    # A cycle of 20, so that a short backlog has every kind too.
    kinds = ["plan", "help", "plan", "unknown-plan", "help", "plan", "stranger", "help",
             "plan", "unknown-plan", "plan", "help", "automatic", "plan", "help",
             "unknown-plan", "plan", "stranger", "help", "plan"]
    out: list[Expected] = []
    plans = 0
    for number in range(size):
        kind = kinds[number % len(kinds)]
        mid = f"<campaign-{seed}-{number}@medecin.mssante.test>"
        name, sender = rng.choice(MEMBERS)
        if kind == "plan":
            plans += 1
            family = f"{rng.choice(FAMILY)}-{plans:03d}"
            raw = _mail(name="Claire DURAND", sender=MEMBERS[0][1], subject="NOUVEAU PPS",
                        body=plan_body(family, rng.choice(GIVEN), plans), mid=mid)
            out.append(Expected(raw, mid, kind, processed, True, patient=family))
        elif kind == "help":
            raw = _mail(name=name, sender=sender, subject="AIDE",
                        body=f"Bonjour, comment ça marche ? ({number})", mid=mid)
            out.append(Expected(raw, mid, kind, processed, True))
        elif kind == "unknown-plan":
            raw = _mail(name=name, sender=sender, subject="STATUT PPS-2026-9999",
                        body="Où en est ce plan ?", mid=mid)
            out.append(Expected(raw, mid, kind, processed, True))
        elif kind == "stranger":
            raw = _mail(name="Marc PETIT", sender=f"marc.petit{number}@medecin.mssante.test",
                        subject="AIDE", body="Bonjour", mid=mid)
            out.append(Expected(raw, mid, kind, quarantine, False))
        else:
            raw = _mail(name=name, sender=sender, subject="Réponse automatique : absence",
                        body="Je suis absente.", mid=mid,
                        extra="Auto-Submitted: auto-replied\r\n")
            out.append(Expected(raw, mid, kind, processed, False))
    rng.shuffle(out)
    return out


def answers_by_thread(front: SmtpFront) -> Counter[str]:
    """How many mails the service sent in reply to each Message-ID."""
    counts: Counter[str] = Counter()
    for received in front.messages:
        if received.mail_from != BOT:
            continue
        for mid in parse_mail(received.content).in_reply_to:
            counts[mid] += 1
    return counts
