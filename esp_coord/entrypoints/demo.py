"""``esp-coord demo``: the whole service on an embedded mail server, replaying the
example team's mails as their senders would send them, and printing the
conversation. No root, no network beyond loopback, nothing to install.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import email
import email.utils
import logging
import secrets
import tempfile
import time
import tomllib
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from adapters.embedded import EmbeddedMailServer
from adapters.smtp import SmtpSender
from esp_coord import absence_repo
from esp_coord.absence_repo import absence_words
from esp_coord.bootstrap import Service, Tuning, build_service
from esp_coord.clock import DrivenClock
from esp_coord.config import Config, config_from_dict
from esp_coord.crypto import Keyring
from esp_coord.intake import IncomingMail, parse_mail
from esp_coord.meeting_repo import MeetingRepository
from esp_coord.ports import UnitOfWork
from esp_coord.report.gather import build_report
from esp_coord.report.render import headline, to_html
from esp_coord.triage import read_and_triage
from plans.absences import AUTO_REPLY, Absence
from plans.attendance import ACCEPTED, DECLINED, DELEGATED, TENTATIVE, CalendarReply
from plans.dates import format_date
from plans.periods import Period

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "esp.example.toml"
EXAMPLE_MESSAGES = ROOT / "config" / "examples" / "messages"
# The demo's own scenes beyond the shared examples (issue 17: a declared
# absence, an action due on Fridays that meets Christmas; issue 15: calendar
# answers and the meeting's compte-rendu): kept apart so that
# config/examples stays a copy of ../shared/examples.
DEMO_SCENES = ROOT / "config" / "demo"

REPLY_WORDS = {ACCEPTED: "accepte", DECLINED: "décline", TENTATIVE: "accepte provisoirement",
               DELEGATED: "délègue"}
OUTCOME_WORDS = {
    "quarantined": "aucune réponse : expéditeur hors de l'équipe, message mis en quarantaine",
    "ignored": "aucune réponse : message automatique (absence, accusé…), jamais de boucle",
    "failed": "erreur interne : message conservé en quarantaine",
}


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the service did not settle in time")
        await asyncio.sleep(0.05)


def example_team_config() -> Config:
    """``config/esp.example.toml`` with mail servers never reached as they
    are (127.0.0.1, no TLS, no login): the demo fills them in, tests need none."""
    data = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    for server in ("imap", "smtp"):
        data[server] = {"host": "127.0.0.1", "security": "none", "auth": "none"}
    return config_from_dict(data, path=EXAMPLE_CONFIG)


def example_config(folder: Path, name: str = "demo") -> Config:
    """The example team's configuration, its mail servers to be filled in, its
    SQLite database and key file ``name``.db and ``name``.key in ``folder``
    (also used by tests and benchmarks)."""
    return dataclasses.replace(example_team_config(),
                               database_url=f"sqlite:///{folder / (name + '.db')}",
                               key_file=folder / f"{name}.key")


# After the last mail, the clock runs on this long: through the next meeting
# of the series, its J-7 and J-1, and the follow-ups due meanwhile.
AFTER_REPLAY = timedelta(days=24)


async def run_demo(messages: Path | None = None, *, console: Console | None = None) -> int:
    console = console or Console(highlight=False, soft_wrap=True)
    # The conversation is the output: service logs would drown it.
    logging.getLogger("esp_coord").setLevel(logging.WARNING)
    logging.getLogger("adapters").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # the report's PDF
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    folders = [messages] if messages else [EXAMPLE_MESSAGES, DEMO_SCENES]
    # In the order they were written: reminders fall in between, as in real life.
    files = sorted((p for folder in folders for p in folder.glob("*.eml")),
                   key=lambda p: (parse_mail(p.read_bytes()).date or datetime.max.replace(
                       tzinfo=UTC), p.name))
    if not files:
        console.print(f"Aucun message d'exemple dans {folders[0]}.")
        return 1
    with tempfile.TemporaryDirectory(prefix="esp-coord-demo-") as tmp:
        config = example_config(Path(tmp))
        # Members and strangers of the examples all get a mailbox: the demo
        # shows what each of them receives.
        addresses = {config.bot_address, *(m.email for m in config.members),
                     *(parse_mail(p.read_bytes()).from_address for p in files)}
        passwords = {a: secrets.token_urlsafe(12) for a in addresses}
        async with AsyncExitStack() as stack:
            server = EmbeddedMailServer(users=passwords)
            await server.start(stack)
            config = dataclasses.replace(config, imap=server.imap_settings(config.bot_address),
                                         smtp=server.smtp_settings(config.bot_address))
            keyring = Keyring.generate()
            keyring.save(config.key_file)
            first = parse_mail(files[0].read_bytes())
            clock = DrivenClock(first.date or datetime.now(UTC))
            service = build_service(config, keyring=keyring, clock=clock, tuning=Tuning(
                idle_timeout=2.0, outbox_poll=0.2, witness_grace=timedelta(seconds=30)))
            await service.start(stack)
            console.print(Panel.fit(
                f"[bold]{config.team_name}[/] — démonstration d'esp-coord\n"
                f"Service : {config.bot_address} (serveur de messagerie intégré, TLS)\n"
                f"{len(files)} messages de l'équipe rejoués à leur date, horloge simulée : "
                "les rappels partent entre les messages",
                border_style="cyan"))
            inboxes = _Inboxes(server, [a for a in passwords if a != config.bot_address])
            await inboxes.fresh()
            timeline = _Timeline(console, config)
            last = clock.now()
            for path in files:
                mail = parse_mail(path.read_bytes())
                if mail.date is not None:
                    await _time_passes(mail.date, clock=clock, service=service,
                                       inboxes=inboxes, timeline=timeline)
                    last = max(last, mail.date)
                await _replay(path, server=server, service_config=config, clock=clock,
                              inboxes=inboxes, console=console, service=service)
            until = last + AFTER_REPLAY
            console.rule(f"[bold]Le temps passe : horloge avancée jusqu'au "
                         f"{until.astimezone(config.timezone):%d/%m/%Y}[/]")
            await _time_passes(until, clock=clock, service=service, inboxes=inboxes,
                               timeline=timeline)
            console.rule()
            console.print(await _summary(service))
            await _write_report(service, config, first.date or clock.now(), until, console)
    return 0


REPORT_FILE = ROOT / "var" / "demo-rapport.html"


async def _write_report(service: Service, config: Config, start: datetime, end: datetime,
                        console: Console) -> None:
    """The activity report of the demo's period, as the coordination would send it."""
    tz = config.timezone
    period = Period(start.astimezone(tz).date(), end.astimezone(tz).date(), "")
    period = dataclasses.replace(
        period, label=f"du {format_date(period.start)} au {format_date(period.end)}")
    report = await service.store.run(lambda tx: build_report(tx, config, period))
    REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    REPORT_FILE.write_text(to_html(report), encoding="utf-8")
    console.print(f"Rapport d'activité de la période ({period.label}) : {REPORT_FILE}")
    for label, value in headline(report).items():
        console.print(f"  {label} : {value}")


