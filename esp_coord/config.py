"""The service's configuration: one TOML file, validated once at start.

Every mistake is reported with the file, the key and what was expected, all of
them at once, so that a coordinator fixes the file in one pass. Secrets come
from a file or an environment variable, never from the TOML itself.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stdnum import luhn

from esp_coord.report.keys import FIGURE_KEYS
from esp_coord.team_id import DEFAULT_TEAM, TEAM_ID
from plans.days_off import DAY_NAMES, TERRITORIES, DaysOff
from plans.normalize import fold
from plans.people import PROFESSIONS, profession_of

Security = Literal["implicit", "starttls", "none"]
AuthMethod = Literal["login", "external", "none"]
# "1.2": TLS 1.2 only, as the MSSanté Référentiel #2 says (ECO.1.1.2);
# "1.2+": TLS 1.2 or later, for an operator that offers TLS 1.3.
TlsVersions = Literal["1.2", "1.2+"]
# "required": the server's certificate must name a CRL or an OCSP responder
# and be proven not revoked (ECO.1.1.6); "when-named": check whatever the
# certificate names (test and demo certificates name nothing).
Revocation = Literal["required", "when-named"]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_PRODUCT_REFERENCE = "esp-coord/0.1"
ROLES = frozenset({"referent", "coordinator"})


class ConfigError(ValueError):
    """The configuration file is wrong; ``problems`` lists every mistake."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: {len(problems)} problem(s) in the configuration:\n{lines}")


@dataclass(frozen=True, kw_only=True)
class Member:
    name: str
    email: str
    profession: str
    rpps: str | None = None
    roles: frozenset[str] = frozenset()

    @property
    def is_coordinator(self) -> bool:
        return "coordinator" in self.roles

    @property
    def is_referent(self) -> bool:
        return "referent" in self.roles


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    host: str
    port: int
    security: Security = "starttls"
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_cert: Path | None = None
    client_key: Path | None = None
    auth: AuthMethod = "login"
    timeout: float = 30.0
    tls_versions: TlsVersions = "1.2"
    revocation: Revocation = "required"
    crl_cache: Path | None = None   # where the last valid CRLs are kept (ECO.1.1.7)


@dataclass(frozen=True, kw_only=True)
class Folders:
    inbox: str = "INBOX"
    processed: str = "Traités"
    quarantine: str = "Quarantaine"
    sent: str = "Envoyés"


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_message_bytes: int = 25 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class ReminderSettings:
    """When reminders go out, in the team's timezone (``[reminders]``)."""

    hour: time = time(8, 0)                  # due-day and overdue reminders, local time
    overdue_days: int = 3                    # "not done N days after due"
    meeting_offsets: tuple[int, ...] = (7, 1)  # days before a meeting: J-7, J-1
    # One mail a day per person with everything due for them (the daily
    # digest), unless they asked for one mail per reminder: a team of 150
    # patients otherwise sends dozens of mails a day to each person.
    digest: bool = True
    digest_members: frozenset[str] = frozenset()      # digests for these even when digest = false
    per_action_members: frozenset[str] = frozenset()  # one mail per reminder for these
    # A reminder that falls on a day off goes out the working day before
    # (the due date does not move): weekends and the territory's holidays.
    days_off: DaysOff = DaysOff()

    def wants_digest(self, address: str) -> bool:
        address = address.strip().lower()
        if address in self.digest_members:
            return True
        return self.digest and address not in self.per_action_members


@dataclass(frozen=True, kw_only=True)
class DocumentSettings:
    """Documents received from the trust space (``[documents]``)."""

    # Test and demo INS (OIDs 1.2.250.1.213.1.4.10 and .11) count as INS:
    # for a test or demo setup only, never in production.
    accept_test_ins: bool = False
    # How long a document whose patient has no plan is kept for that plan.
    keep_unmatched_days: int = 30


