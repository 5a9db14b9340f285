"""Which command a mail carries, read from its subject or its first body line.

``detect_command(subject, body)`` returns a ``Detected``:

- ``name``: one of ``COMMANDS`` ("NOUVEAU_PPS", "MAJ", "CLORE", "STATUT",
  "LISTE", "FAIT", "REPORTER", "AIDE", "RCP_NOUVELLE", "RCP", "ANNULER_RCP",
  "COMPTE_RENDU") or None when the mail carries no command we know;
- ``ref``: a reference written with the command ("PPS-2026-0001",
  "RCP-2026-001"), normalised to upper case, else None;
- ``args``: the rest of the command line without the reference
  ("3" for ``FAIT 3``, "2 au 15/12/2026" for ``REPORTER 2 au 15/12/2026``);
- ``lines``: the body lines that follow the command, numbered as in ``body``
  from 1 (the command line itself is left out when it came from the body);
- ``source``: "subject" or "body" (None when no command was found);
- ``subject_tag_ref``: a ``[PPS-AAAA-NNNN]`` tag found anywhere in the subject.

The subject is read after stripping any number of reply/forward prefixes
("RE:", "Re :", "TR:", "Fwd:", "FW:", "AW:"...) and ``[...]`` tags. Case,
accents and extra spaces never matter.

Reading the first body line is stricter than reading the subject: a body line
that looks like ``Key : value`` is never a command, and after the command word
only a reference may follow, except for ``FAIT``/``REPORTER`` (an action
number first) and ``RCP NOUVELLE``. So "Statut de la patiente ?" in a body is
not taken for ``STATUT``, while the subject "Statut Mme MARTIN" is.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from plans.normalize import fold

__all__ = ["COMMANDS", "Detected", "closest_commands", "detect_command", "find_ref",
           "strip_subject"]

# Canonical name -> synonyms, as folded text (lower case, no accents, single spaces).
# Longer synonyms are tried first so that "rcp nouvelle" wins over "rcp".
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "NOUVEAU_PPS": ("nouveau pps", "nouveau ppcs", "nouveau plan", "nouvelle pps", "pps", "ppcs"),
    "MAJ": ("maj", "mise a jour", "mise-a-jour", "mettre a jour"),
    "CLORE": ("clore", "cloturer", "clos", "fermer"),
    "STATUT": ("statut", "status", "etat"),
    "LISTE": ("liste", "lister", "mes patients"),
    "FAIT": ("fait", "faite", "faits", "done"),
    "REPORTER": ("reporter", "report", "decaler"),
    "AIDE": ("aide", "help", "?"),
    "RCP_NOUVELLE": ("rcp nouvelle", "rcp planifier", "nouvelle rcp", "planifier rcp",
                     "planifier une rcp"),
    "RCP": ("rcp", "reunions", "liste rcp"),
    "ANNULER_RCP": ("annuler rcp", "annuler"),
    "COMPTE_RENDU": ("compte-rendu", "compte rendu", "cr"),
}
COMMANDS: tuple[str, ...] = tuple(_SYNONYMS)

# The words shown to users, one per command (used by closest_commands).
DISPLAY: dict[str, str] = {
    "NOUVEAU_PPS": "NOUVEAU PPS",
    "MAJ": "MAJ",
    "CLORE": "CLORE",
    "STATUT": "STATUT",
    "LISTE": "LISTE",
    "FAIT": "FAIT",
    "REPORTER": "REPORTER",
    "AIDE": "AIDE",
    "RCP_NOUVELLE": "RCP NOUVELLE",
    "RCP": "RCP",
    "ANNULER_RCP": "ANNULER",
    "COMPTE_RENDU": "COMPTE-RENDU",
}

# Synonyms so short or common that they only count when a reference follows.
_NEED_REF = {"cr", "annuler"}

_PREFIX = re.compile(
    r"^\s*(?:(?:re|ref|tr|fw|fwd|aw|wg|sv|antw|rep|reponse)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*"
    r"|\[[^\]]*\]\s*)",
)
_REF = re.compile(r"(?<![a-z0-9])(pps|rcp)[ -]?(\d{4})[ -]?(\d{3,4})(?![0-9])", re.IGNORECASE)
_TAG = re.compile(r"\[\s*(pps)[ -]?(\d{4})[ -]?(\d{4})\s*\]", re.IGNORECASE)
_KEY_LINE = re.compile(r"^[\-*•·\s]*[^\W\d_][\w '’().\-/]{0,40}?[ \u00a0\u202f\t]*:(?!//)")


@dataclass(frozen=True)
class Detected:
    name: str | None
    ref: str | None = None
    args: str = ""
    lines: list[tuple[int, str]] = field(default_factory=list)
    source: str | None = None
    subject_tag_ref: str | None = None
    text: str = ""
    """The subject (stripped) or first body line the command was looked for in:
    what a "not understood" answer quotes back."""


def _norm_ref(kind: str, year: str, number: str) -> str | None:
    kind = kind.upper()
    if kind == "PPS" and len(number) == 4:
        return f"PPS-{year}-{number}"
    if kind == "RCP" and len(number) == 3:
        return f"RCP-{year}-{number}"
    return None


def find_ref(text: str) -> str | None:
    """The first well-formed PPS/RCP reference in ``text``, normalised."""
    for m in _REF.finditer(text):
        ref = _norm_ref(*m.groups())
        if ref:
            return ref
    return None


def strip_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and ``[...]`` tags, folded."""
    text = fold(subject)
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            return text.strip()
        text = stripped