class _Inboxes:
    """What each member received since the last look."""

    def __init__(self, server: EmbeddedMailServer, addresses: list[str]) -> None:
        self.server = server
        self.seen = dict.fromkeys(addresses, 0)

    async def fresh(self) -> list[tuple[str, bytes]]:
        found = []
        for address, count in self.seen.items():
            raws = await self.server.messages(address)
            found += [(address, raw) for raw in raws[count:]]
            self.seen[address] = len(raws)
        return found


def _grouped(mails: list[tuple[str, bytes]]) -> list[tuple[list[str], IncomingMail, bytes]]:
    """Mails of identical subject, one entry with all its recipients, first seen first."""
    groups: dict[str, tuple[list[str], IncomingMail, bytes]] = {}
    for address, raw in mails:
        mail = parse_mail(raw)
        groups.setdefault(mail.subject, ([], mail, raw))[0].append(address)
    return list(groups.values())


def _ical_text(value: Any) -> str:
    text = value.to_ical()
    return text.decode() if isinstance(text, bytes) else str(text)


def _calendar_lines(raw: bytes) -> list[str]:
    """The invitation's essentials, read back from the mail with icalendar."""
    from icalendar import Calendar

    msg = email.message_from_bytes(raw)
    for part in msg.walk():
        if part.get_content_type() == "text/calendar" and part.get_filename():
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            cal = Calendar.from_ical(payload)
            event = cal.walk("VEVENT")[0]
            lines = [f"📎 {part.get_filename()} : METHOD:{cal['METHOD']}  UID:{event['UID']}  "
                     f"SEQUENCE:{event['SEQUENCE']}"]
            start = event["DTSTART"]
            lines.append(f"   DTSTART;TZID={start.params.get('TZID', '')}:"
                         f"{_ical_text(start)}"
                         + (f"  RRULE:{_ical_text(event['RRULE'])}" if "RRULE" in event else "")
                         + (f"  RECURRENCE-ID:{_ical_text(event['RECURRENCE-ID'])}"
                            if "RECURRENCE-ID" in event else ""))
            return lines
    return []


def _variants(mails: list[tuple[str, bytes]]
              ) -> list[list[tuple[list[str], IncomingMail, bytes]]]:
    """Mails of identical subject, one entry each; within it, one variant per
    distinct text with its recipients (a reminder names the patient to the
    plan's team only, greets each person by name)."""
    groups: dict[str, dict[str, tuple[list[str], IncomingMail, bytes]]] = {}
    for address, raw in mails:
        mail = parse_mail(raw)
        groups.setdefault(mail.subject, {}).setdefault(
            mail.text, ([], mail, raw))[0].append(address)
    # The text most people got comes first, in full; mails arrive in any order.
    return [sorted(variants.values(), key=lambda v: (-len(v[0]), sorted(v[0])))
            for variants in groups.values()]