@dataclass(frozen=True, kw_only=True)
class Config:
    path: Path
    team_name: str
    timezone: ZoneInfo
    bot_address: str
    bot_name: str
    trusted_domains: tuple[str, ...]
    members: tuple[Member, ...]
    imap: ServerSettings
    smtp: ServerSettings
    folders: Folders = Folders()
    limits: Limits = Limits()
    reminders: ReminderSettings = ReminderSettings()
    documents: DocumentSettings = DocumentSettings()
    database_url: str = "sqlite:///var/esp-coord.db"
    key_file: Path = Path("var/esp-coord.key")
    # X-MSS-NIL on every mail sent: the product that wrote it, as MSSanté
    # operators trace applicative mailboxes' software.
    product_reference: str = DEFAULT_PRODUCT_REFERENCE
    # The team's own targets for the report's figures (``[report] targets``):
    # thresholds differ by region and change, so none is written in the code.
    report_targets: Mapping[str, float] = field(default_factory=dict)
    # When the coordinators get the report by mail: "quarterly" (each quarter,
    # and the year in January), "yearly", or "none".
    report_schedule: str = "quarterly"
    # Whose rows these are in a database shared by several teams (``[team]
    # id``, or the file's name under ``serve --teams DIR``): see store.teams.
    team_id: str = DEFAULT_TEAM
    # The problem themes of the team's projet de santé (``[team] themes``): a
    # plan's ``Thème`` lines name them, the report counts plans by theme.
    themes: tuple[str, ...] = ()

    @property
    def message_id_domain(self) -> str:
        return self.bot_address.rpartition("@")[2]

    def member(self, address: str) -> Member | None:
        address = address.strip().lower()
        for m in self.members:
            if m.email == address:
                return m
        return None


def domain_is_trusted(address: str, patterns: tuple[str, ...]) -> bool:
    """Whether the address's domain matches one of the patterns.

    ``*.mssante.fr`` matches ``x.mssante.fr`` and ``a.b.mssante.fr`` but never
    ``mssante.fr.evil.test`` nor ``evilmssante.fr``: labels are compared, not text.
    """
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    if not domain or "@" not in address:
        return False
    for pattern in patterns:
        p = pattern.strip().lower().rstrip(".")
        if p.startswith("*."):
            if domain.endswith("." + p[2:]):
                return True
        elif domain == p:
            return True
    return False


def rpps_is_valid(rpps: str) -> bool:
    return len(rpps) == 11 and rpps.isdigit() and luhn.is_valid(rpps)


