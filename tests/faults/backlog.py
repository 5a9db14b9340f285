"""A realistic backlog for the campaigns: plan creations, questions, strangers, auto-replies.

Every mail says what it must produce (``Expected``): the folder it ends in and
whether it gets exactly one answer. Patients are all distinct (their own INS),
so each NOUVEAU PPS must create exactly one plan.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from stdnum.fr import nir

from esp_coord.config import Config
from esp_coord.intake import parse_mail
from esp_coord.triage import read_and_triage
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
            quarantine: str = "Quarantaine", bot: str = BOT,
            patients: str = "") -> list[Expected]:
    """``size`` mails to ``bot`` in a seeded random order: 40 % plans, 30 %
    questions, 15 % unknown plans, 10 % strangers, 5 % auto-replies. Family
    names start with ``patients`` (tells teams' patients apart)."""
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
            family = f"{patients}{rng.choice(FAMILY)}-{plans:03d}"
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
    if bot != BOT:
        out = [replace(m, raw=m.raw.replace(f"To: {BOT}".encode(), f"To: {bot}".encode()))
               for m in out]
    return out


def answers_by_thread(front: SmtpFront, bot: str = BOT) -> Counter[str]:
    """How many mails ``bot`` sent in reply to each Message-ID."""
    counts: Counter[str] = Counter()
    for received in front.messages:
        if received.mail_from != bot:
            continue
        for mid in parse_mail(received.content).in_reply_to:
            counts[mid] += 1
    return counts


def reminder_mails(front: SmtpFront, bot: str = BOT) -> Counter[str]:
    """Reminder mails ``bot`` sent, by Message-ID (stable per reminder)."""
    return Counter(mid for r in front.messages if r.mail_from == bot
                   and ".rappel." in (mid := parse_mail(r.content).message_id or ""))


def check_reminders(rows: list[tuple[str, str, str, str]], sent: Counter[str], seed: int,
                    now: str) -> None:
    """Each reminder row (key, source_ref, status, due_at as text) marked sent
    went out exactly once (``sent``: the mails, by Message-ID), and every
    reminder due by ``now`` was sent (the weekly action of each plan falls
    due today)."""
    done = {f"{ref}.rappel.{hashlib.sha256(key.encode()).hexdigest()[:16]}"
            for key, ref, status, _ in rows if status == "sent"}
    tags = {mid[1:].split("@", 1)[0] for mid in sent}
    assert done and tags == done, f"seed {seed}: {len(done)} sent rows, {len(tags)} mails"
    late = [key for key, _, status, due in rows if status == "pending" and due <= now]
    assert not late, f"seed {seed}: due reminders never sent: {len(late)}"


async def check_store(store: Any, config: Config, mails: list[Expected], seed: int, *,
                      reminders: int) -> None:
    """What the store holds after a campaign: each mail's outcome, one plan
    per NOUVEAU PPS numbered without gaps, and every outbox row sent."""
    keyring = store.keyring
    keys = {m.message_id: read_and_triage(m.raw, config, keyring)[0].dedup_key for m in mails}

    def read(tx):  # type: ignore[no-untyped-def]
        outcomes = {mid: tx.processed(key) for mid, key in keys.items()}
        plans = tx.find_documents("plan")
        histories = [len(tx.history("plan", p.ref)) for p in plans]
        return outcomes, plans, histories, tx.outbox_stats()

    outcomes, plans, histories, stats = await store.run(read)
    expected_outcome = {"plan": "answered", "help": "answered", "unknown-plan": "answered",
                        "stranger": "quarantined", "automatic": "ignored"}
    wrong = {m.message_id: (outcomes[m.message_id].outcome if outcomes[m.message_id] else None)
             for m in mails
             if outcomes[m.message_id] is None
             or outcomes[m.message_id].outcome != expected_outcome[m.kind]}
    assert not wrong, f"seed {seed}: wrong outcomes {wrong}"
    created = [m for m in mails if m.kind == "plan"]
    assert len(plans) == len(created), f"seed {seed}: {len(plans)} plans for {len(created)}"
    assert sorted(p.ref for p in plans) == [f"PPS-2026-{n:04d}" for n in
                                            range(1, len(created) + 1)]
    # Each plan saved once (one history entry, version 1) with its two actions.
    assert set(histories) == {1} and {p.version for p in plans} == {1}, seed
    assert {len(p.data["actions"]) for p in plans} == {2}, seed
    patients = Counter(p.data["patient"]["family_name"] for p in plans)
    assert set(patients) == {m.patient for m in created} and max(patients.values()) == 1
    answered = sum(m.answered for m in mails)
    assert {k: v for k, v in stats.items() if v} == {"sent": answered + reminders}, (seed, stats)
