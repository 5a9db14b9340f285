"""Which command a mail carries, read from its subject or its first body line.

``detect_command(subject, body)`` returns a ``Detected``:

- ``name``: the canonical name of one of ``SYNTAXES`` ("NOUVEAU_PPS", "MAJ",
  "FAIT", "ANNULER_FAIT", "ANNULER_RCP"...) or None when the mail carries no
  command we know;
- ``ref``: a reference written with the command ("PPS-2026-0001",
  "RCP-2026-001"), normalised to upper case, else None;
- ``args``: the rest of the command line without the reference, folded
  ("3" for ``FAIT 3``, "2 au 15/12/2026" for ``REPORTER 2 au 15/12/2026``);
  ``raw_args`` is the same text as written (case and accents kept), for what
  is stored or quoted back (a ``FAIT 3, RAS`` comment, a date in an error);
- ``lines``: the body lines that follow the command, numbered as in ``body``
  from 1 (the command line itself is left out when it came from the body);
- ``source``: "subject" or "body" (None when no command was found);
- ``subject_tag_ref``: a ``[PPS-AAAA-NNNN]`` tag found anywhere in the subject.

The subject is read after stripping any number of reply/forward prefixes
("RE:", "Re :", "TR:", "Fwd:", "FW:", "AW:"...) and ``[...]`` tags. Case,
accents and extra spaces never matter.

The subject wins over the first body line, except in a reply: when the
subject carries a reply/forward prefix, or the caller says the mail answers
one of the service's own mails (``replying=True``), the subject is the one of
the mail being answered (often the service's own « [PPS-2026-0001] Statut »),
so a command on the first body line is what the person wrote and wins. With no
command in the body, the subject's command still counts.

Reading the first body line is stricter than reading the subject: a body line
that looks like ``Key : value`` is never a command, and after the command word
only what its ``Syntax.after`` says may follow: a reference (most commands),
an action number first (``FAIT``, ``ANNULER FAIT``, ``REPORTER``: then
« FAIT 3 : RAS » is not a key line), a reference or one ``Clé : valeur`` line
(``MAJ``: « MAJ Protocole : sortie-hospitalisation » is a one-line reply, the
key line being the first of the command's lines) or anything
(``RCP NOUVELLE``). So
"Statut de la patiente ?" in a body is not taken for ``STATUT``, while the
subject "Statut Mme MARTIN" is.

Each command is declared once, as a ``Syntax`` in ``SYNTAXES``: its names,
the word shown to users, its help example and what may follow it. Nothing
here names a command otherwise. The longest synonym written wins, and one
that was written but refused its arguments hides its shorter beginnings, so
« ANNULER FAIT 3 » is never « ANNULER » (a meeting). The service binds each
syntax to its handler and ``parse`` step in ``esp_coord.handlers.registry``.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from plans.normalize import fold
from plans.people import Person
from plans.signature import SignOff, is_greeting

__all__ = ["ACTION_COMMANDS", "COMMANDS", "DISPLAY", "MAX_ACTION_LINES", "SYNTAX", "SYNTAXES",
           "After", "Detected", "Syntax", "action_commands", "action_comment",
           "closest_commands", "detect_command", "find_ref", "postponed_date_text",
           "split_action_number", "strip_subject"]

class After(Enum):
    """What may follow a command word on the first line of a body (the subject
    accepts anything): a reference only, an action number first (then a
    comment, a date...), or free arguments."""

    REF = "a reference only"
    REF_OR_LINE = "a reference, or one « Clé : valeur » line"
    ACTION = "an action number first"
    FREE = "free arguments"


@dataclass(frozen=True)
class Syntax:
    """One command as users write it: the one declaration that detection,
    suggestions, AIDE and the « not understood » answers read."""

    name: str
    """Canonical name ("FAIT"): ``Detected.name``, the registry's key."""
    display: str
    """The word shown to users ("FAIT", "NOUVEAU PPS")."""
    synonyms: tuple[str, ...]
    """What users may write, folded (lower case, no accents, single spaces)."""
    purpose: str
    """What it does, for AIDE (French, ordinary spaces: ``french()`` comes later)."""
    example: str
    """As a professional would write it (subject or first lines)."""
    after: After = After.REF
    only_with_ref: frozenset[str] = frozenset()
    """Synonyms so short or common that they only count when a reference follows."""
    coordination_only: bool = False
    """Only coordinators may use it: for anyone else it does not exist (AIDE
    does not show it, suggestions never name it, it is answered as unknown)."""
    opens: tuple[str, ...] = ()
    """When given, the words may be followed, in the subject as in the body,
    only by nothing, a number or one of these (folded): « Absence : Mme
    MARTIN absente ce matin » is a care subject, not ABSENCE."""

    def __post_init__(self) -> None:
        for synonym in self.synonyms:
            if synonym != fold(synonym) or not synonym:
                raise ValueError(f"{self.name}: synonym {synonym!r} is not folded")
        if not self.only_with_ref <= set(self.synonyms):
            raise ValueError(f"{self.name}: only_with_ref names unknown synonyms")

    def args_ok(self, args: str) -> bool:
        """Whether ``args`` (folded) may follow the word at all (``opens``)."""
        return (not self.opens or not args or args[0].isdigit()
                or args.startswith(self.opens))

    def body_args_ok(self, args: str) -> bool:
        """Whether ``args`` (folded, reference removed) may follow the word on
        the first line of a body."""
        if self.after is After.ACTION:
            return _NUMBER.match(args) is not None
        if self.after is After.REF_OR_LINE and args:
            return _KEY_LINE.match(args) is not None
        return self.after is After.FREE or not args