class _Reader:
    """Reads typed values out of the TOML tree, collecting every problem."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data
        self.problems: list[str] = []

    def problem(self, key: str, expected: str, got: Any = None) -> None:
        tail = f" (found {got!r})" if got is not None else ""
        self.problems.append(f"key '{key}': expected {expected}{tail}")

    def table(self, key: str, required: bool = True) -> Mapping[str, Any]:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "a table [" + key + "]")
            return {}
        if not isinstance(value, Mapping):
            self.problem(key, "a table [" + key + "]", value)
            return {}
        return value

    def get(self, table: Mapping[str, Any], prefix: str, key: str, kind: type | tuple[type, ...],
            expected: str, default: Any = ..., ) -> Any:
        full = f"{prefix}.{key}" if prefix else key
        if key not in table:
            if default is ...:
                self.problem(full, expected + " (missing)")
                return None
            return default
        value = table[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            self.problem(full, expected, value)
            return None if default is ... else default
        return value


def _read_secret(reader: _Reader, table: Mapping[str, Any], prefix: str, base: Path) -> str | None:
    """A password from ``password_file`` or ``password_env``, never inline."""
    if "password" in table:
        reader.problem(f"{prefix}.password",
                       "no inline password: use password_file or password_env")
    pfile = reader.get(table, prefix, "password_file", str, "a file path", None)
    penv = reader.get(table, prefix, "password_env", str, "an environment variable name", None)
    if pfile:
        p = (base / pfile) if not Path(pfile).is_absolute() else Path(pfile)
        try:
            return p.read_text(encoding="utf-8").strip()
        except OSError as e:
            reader.problem(f"{prefix}.password_file", "a readable file", f"{p}: {e.strerror}")
    if penv:
        value = os.environ.get(penv)
        if value is None:
            reader.problem(f"{prefix}.password_env", f"environment variable {penv} to be set")
        return value
    return None


def _server(reader: _Reader, name: str, base: Path,
            default_ports: dict[str, int]) -> ServerSettings:
    t = reader.table(name)
    host = reader.get(t, name, "host", str, "a host name")
    security = reader.get(t, name, "security", str, "'implicit', 'starttls' or 'none'", "starttls")
    if security not in ("implicit", "starttls", "none"):
        reader.problem(f"{name}.security", "'implicit' (TLS from the start) or 'starttls'",
                       security)
        security = "starttls"
    port = reader.get(t, name, "port", int, "a port number", default_ports.get(security, 0))
    if port is not None and not 0 < port < 65536:
        reader.problem(f"{name}.port", "a port number between 1 and 65535", port)

    def path_of(key: str) -> Path | None:
        v = reader.get(t, name, key, str, "a file path", None)
        if v is None:
            return None
        p = Path(v) if Path(v).is_absolute() else base / v
        if not p.is_file():
            reader.problem(f"{name}.{key}", "an existing file", str(p))
        return p

    ca_file = path_of("ca_file")
    client_cert = path_of("client_cert")
    client_key = path_of("client_key")
    if (client_cert is None) != (client_key is None):
        reader.problem(f"{name}.client_cert / {name}.client_key", "both or neither")
    username = reader.get(t, name, "username", str, "a login name", None)
    password = _read_secret(reader, t, name, base)
    default_auth = "login" if username else ("external" if client_cert else "none")
    auth = reader.get(t, name, "auth", str, "'login', 'external' or 'none'", default_auth)
    if auth not in ("login", "external", "none"):
        reader.problem(f"{name}.auth", "'login', 'external' or 'none'", auth)
        auth = default_auth
    if auth == "login" and (username is None or password is None):
        reader.problem(f"{name}.username / password_file / password_env",
                       "a login and a password source when auth = 'login'")
    if auth == "external" and client_cert is None:
        reader.problem(f"{name}.client_cert", "a client certificate when auth = 'external'")
    timeout = reader.get(t, name, "timeout", (int, float), "a number of seconds", 30.0)
    if security == "none" and host and host not in LOOPBACK_HOSTS:
        # ECO.1.1.1: TLS on every connection to the operator; clear text only
        # to a relay on this very machine.
        reader.problem(f"{name}.security", "'starttls' or 'implicit' (a connection without "
                       "TLS is only allowed to a server on this machine)", security)
    if security != "none" and ca_file is None:
        reader.problem(f"{name}.ca_file", "the file of the IGC-Santé certificate authorities "
                       "(the operator's chain; the system's authorities are never trusted "
                       "for MSSanté)")
    versions = reader.get(t, name, "tls_versions", str, "'1.2' or '1.2+'", "1.2")
    if versions not in ("1.2", "1.2+"):
        reader.problem(f"{name}.tls_versions", "'1.2' (TLS 1.2 only, ECO.1.1.2) or '1.2+' "
                       "(TLS 1.2 or later)", versions)
        versions = "1.2"
    revocation = reader.get(t, name, "revocation", str, "'required' or 'when-named'",
                            "required")
    if revocation not in ("required", "when-named"):
        reader.problem(f"{name}.revocation", "'required' (ECO.1.1.6) or 'when-named'",
                       revocation)
        revocation = "required"
    return ServerSettings(host=host or "", port=port or 0, security=security, ca_file=ca_file,
                          username=username, password=password, client_cert=client_cert,
                          client_key=client_key, auth=auth, timeout=float(timeout or 30.0),
                          tls_versions=versions, revocation=revocation)


def _members(reader: _Reader, team: Mapping[str, Any],
             trusted: tuple[str, ...]) -> tuple[Member, ...]:
    raw = team.get("members")
    if not isinstance(raw, list) or not raw:
        reader.problem("team.members", "at least one [[team.members]] entry")
        return ()
    members: list[Member] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw, 1):
        prefix = f"team.members[{i}]"
        if not isinstance(entry, Mapping):
            reader.problem(prefix, "a table", entry)
            continue
        name = reader.get(entry, prefix, "name", str, "the person's name")
        email = reader.get(entry, prefix, "email", str, "a mail address")
        profession = reader.get(entry, prefix, "profession", str, "a profession", "")
        rpps = reader.get(entry, prefix, "rpps", str, "an 11-digit RPPS number", None) or None
        roles = reader.get(entry, prefix, "roles", list, "a list of roles", [])
        if email:
            email = email.strip().lower()
            if "@" not in email:
                reader.problem(f"{prefix}.email", "a mail address", email)
            elif not domain_is_trusted(email, trusted):
                reader.problem(f"{prefix}.email", "an address in a trusted domain "
                               f"({', '.join(trusted)})", email)
            if email in seen:
                reader.problem(f"{prefix}.email", "each address once", email)
            seen.add(email)
        canonical = profession_of(profession) if profession else None
        if profession and canonical is None:
            reader.problem(f"{prefix}.profession", f"one of {', '.join(PROFESSIONS)}",
                           profession)
        profession = canonical or profession
        if rpps is not None and not rpps_is_valid(rpps.replace(" ", "")):
            reader.problem(f"{prefix}.rpps", "11 digits with a valid Luhn key", rpps)
        bad_roles = [r for r in roles if r not in ROLES]
        if bad_roles:
            reader.problem(f"{prefix}.roles", f"roles among {sorted(ROLES)}", bad_roles)
        if name and email:
            members.append(Member(name=name.strip(), email=email, profession=profession.strip(),
                                  rpps=rpps.replace(" ", "") if rpps else None,
                                  roles=frozenset(r for r in roles if r in ROLES)))
    return tuple(members)


def _days_off(reader: _Reader, t: Mapping[str, Any], territory: str) -> DaysOff:
    expected = f"a list of {', '.join(repr(d) for d in DAY_NAMES)} and 'holidays'"
    words = reader.get(t, "reminders", "days_off", list, expected,
                       ["saturday", "sunday", "holidays"])
    if not all(isinstance(w, str) and (w in DAY_NAMES or w == "holidays") for w in words):
        reader.problem("reminders.days_off", expected, words)
        words = ["saturday", "sunday", "holidays"]
    return DaysOff.of(words, territory=territory)


def _reminders(reader: _Reader, territory: str) -> ReminderSettings:
    t = reader.table("reminders", required=False)
    default = ReminderSettings()
    hour_text = reader.get(t, "reminders", "hour", str, "a local time like '08:00'", "08:00")
    try:
        hour = time.fromisoformat(hour_text)
        if hour.tzinfo is not None:
            raise ValueError(hour_text)
    except ValueError:
        reader.problem("reminders.hour", "a local time like '08:00'", hour_text)
        hour = default.hour
    overdue = reader.get(t, "reminders", "overdue_days", int, "a number of days (1 to 60)",
                         default.overdue_days)
    if overdue is not None and not 1 <= overdue <= 60:
        reader.problem("reminders.overdue_days", "a number of days (1 to 60)", overdue)
        overdue = default.overdue_days
    offsets = reader.get(t, "reminders", "meeting_offsets", list,
                         "a list of days before a meeting, like [7, 1]",
                         list(default.meeting_offsets))
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 60
               for d in offsets):
        reader.problem("reminders.meeting_offsets", "days before a meeting between 0 and 60",
                       offsets)
        offsets = list(default.meeting_offsets)
    digest = reader.get(t, "reminders", "digest", bool, "true or false", default.digest)
    members = reader.get(t, "reminders", "digest_members", list,
                         "a list of roster addresses", [])
    singles = reader.get(t, "reminders", "per_action_members", list,
                         "a list of roster addresses", [])
    both = sorted({str(a).strip().lower() for a in members}
                  & {str(a).strip().lower() for a in singles})
    if both:
        reader.problem("reminders.digest_members / reminders.per_action_members",
                       "each address in one list at most", both)
    return ReminderSettings(
        hour=hour, overdue_days=overdue or default.overdue_days,
        meeting_offsets=tuple(sorted(set(offsets), reverse=True)), digest=bool(digest),
        digest_members=frozenset(str(a).strip().lower() for a in members),
        per_action_members=frozenset(str(a).strip().lower() for a in singles),
        days_off=_days_off(reader, t, territory))


def _documents(reader: _Reader) -> DocumentSettings:
    t = reader.table("documents", required=False)
    default = DocumentSettings()
    accept = reader.get(t, "documents", "accept_test_ins", bool, "true or false",
                        default.accept_test_ins)
    days = reader.get(t, "documents", "keep_unmatched_days", int, "a number of days (1 to 365)",
                      default.keep_unmatched_days)
    if days is not None and not 1 <= days <= 365:
        reader.problem("documents.keep_unmatched_days", "a number of days (1 to 365)", days)
        days = default.keep_unmatched_days
    return DocumentSettings(accept_test_ins=bool(accept),
                            keep_unmatched_days=days or default.keep_unmatched_days)


def _themes(reader: _Reader, team: Mapping[str, Any]) -> tuple[str, ...]:
    expected = "a list of short theme names, like ['Personnes âgées fragiles']"
    raw = reader.get(team, "team", "themes", list, expected, [])
    themes: list[str] = []
    for value in raw:
        name = " ".join(value.split()) if isinstance(value, str) else ""
        if not name or len(name) > 80 or not name.isprintable():
            reader.problem("team.themes", expected + " (1 to 80 characters)", value)
        elif fold(name) in {fold(t) for t in themes}:
            reader.problem("team.themes", "each theme once", value)
        else:
            themes.append(name)
    return tuple(themes)


def load_config(path: str | Path, *, default_id: str = DEFAULT_TEAM) -> Config:
    """Read and validate the configuration file. Raises ``ConfigError``.
    ``default_id``: the team's id when the file names none."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["the file does not exist"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, [f"not valid TOML: {e}"]) from None
    return config_from_dict(data, path=path, default_id=default_id)