def _changed_lines(first: str, other: str) -> list[str]:
    """The lines of ``other`` that differ from ``first``."""
    a, b = first.rstrip().splitlines(), other.rstrip().splitlines()
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [line for tag, _, _, j1, j2 in matcher.get_opcodes() if tag != "equal"
            for line in b[j1:j2]]


_SHORT = {"digest": "rappels : ", "digest-meeting": "rappels : ", "team": "suivi : "}


class _Timeline:
    """Prints what the service sends on its own: in full the first digest of
    each sort (a person's daily reminders with actions, one with a meeting,
    the team follow-up, the first covering for someone absent, the first
    moved before a day off), the first quarantine notice and the first mail
    of each other sort (each text variant with who received it), then one
    line per morning for the others, each recipient with what their subject
    says."""

    def __init__(self, console: Console, config: Config) -> None:
        self.console, self.config = console, config
        self.shown: set[str] = set()

    def _names(self, addresses: list[str]) -> str:
        return ", ".join(_name(self.config, a) for a in addresses)

    @staticmethod
    def _kind(mail: IncomingMail) -> str:
        subject = mail.subject
        if subject.startswith("Rappels du"):
            return "digest-meeting" if "réunion" in subject.split(":", 1)[-1] and (
                "FAIT" not in mail.text) else "digest"
        for prefix, kind in (("Suivi de l'équipe", "team"), ("[RCP-", "meeting"),
                             ("Messages en quarantaine", "quarantine"),
                             ("Rapport d’activité", "report")):
            if subject.startswith(prefix):
                return kind
        return "plan"

    @classmethod
    def _features(cls, mail: IncomingMail) -> set[str]:
        """What a mail shows: its sort, and whether it covers for someone
        absent or was moved before a day off (each shown in full once)."""
        text = mail.text.replace("\xa0", " ").replace("\u202f", " ")
        found = {cls._kind(mail)}
        if "En remplacement de" in text:
            found.add("covering")
        if "dernier jour ouvré" in text:
            found.add("day-off")
        return found

    def show(self, at: datetime, mails: list[tuple[str, bytes]]) -> None:
        when = at.astimezone(self.config.timezone).strftime("%d/%m/%Y %H:%M")
        others: list[str] = []
        for variants in _variants(mails):
            mail, raw = variants[0][1], variants[0][2]
            recipients = [a for v in variants for a in v[0]]
            kind, features = self._kind(mail), self._features(mail)
            if features <= self.shown:
                said = _SHORT.get(kind, "") + mail.subject.split(" : ", 1)[-1]
                others += [f"{_name(self.config, a)} ({said})" for a in recipients]
                continue
            self.shown |= features
            self.console.print(f"[bold magenta]⏰ {when} service[/] → "
                               f"{escape(self._names(recipients))}   Objet : "
                               f"{escape(mail.subject)}")
            self._print_variants(variants)
            for line in _calendar_lines(raw):
                self.console.print(f"  [dim]{line}[/]")
        if others:
            self.console.print(
                f"[magenta]⏰ {when} service[/] → {len(others)} message"
                f"{'s' if len(others) > 1 else ''} : " + escape(" ; ".join(others)))

    def _print_variants(self, variants: list[tuple[list[str], IncomingMail, bytes]]) -> None:
        """The first text in full, then what differs in each other one: the
        demo must not suggest that everyone got the same words (a patient's
        name goes to the plan's team only)."""
        first = variants[0][1].text
        if len(variants) > 1:
            self.console.print(f"  [dim]Texte reçu par {escape(self._names(variants[0][0]))} :[/]")
        for line in first.rstrip().splitlines():
            self.console.print(f"  │ {line}", markup=False)
        for addresses, mail, _ in variants[1:]:
            self.console.print(f"  [dim]Texte reçu par {escape(self._names(addresses))} : le même, "
                               "sauf :[/]")
            for line in _changed_lines(first, mail.text):
                self.console.print(f"  │ {line}", markup=False)


async def _time_passes(until: datetime, *, clock: DrivenClock, service: Service,
                       inboxes: _Inboxes, timeline: _Timeline) -> None:
    """Move the clock to ``until`` one due reminder at a time, showing what goes out."""
    store = service.store
    while True:
        due = await store.run(lambda tx: tx.next_reminder_due())
        if due is None or due > until:
            break
        await clock.set(max(due, clock.now()))

        async def sent() -> bool:
            now = clock.now()
            waiting = await store.run(lambda tx: tx.reminders_due(now, 1))
            stats = await store.run(lambda tx: tx.outbox_stats())
            return not waiting and not stats.get("pending") and not stats.get("sending")

        await wait_until(sent)
        mails = await inboxes.fresh()
        if mails:
            timeline.show(clock.now(), mails)
    await clock.set(until)