# Every command, in the order AIDE shows them.
SYNTAXES: tuple[Syntax, ...] = (
    Syntax("NOUVEAU_PPS", "NOUVEAU PPS",
           ("nouveau pps", "nouveau ppcs", "nouveau plan", "nouvelle pps", "pps", "ppcs"),
           "créer un plan (objet NOUVEAU PPS)",
           "Patient : DUPONT Marie\nNée le : 28/02/1937\nINS : 2 95 10 99 126 111 93\n"
           "Consentement : oui\nProblème : diabète de type 2\n"
           "Action : IDE | surveillance des glycémies | chaque semaine"),
    Syntax("MAJ", "MAJ", ("maj", "mise a jour", "mise-a-jour", "mettre a jour"),
           "compléter un plan (en réponse à un message du plan)",
           "MAJ\nAction : kiné | rééducation à la marche | 2 fois par semaine\n"
           "Note : patiente plus fatiguée", After.REF_OR_LINE),
    Syntax("STATUT", "STATUT", ("statut", "status", "etat"),
           "voir où en est un plan", "STATUT PPS-2026-0001"),
    Syntax("LISTE", "LISTE", ("liste", "lister", "mes patients"),
           "la liste de vos patients suivis", "LISTE"),
    Syntax("FAIT", "FAIT", ("fait", "faite", "faits", "done"),
           "signaler une action faite (le reste du message devient le commentaire)",
           "FAIT 3 PPS-2026-0001\nSéance faite, marche avec déambulateur.",
           After.ACTION),
    Syntax("ANNULER_FAIT", "ANNULER FAIT", ("annuler fait", "annuler faite", "defaire"),
           "remettre à faire une action notée faite par erreur",
           "ANNULER FAIT 3 PPS-2026-0001", After.ACTION),
    Syntax("REPORTER", "REPORTER", ("reporter", "report", "decaler"),
           "repousser une action", "REPORTER 2 au 15/12/2026 PPS-2026-0001", After.ACTION),
    Syntax("DOCUMENT", "DOCUMENT", ("document",),
           "recevoir un document reçu pour un plan (son numéro est dans STATUT)",
           "DOCUMENT 1 PPS-2026-0001", After.ACTION),
    Syntax("CLORE", "CLORE", ("clore", "cloturer", "clos", "fermer"),
           "clore un plan (référent ou coordination)", "CLORE PPS-2026-0001"),
    Syntax("RCP_NOUVELLE", "RCP NOUVELLE",
           ("rcp nouvelle", "rcp planifier", "nouvelle rcp", "planifier rcp",
            "planifier une rcp"),
           "planifier une réunion de concertation (objet RCP NOUVELLE)",
           "Date : 03/12/2026 à 12h30\nDurée : 1h30\nLieu : salle de réunion\n"
           "Participants : tous\nPatients : PPS-2026-0001", After.FREE),
    Syntax("RCP", "RCP", ("rcp", "reunions", "liste rcp"),
           "les prochaines réunions de concertation", "RCP"),
    Syntax("ANNULER_RCP", "ANNULER", ("annuler rcp", "annuler"),
           "annuler une réunion", "ANNULER RCP-2026-001", only_with_ref=frozenset({"annuler"})),
    Syntax("COMPTE_RENDU", "COMPTE-RENDU", ("compte-rendu", "compte rendu", "cr"),
           "envoyer le compte rendu d'une réunion",
           "COMPTE-RENDU RCP-2026-001\nPPS-2026-0001 : poursuite du plan",
           only_with_ref=frozenset({"cr"})),
    Syntax("ABSENCE", "ABSENCE", ("absence", "absent", "absente"),
           "signaler une absence : vos rappels vont à votre remplaçant(e), sinon au référent "
           "du plan et à la coordination",
           "ABSENCE du 20/12/2026 au 04/01/2027\nRemplaçant : Dr GIRARD", After.FREE,
           opens=("du ", "le ", "jusqu'", "jusqu ", "a partir", "a compter", "depuis ",
                  "des le", "lundi", "mardi", "mercredi", "jeudi", "vendredi",
                  "samedi", "dimanche")),
    Syntax("ANNULER_ABSENCE", "ANNULER ABSENCE",
           ("annuler absence", "annuler l'absence", "annuler mon absence", "fin absence",
            "fin d'absence", "fin de l'absence"),
           "annuler une absence signalée (ou y mettre fin : vous êtes de retour)",
           "ANNULER ABSENCE", After.FREE),
    Syntax("ABSENCES", "ABSENCES", ("absences", "liste des absences", "qui est absent"),
           "les absences en cours et à venir dans l'équipe (coordination)", "ABSENCES"),
    Syntax("INDICATEURS", "INDICATEURS", ("indicateurs", "rapport d'activite"),
           "le rapport d’activité de l’équipe, pour l’ARS (coordination ; période "
           "facultative : 2026, T3 2026, du 01/01/2026 au 30/06/2026)",
           "INDICATEURS T3 2026", After.FREE, coordination_only=True),
    Syntax("AIDE", "AIDE", ("aide", "help", "?"), "recevoir cette aide", "AIDE"),
)
SYNTAX: dict[str, Syntax] = {s.name: s for s in SYNTAXES}
COMMANDS: tuple[str, ...] = tuple(SYNTAX)
DISPLAY: dict[str, str] = {s.name: s.display for s in SYNTAXES}
"""The word shown to users, per canonical name."""