def config_from_dict(data: Mapping[str, Any], *, path: Path,
                     default_id: str = DEFAULT_TEAM) -> Config:
    base = path.parent
    r = _Reader(path, data)
    team = r.table("team")
    team_name = r.get(team, "team", "name", str, "the team's name")
    team_id = r.get(team, "team", "id", str, "a short id", default_id)
    if not TEAM_ID.match(team_id):
        r.problem("team.id", "lower-case letters, digits and dashes, at most 63 "
                  "(e.g. 'esp-val-de-lorge')", team_id)
    tz_name = r.get(team, "team", "timezone", str, "an IANA timezone like 'Europe/Paris'",
                    "Europe/Paris")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.problem("team.timezone", "an IANA timezone like 'Europe/Paris'", tz_name)
        tz = ZoneInfo("Europe/Paris")
    bot = r.get(team, "team", "bot_address", str, "the service's own mail address")
    if bot and "@" not in bot:
        r.problem("team.bot_address", "a mail address", bot)
    bot_name = r.get(team, "team", "bot_name", str, "a display name", "Coordination")
    product = r.get(team, "team", "product_reference", str, "a product name and version",
                    DEFAULT_PRODUCT_REFERENCE)
    if product and (not product.isascii() or not product.isprintable() or len(product) > 200):
        r.problem("team.product_reference", "printable ASCII, at most 200 characters", product)
        product = DEFAULT_PRODUCT_REFERENCE
    trusted = r.get(team, "team", "trusted_domains", list, "a list like ['*.mssante.fr']",
                    ["*.mssante.fr"])
    trusted_t = tuple(str(d) for d in trusted)
    members = _members(r, team, trusted_t)
    themes = _themes(r, team)
    imap = _server(r, "imap", base, {"implicit": 993, "starttls": 143, "none": 143})
    smtp = _server(r, "smtp", base, {"implicit": 465, "starttls": 587, "none": 25})

    ft = r.table("folders", required=False)
    folders = Folders(**{k: r.get(ft, "folders", k, str, "a folder name", getattr(Folders(), k))
                         for k in ("inbox", "processed", "quarantine", "sent")})
    lt = r.table("limits", required=False)
    limits = Limits(**{k: r.get(lt, "limits", k, int, "a size in bytes", getattr(Limits(), k))
                       for k in ("max_message_bytes", "max_attachment_bytes")})
    territory = r.get(team, "team", "territory", str, "one of " + ", ".join(
        sorted(k for k in TERRITORIES if not k.isdigit())), "metropole")
    if territory not in TERRITORIES:
        r.problem("team.territory", "one of " + ", ".join(
            sorted(k for k in TERRITORIES if not k.isdigit())) + " (or a department number: "
            "57, 67, 68, 971 to 976)", territory)
        territory = "metropole"
    reminders = _reminders(r, territory)
    documents = _documents(r)
    for key in ("digest_members", "per_action_members"):
        strangers = sorted(getattr(reminders, key) - {m.email for m in members})
        if strangers:
            r.problem(f"reminders.{key}", "addresses of roster members", strangers)
    st = r.table("storage", required=False)
    db_url = r.get(st, "storage", "database_url", str, "a SQLAlchemy URL",
                   "sqlite:///var/esp-coord.db")
    key_file = r.get(st, "storage", "key_file", str, "a file path", "var/esp-coord.key")
    if db_url.startswith("sqlite") and ":///" in db_url and ":memory:" not in db_url:
        db_path = db_url.split(":///", 1)[1]
        if not Path(db_path).is_absolute():
            db_url = db_url.split(":///", 1)[0] + ":///" + str(base / db_path)
    key_path = Path(key_file) if Path(key_file).is_absolute() else base / key_file
    crl_dir = r.get(st, "storage", "crl_cache", str, "a folder path", None)
    crl_path = (key_path.parent / "crl" if crl_dir is None
                else Path(crl_dir) if Path(crl_dir).is_absolute() else base / crl_dir)
    imap = replace(imap, crl_cache=crl_path)
    smtp = replace(smtp, crl_cache=crl_path)

    rt = r.table("report", required=False)
    raw_targets = r.get(rt, "report", "targets", dict, "a table of figure = number", {})
    targets: dict[str, float] = {}
    for key, value in raw_targets.items():
        if key not in FIGURE_KEYS:
            r.problem(f"report.targets.{key}", f"one of {', '.join(FIGURE_KEYS)}", key)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            r.problem(f"report.targets.{key}", "a number", value)
        else:
            targets[key] = float(value)

    schedule = r.get(rt, "report", "schedule", str, "'quarterly', 'yearly' or 'none'",
                     "quarterly")
    if schedule not in ("quarterly", "yearly", "none"):
        r.problem("report.schedule", "'quarterly', 'yearly' or 'none'", schedule)
        schedule = "quarterly"

    if r.problems:
        raise ConfigError(path, r.problems)
    return Config(path=path, team_name=team_name, timezone=tz, bot_address=bot.lower(),
                  bot_name=bot_name, trusted_domains=trusted_t, members=members, imap=imap,
                  smtp=smtp, folders=folders, limits=limits, reminders=reminders,
                  documents=documents, database_url=db_url,
                  key_file=key_path, product_reference=product, report_targets=targets,
                  report_schedule=schedule, team_id=team_id, themes=themes)