def _match(text: str, *, strict: bool) -> tuple[str, str | None, str] | None:
    """(name, ref, args) when folded ``text`` starts with a command word."""
    if strict and _KEY_LINE.match(text):
        return None
    candidates = sorted(
        ((syn, name) for name, syns in _SYNONYMS.items() for syn in syns),
        key=lambda pair: -len(pair[0]),
    )
    for syn, name in candidates:
        if not text.startswith(syn):
            continue
        rest = text[len(syn):]
        # A command word must end at a word boundary ("pps" is not "pps-2026-0001").
        if rest and syn != "?" and not (rest[0].isspace() or rest[0] in ":,.;!?"):
            continue
        rest = rest.lstrip(" :,.;!")
        ref = find_ref(rest)
        args = _REF.sub(" ", rest, count=1) if ref else rest
        args = " ".join(args.split()).strip(" :,.;")
        if syn in _NEED_REF and not ref:
            continue
        if strict and not _body_args_ok(name, args):
            continue
        return name, ref, args
    return None


def _body_args_ok(name: str, args: str) -> bool:
    if not args:
        return name not in ("FAIT", "REPORTER")
    if name in ("FAIT", "REPORTER"):
        return args[0].isdigit()
    return name == "RCP_NOUVELLE"


def detect_command(subject: str, body: str) -> Detected:
    """Find the command of a mail (see the module docstring)."""
    tag = _TAG.search(subject or "")
    tag_ref = _norm_ref(*tag.groups()) if tag else None
    body_lines = (body or "").splitlines()
    numbered = [(i, line) for i, line in enumerate(body_lines, start=1)]

    subject_text = strip_subject(subject or "")
    if subject_text:
        found = _match(subject_text, strict=False)
        if found:
            name, ref, args = found
            return Detected(name, ref, args, numbered, "subject", tag_ref, subject_text)

    first = next(((i, line) for i, line in numbered if line.strip()), None)
    if first is not None:
        number, line = first
        found = _match(fold(line), strict=True)
        if found:
            name, ref, args = found
            rest = [(i, text) for i, text in numbered if i != number]
            return Detected(name, ref, args, rest, "body", tag_ref, fold(line))
    looked_at = subject_text or (fold(first[1]) if first else "")
    return Detected(None, None, "", numbered, None, tag_ref, looked_at)


def closest_commands(text: str, limit: int = 3) -> list[str]:
    """Canonical names of the commands closest to what the user wrote.

    Compares the first one or two folded words of ``text`` to every synonym,
    so that "stauts" suggests STATUT and "fiat 3" suggests FAIT.
    """
    words = fold(text).split()
    if not words:
        return []
    probes = {words[0], " ".join(words[:2])}
    by_synonym = {syn: name for name, syns in _SYNONYMS.items() for syn in syns if len(syn) > 2}
    scored: dict[str, float] = {}
    for probe in probes:
        for syn, name in by_synonym.items():
            ratio = difflib.SequenceMatcher(None, probe, syn).ratio()
            if ratio >= 0.6 and ratio > scored.get(name, 0.0):
                scored[name] = ratio
    ranked = sorted(scored, key=lambda n: (-scored[n], COMMANDS.index(n)))
    return ranked[:limit]
