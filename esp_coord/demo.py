"""``esp-coord demo``: the whole service on an embedded mail server, replaying the
example team's mails as their senders would send them, and printing the
conversation. No root, no network beyond loopback, nothing to install.
"""

from __future__ import annotations

import asyncio
import dataclasses
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

from rich.console import Console
from rich.panel import Panel

from adapters.embedded import EmbeddedMailServer
from adapters.smtp import SmtpSender
from esp_coord.bootstrap import Tuning, build_service
from esp_coord.clock import DrivenClock
from esp_coord.config import Config, config_from_dict
from esp_coord.crypto import Keyring
from esp_coord.intake import IncomingMail, parse_mail

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config" / "esp.example.toml"
EXAMPLE_MESSAGES = ROOT / "config" / "examples" / "messages"

OUTCOME_WORDS = {
    "quarantined": "aucune réponse : expéditeur hors de l'équipe, message mis en quarantaine",
    "ignored": "aucune réponse : message automatique (absence, accusé…), jamais de boucle",
    "failed": "erreur interne : message conservé en quarantaine",
}


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the service did not settle in time")
        await asyncio.sleep(0.05)


def example_config(folder: Path) -> Config:
    """The example team's configuration, its mail servers to be filled in."""
    data = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    for server in ("imap", "smtp"):
        data[server] = {"host": "127.0.0.1", "security": "none", "auth": "none"}
    config = config_from_dict(data, path=EXAMPLE_CONFIG)
    return dataclasses.replace(config, database_url=f"sqlite+aiosqlite:///{folder / 'demo.db'}",
                               key_file=folder / "demo.key")


async def run_demo(messages: Path | None = None, *, console: Console | None = None) -> int:
    console = console or Console(highlight=False, soft_wrap=True)
    # The conversation is the output: service logs would drown it.
    logging.getLogger("esp_coord").setLevel(logging.WARNING)
    logging.getLogger("adapters").setLevel(logging.WARNING)
    folder_in = messages or EXAMPLE_MESSAGES
    files = sorted(folder_in.glob("*.eml"))
    if not files:
        console.print(f"Aucun message d'exemple dans {folder_in}.")
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
                f"{len(files)} messages de l'équipe rejoués dans l'ordre",
                border_style="cyan"))
            for path in files:
                await _replay(path, server=server, service_config=config, clock=clock,
                              passwords=passwords, console=console, service=service)
            console.rule()
            console.print(await _summary(service))
    return 0


async def _replay(path: Path, *, server: EmbeddedMailServer, service_config: Config,
                  clock: DrivenClock, passwords: dict[str, str], console: Console,
                  service) -> None:  # type: ignore[no-untyped-def]
    raw = path.read_bytes()
    mail = parse_mail(raw)
    if mail.date is not None:
        await clock.set(mail.date + timedelta(seconds=30))
    before = {a: len(await server.messages(a)) for a in passwords
              if a != service_config.bot_address}
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
        record = await service.store.run(lambda tx: tx.processed(mail.dedup_key))
        return record is not None and not inbox and not stats.get("pending") \
            and not stats.get("sending")

    await wait_until(settled)
    record = await service.store.run(lambda tx: tx.processed(mail.dedup_key))
    answered = False
    for address, count in before.items():
        for raw_answer in (await server.messages(address))[count:]:
            answer = parse_mail(raw_answer)
            answered = True
            console.print(f"[bold cyan]◀ service[/] → {_name(service_config, address)}"
                          f"   Objet : {answer.subject}")
            for line in answer.text.rstrip().splitlines():
                console.print(f"  │ {line}", markup=False)
    if not answered:
        console.print(f"[yellow]  ({OUTCOME_WORDS.get(record.outcome, record.outcome)})[/]")


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
    return (f"Messages lus dans la boîte : {service.mailroom.processed} (dont les copies "
            f"des réponses, preuves d'envoi) · réponses envoyées : {stats.get('sent', 0)} · "
            f"en quarantaine : {quarantined}")
