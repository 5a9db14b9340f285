"""The teams of a platform: one configuration file per team in a folder.

Each ``*.toml`` of the folder is a team's file in today's format (its own
mailbox, roster, protocols and key file). Its id is ``[team] id`` or the
file's name (``esp-val-de-lorge.toml`` -> ``esp-val-de-lorge``). Every
problem of every file is reported at once, with the file it is in.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from esp_coord.config import Config, ConfigError, load_config
from esp_coord.crypto import KeyFileError, Keyring
from esp_coord.platform.worker import TeamSpec


class PlatformError(ConfigError):
    pass


def load_teams(folder: Path) -> list[Config]:
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    if not files:
        raise PlatformError(folder, ["no team configuration (*.toml) in this folder"])
    configs: list[Config] = []
    problems: list[str] = []
    for path in files:
        try:
            configs.append(load_config(path, default_id=path.stem.lower()))
        except ConfigError as e:
            problems.append(str(e))
    ids: dict[str, Path] = {}
    bots: dict[str, Path] = {}
    for c in configs:
        if c.team_id in ids:
            problems.append(f"{c.path}: team id {c.team_id!r} is also {ids[c.team_id]}'s")
        ids.setdefault(c.team_id, c.path)
        if c.bot_address in bots:
            problems.append(f"{c.path}: bot_address {c.bot_address} is also "
                            f"{bots[c.bot_address]}'s: each team has its own mailbox")
        bots.setdefault(c.bot_address, c.path)
    if problems:
        raise PlatformError(folder, problems)
    return configs


def platform_database(configs: list[Config], override: str | None) -> str:
    """The one database of the platform: ``override`` (``--database-url``
    or ``ESP_COORD_DATABASE_URL``), else the URL all the team files agree on.
    Several teams need PostgreSQL (``serve`` says so, plainly)."""
    urls = {c.database_url for c in configs}
    if override is None and len(urls) > 1:
        raise PlatformError(configs[0].path.parent, [
            "the team files name different databases ([storage] database_url): a platform "
            "has one, named in every file or by --database-url"])
    url = override or urls.pop()
    if len(configs) > 1 and make_url(url).get_backend_name() != "postgresql":
        raise PlatformError(configs[0].path.parent, [
            f"{len(configs)} teams on {make_url(url).get_backend_name()}: several teams "
            "need PostgreSQL (SQLite serves one team, in one process)"])
    return url


def team_specs(configs: list[Config]) -> list[TeamSpec]:
    """Each team with its own keyring; two teams may not share a data key."""
    specs: list[TeamSpec] = []
    problems: list[str] = []
    seen: dict[str, str] = {}  # blind-index key fingerprint -> team
    for c in configs:
        try:
            keyring = Keyring.load(c.key_file)
        except KeyFileError as e:
            problems.append(f"{c.path}: {e} Create one with: esp-coord keygen --config {c.path}")
            continue
        fingerprint = keyring.fingerprints()[("index", 0)]
        if fingerprint in seen:
            problems.append(f"{c.path}: its key file holds the same key as team "
                            f"{seen[fingerprint]}'s: each team has its own key")
        seen.setdefault(fingerprint, c.team_id)
        specs.append(TeamSpec(c, keyring))
    if problems:
        raise PlatformError(configs[0].path.parent, problems)
    return specs