def _candidates(syntaxes: Iterable[Syntax]) -> dict[str, list[tuple[str, Syntax]]]:
    """By first character (each line of a body is looked at: only the synonyms
    it may start with are tried), longest first so that "rcp nouvelle" is
    tried before "rcp" and "annuler fait" before "annuler"."""
    pairs = [(syn, s) for s in syntaxes for syn in s.synonyms]
    seen: dict[str, str] = {}
    for syn, s in pairs:
        if seen.setdefault(syn, s.name) != s.name:
            raise ValueError(f"synonym {syn!r} of both {seen[syn]} and {s.name}")
    by_first: dict[str, list[tuple[str, Syntax]]] = {}
    for syn, s in sorted(pairs, key=lambda pair: -len(pair[0])):
        by_first.setdefault(syn[0], []).append((syn, s))
    return by_first


_CANDIDATES = _candidates(SYNTAXES)

# Reply and forward prefixes: a subject that has one is the answered mail's.
# Matched at a position (no "^"): slicing the subject after each prefix made
# « RE: RE: RE: … » quadratic.
_REPLY_PREFIX = re.compile(
    r"\s*(?:re|ref|tr|fw|fwd|aw|wg|sv|antw|rep|reponse)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*")
_TAG_PREFIX = re.compile(r"\s*\[[^\]]*\]\s*")
_REF = re.compile(r"(?<![a-z0-9])(pps|rcp)[ -]?(\d{4})[ -]?(\d{3,4})(?![0-9])", re.IGNORECASE)
_TAG = re.compile(r"\[\s*(pps)[ -]?(\d{4})[ -]?(\d{4})\s*\]", re.IGNORECASE)
_EMPTY_BRACKETS = re.compile(r"\[\s*\]")
_KEY_LINE = re.compile(r"^[\-*•·\s]*[^\W\d_][\w '’().\-/]{0,40}?[ \u00a0\u202f\t]*:(?!//)")
# "3", "n°3", "n° 3", "no 3", "#3" (as written or folded). Possessive spaces:
# the two runs around the optional "n°" could share a run of spaces in every
# way, quadratic on spaces not followed by a number.
_NUMBER = re.compile(r"^\s*+(?:n\s*+[°º]|№|no\.?|#)?\s*+(\d{1,3})\b\s*(.*)$",
                     re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Detected:
    name: str | None
    ref: str | None = None
    args: str = ""
    lines: list[tuple[int, str]] = field(default_factory=list)
    source: str | None = None
    subject_tag_ref: str | None = None
    text: str = ""
    """The subject (stripped of prefixes) or first body line the command was
    looked for in, as written: what a "not understood" answer quotes back."""
    raw_args: str = ""
    line: int | None = None
    """The body line number of the command, None when it is in the subject."""


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


@functools.lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    """One character folded alone; a space for any space character."""
    return fold(c) or (" " if c.isspace() else "")


_SPACE_RUNS = re.compile(" {2,}")


def _traceable(text: str, folded: str) -> bool:
    """Whether ``text`` folded character by character gives ``folded``, its
    fold: then each character of ``folded`` comes from one of ``text``."""
    if text.isascii():  # ASCII folds character by character
        return True
    return _SPACE_RUNS.sub(" ", "".join(map(_fold_char, text))).strip(" ") == folded


def _as_written(text: str, folded: str, folded_start: int) -> str:
    """``text`` from where the character ``folded_start`` of ``folded``
    (``fold(text)``) comes, as written: what was matched on folded text is
    cut from the text as written. Folded when a character of ``text`` folds
    differently alone (keep it simple).

    Walks ``text`` only up to that character: tracing every character of a
    long line cost a fold call per character."""
    if not _traceable(text, folded):
        return folded[folded_start:]
    count, after_space, space_at = 0, True, None  # leading spaces are dropped
    for i, c in enumerate(text):
        for f in _fold_char(c):
            if f == " ":
                if after_space:
                    continue
                after_space = True
            elif space_at is not None:
                return text[space_at:].strip()  # the space was not a trailing one
            else:
                after_space = False
            if count == folded_start:
                if f != " ":
                    return text[i:].strip()
                space_at = i
            count += 1
    return ""


def _strip_prefixes(subject: str) -> tuple[str, str, bool]:
    """(folded subject, subject as written, had a reply/forward prefix), both
    without prefixes and ``[...]`` tags."""
    folded = fold(subject)
    start, replied = 0, False
    while True:
        m = _REPLY_PREFIX.match(folded, start) or _TAG_PREFIX.match(folded, start)
        if m is None or m.end() == start:
            break
        replied = replied or m.re is _REPLY_PREFIX
        start = m.end()
    return folded[start:].strip(), _as_written(subject, folded, start), replied


def strip_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and ``[...]`` tags, folded."""
    return _strip_prefixes(subject)[0]


def _without_ref(text: str, ref: str | None) -> str:
    if ref:
        text = _EMPTY_BRACKETS.sub(" ", _REF.sub(" ", text, count=1), count=1)
    return text


def _match(text: str, *, strict: bool) -> tuple[str, str | None, str, int] | None:
    """(name, ref, args, where the arguments start) when folded ``text`` starts
    with a command word. Read from ``SYNTAXES`` alone: no command is special here."""
    key_line = _KEY_LINE.match(text) if strict else None
    refused: list[str] = []  # synonyms found at the start of text but not accepted
    for syn, syntax in _CANDIDATES.get(text[:1], []):
        if not text.startswith(syn):
            continue
        rest = text[len(syn):]
        # A command word must end at a word boundary ("pps" is not "pps-2026-0001").
        if rest and syn != "?" and not (rest[0].isspace() or rest[0] in ":,.;!?"):
            continue
        # A longer command word that was written but refused its arguments
        # hides its shorter beginnings: « ANNULER FAIT » without a number is
        # never « ANNULER » (a meeting).
        if any(longer.startswith(syn + " ") for longer in refused):
            continue
        ref = find_ref(rest)
        args = " ".join(_without_ref(rest, ref).split()).strip(" :,.;!")
        if (syn in syntax.only_with_ref and not ref) or not syntax.args_ok(args):
            refused.append(syn)
            continue
        if strict and not syntax.body_args_ok(args):
            refused.append(syn)
            continue
        # "Statut : actif" is a key line, "FAIT 3 : RAS" an action and its comment.
        # « MAJ Protocole : x » is the command and its first line, not a key line.
        if key_line and not (syntax.after is After.ACTION and re.search(r"\d", key_line[0])) \
                and not (syntax.after is After.REF_OR_LINE and args):
            return None
        return syntax.name, ref, args, len(syn)
    return None


def _found(text: str, *, strict: bool, source: str, lines: list[tuple[int, str]],
           tag_ref: str | None, line: int | None = None) -> Detected | None:
    folded = fold(text)
    found = _match(folded, strict=strict)
    if found is None:
        return None
    name, ref, args, start = found
    raw_args = " ".join(_without_ref(_as_written(text, folded, start), ref).split())
    raw_args = raw_args.lstrip(" :,.;!")
    if strict and args and SYNTAX[name].after is After.REF_OR_LINE and line is not None:
        # The one line after the command word is the first of its lines.
        lines = [(line, raw_args), *lines]
    return Detected(name, ref, args, lines, source, tag_ref, text.strip(), raw_args, line)


def detect_command(subject: str, body: str, *, replying: bool = False) -> Detected:
    """Find the command of a mail (see the module docstring). ``replying``: the
    mail answers one of the service's own mails (its In-Reply-To/References)."""
    tag = _TAG.search(subject or "")
    tag_ref = _norm_ref(*tag.groups()) if tag else None
    numbered = list(enumerate((body or "").splitlines(), start=1))
    folded_subject, subject_text, prefixed = _strip_prefixes(subject or "")
    replying = replying or prefixed
    first = next(((i, line) for i, line in numbered if line.strip()), None)

    in_body = None
    if first is not None:
        rest = [(i, text) for i, text in numbered if i != first[0]]
        in_body = _found(first[1], strict=True, source="body", lines=rest, tag_ref=tag_ref,
                         line=first[0])
    if in_body is not None and replying:
        return in_body
    if folded_subject:
        in_subject = _found(subject_text, strict=False, source="subject", lines=numbered,
                            tag_ref=tag_ref)
        if in_subject is not None:
            return in_subject
    if in_body is not None:
        return in_body
    # Quote what the person wrote: in a reply, the body; else the subject first.
    written = first[1].strip() if first else ""
    looked_at = written if replying and written else (subject_text or written)
    return Detected(None, None, "", numbered, None, tag_ref, looked_at)


ACTION_COMMANDS = frozenset({"FAIT", "ANNULER_FAIT", "REPORTER"})
"""The commands about one numbered action: a mail may hold several of them."""
MAX_ACTION_LINES = 50


def action_commands(detected: Detected) -> list[Detected]:
    """The command lines of a mail whose command is about an action (FAIT,
    ANNULER FAIT, REPORTER): ``detected`` first, then each other line of the
    body that is one of those commands too, each with the lines that follow
    it up to the next command line (its comment). ``[detected]`` when there
    is no other such line, or for any other command.

    Another line counts when it starts with one of those commands, read as
    strictly as the first line of a body, and either names a plan
    (« FAIT 3 PPS-2026-0001 »), or has nothing after its number (« FAIT 2 »),
    or is a REPORTER (its date follows): a comment line such as « fait 2 fois
    cette semaine » stays a comment. At most ``MAX_ACTION_LINES`` lines."""
    if detected.name not in ACTION_COMMANDS:
        return [detected]
    found: list[tuple[int, Detected]] = []
    for index, (number, text) in enumerate(detected.lines):
        if len(found) == MAX_ACTION_LINES - 1:
            break
        if not text.strip():
            continue
        other = _found(text, strict=True, source="body", lines=[],
                       tag_ref=detected.subject_tag_ref, line=number)
        if other is None or other.name not in ACTION_COMMANDS:
            continue
        _, rest = split_action_number(other.args)
        if other.ref is None and rest and other.name != "REPORTER":
            continue
        found.append((index, other))
    if not found:
        return [detected]
    ends = [index for index, _ in found[1:]] + [len(detected.lines)]
    first = replace(detected, lines=detected.lines[:found[0][0]])
    return [first, *(replace(other, lines=detected.lines[index + 1:end])
                     for (index, other), end in zip(found, ends, strict=True))]


def split_action_number(args: str) -> tuple[int | None, str]:
    """``FAIT 3 …`` / ``REPORTER 2 au …`` (also ``n°3``, ``#3``): the action
    number and the rest of the arguments."""
    m = _NUMBER.match(args)
    return (int(m.group(1)), m.group(2).strip()) if m else (None, args)


def postponed_date_text(rest: str) -> str:
    """« au 15/12/2026 » -> « 15/12/2026 »."""
    return re.sub(r"^(au|a|à|le|pour)\s+", "", rest.strip(), flags=re.IGNORECASE)


def action_comment(detected: Detected, people: Iterable[Person] = ()) -> str:
    """A ``FAIT`` comment: what follows the action number on the command line
    (« FAIT 3, RAS », « FAIT 3 : RAS »), then the other lines of the body, without
    an opening greeting nor a sign-off written without a ``-- `` separator
    (« Cordialement », the sender's name, profession, phone: ``plans.signature``)."""
    _, rest = split_action_number(detected.raw_args)
    texts = [line.rstrip() for _, line in detected.lines]
    # Indices, not pop(0): that moved every line left for each greeting line.
    first = 0
    while first < len(texts) and (not texts[first].strip() or is_greeting(texts[first])):
        first += 1
    signature = SignOff(people)
    last = len(texts)
    while last > first and (not texts[last - 1].strip() or signature(texts[last - 1])):
        last -= 1
    texts = texts[first:last]
    head = rest.strip(" \t:,;.-–—")
    return "\n".join([head, *texts] if head else texts).strip()


def closest_commands(text: str, limit: int = 3, *,
                     among: Sequence[Syntax] = SYNTAXES) -> list[str]:
    """Canonical names of the commands closest to what the user wrote.

    Compares the first one or two folded words of ``text`` to every synonym,
    so that "stauts" suggests STATUT and "fiat 3" suggests FAIT.
    """
    words = fold(text).split()
    if not words:
        return []
    probes = {words[0], " ".join(words[:2])}
    by_synonym = {syn: s.name for s in among for syn in s.synonyms if len(syn) > 2}
    scored: dict[str, float] = {}
    for probe in probes:
        for syn, name in by_synonym.items():
            # A probe 7/3 times longer than the synonym stays under 0.6 (at most
            # 2 * len(syn) characters of the sum match): skipping it keeps the
            # cost of a long first word to its length, not 50 matchers over it.
            if 3 * len(probe) > 7 * len(syn):
                continue
            ratio = difflib.SequenceMatcher(None, probe, syn).ratio()
            if ratio >= 0.6 and ratio > scored.get(name, 0.0):
                scored[name] = ratio
    ranked = sorted(scored, key=lambda n: (-scored[n], COMMANDS.index(n)))
    return ranked[:limit]