async def _replay(path: Path, *, server: EmbeddedMailServer, service_config: Config,
                  clock: DrivenClock, inboxes: _Inboxes, console: Console,
                  service: Service) -> None:
    raw = path.read_bytes()
    known, replied = await _absences(service), await _replies(service)
    mail = parse_mail(raw)
    key = read_and_triage(raw, service_config, service.store.keyring)[0].dedup_key
    if mail.date is not None:
        await clock.set(mail.date + timedelta(seconds=30))
    sender = SmtpSender(server.smtp_settings(mail.from_address))
    try:
        await sender.send(raw, sender=mail.from_address, recipients=[service_config.bot_address])
    finally:
        await sender.close()
    console.rule(f"[bold]{path.stem}[/]")
    console.print(f"[bold green]▶ {mail.from_name or mail.from_address}[/] → service"
                  f"   [dim]{_local(mail, service_config)}[/]")
    console.print(f"  Objet : {mail.subject}")
    for line in mail.body.splitlines()[:14]:
        console.print(f"  │ {line}", markup=False)

    async def settled() -> bool:
        stats = await service.store.run(lambda tx: tx.outbox_stats())
        inbox = await server.messages(service_config.bot_address, "INBOX")
        record = await service.store.run(lambda tx: tx.processed(key))
        return record is not None and not inbox and not stats.get("pending") \
            and not stats.get("sending")

    await wait_until(settled)
    record = await service.store.run(lambda tx: tx.processed(key))
    answered = False
    for recipients, answer, raw_answer in _grouped(await inboxes.fresh()):
        answered = True
        names = ", ".join(_name(service_config, a) for a in recipients)
        console.print(f"[bold cyan]◀ service[/] → {names}   Objet : {answer.subject}")
        for line in answer.text.rstrip().splitlines():
            console.print(f"  │ {line}", markup=False)
        for line in _calendar_lines(raw_answer):
            console.print(f"  [dim]{line}[/]")
    replies = await _replies(service) - replied
    for ref, reply in sorted(replies, key=lambda r: r[1].at):
        when = "toute la série" if reply.day is None else f"le {reply.day:%d/%m/%Y}"
        console.print(f"[yellow]  (aucune réponse : réponse à l'invitation {ref} enregistrée, "
                      f"{_name(service_config, reply.attendee)} "
                      f"{REPLY_WORDS.get(reply.status, reply.status)} pour {when} ; "
                      "le rapport d'activité la compte parmi les réponses aux invitations)[/]")
    if not answered and not replies and record is not None:
        console.print(f"[yellow]  ({OUTCOME_WORDS.get(record.outcome, record.outcome)})[/]")
    # An absence read from an out-of-office reply has no answer to show it.
    for absence in await _absences(service) - known:
        if absence.source == AUTO_REPLY:
            console.print(f"[yellow]  (absence enregistrée : "
                          f"{escape(absence_words(absence, service_config))}, lue dans la "
                          "réponse automatique ; ses rappels iront à qui assure le "
                          "remplacement)[/]")


async def _absences(service: Service) -> set[Absence]:
    absences, _ = await service.store.run(absence_repo.load)
    return set(absences.items)


async def _replies(service: Service) -> set[tuple[str, CalendarReply]]:
    def read(tx: UnitOfWork) -> set[tuple[str, CalendarReply]]:
        return {(m.ref, r) for m in MeetingRepository(tx).active() for r in m.replies}
    return await service.store.run(read)


def _local(mail: IncomingMail, config: Config) -> str:
    if mail.date is None:
        return ""
    return mail.date.astimezone(config.timezone).strftime("%d/%m/%Y %H:%M")


def _name(config: Config, address: str) -> str:
    member = config.member(address)
    return member.name if member else email.utils.formataddr(("", address))


async def _summary(service) -> str:  # type: ignore[no-untyped-def]
    stats = await service.store.run(lambda tx: tx.outbox_stats())
    quarantined = await service.store.run(lambda tx: tx.quarantine_count())
    reminders = await service.store.run(lambda tx: tx.reminder_stats())
    return (f"Messages lus dans la boîte : {service.mailroom.processed} (dont les copies "
            f"des réponses, preuves d'envoi) · messages envoyés : {stats.get('sent', 0)} · "
            f"échéances rappelées : {reminders.get('sent', 0)} (regroupées par personne et par "
            f"jour), à venir : "
            f"{reminders.get('pending', 0)} · en quarantaine : {quarantined}")
