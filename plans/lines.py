"""The line lexer: ``Key : value`` lines as professionals type them.

``lex(lines)`` takes numbered body lines (as ``detect_command`` returns them)
and gives one ``Line`` per non-blank line, up to a signature separator
(``--``). A line is a key line when it reads ``Key : value``:

- leading bullets ``-``, ``*``, ``•``, ``·``, ``–`` or ``1.`` are allowed;
- any spacing around the colon, including no-break spaces (U+00A0, U+202F)
  and the full-width colon;
- keys are compared folded (case, accents, spacing ignored; see
  ``plans.normalize.fold``), so ``PROBLEME``, ``Problème`` and ``problemes``
  are the same key, and ``Né(e) le``, ``Née le``, ``DDN`` all mean the birth
  date.

A key line whose key is unknown keeps ``field = None`` and ``key`` set; a line
without a usable key has ``key = None``: the grammar decides what to do with
those (greeting, signature, continuation of the previous value, note).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from plans.normalize import fold
from plans.signature import is_separator

__all__ = ["FIELD_LABELS", "KEYS", "Line", "field_of", "lex"]

# Folded key -> canonical field name.
_FIELDS: dict[str, tuple[str, ...]] = {
    "patient": ("patient", "patiente", "nom du patient", "nom de la patiente", "nom et prenom",
                "nom prenom", "identite"),
    "family_name": ("nom", "nom de famille", "nom de naissance"),
    "given_name": ("prenom", "prenoms"),
    "birth_date": ("ne le", "nee le", "ne(e) le", "nee(e) le", "ne-e le",
                   "date de naissance", "ddn", "naissance", "ne", "nee", "ne(e)"),
    "sex": ("sexe", "genre"),
    "ins": ("ins", "nir", "matricule ins", "numero ins", "n° ins", "no ins", "ins/nir"),
    "consent": ("consentement", "consentement du patient", "consentement de la patiente",
                "consentement patient", "accord du patient", "accord de la patiente"),
    "referent": ("referent", "referente", "referent du plan", "medecin referent"),
    "team": ("equipe", "intervenants", "intervenant", "equipe de soins", "membres"),
    "problem": ("probleme", "problemes", "probleme de sante", "problemes de sante"),
    "objective": ("objectif", "objectifs"),
    "preference": ("souhaits du patient", "souhait du patient", "souhaits de la patiente",
                   "souhait de la patiente", "souhaits", "souhait", "preferences", "preference",
                   "preferences du patient", "preferences de la patiente"),
    "alert": ("alerte", "alertes", "procedure d'alerte", "conduite a tenir"),
    "note": ("note", "notes", "commentaire", "commentaires", "remarque", "remarques"),
    "action": ("action", "actions"),
    "protocol": ("protocole", "protocoles"),
    "theme": ("theme", "themes", "thematique", "thematiques", "theme du projet de sante"),
    "review_date": ("reevaluation", "date de reevaluation", "prochaine reevaluation",
                    "a reevaluer le", "revision"),
}
KEYS: dict[str, str] = {syn: name for name, syns in _FIELDS.items() for syn in syns}

# How each field is written in examples and answers.
FIELD_LABELS: dict[str, str] = {
    "patient": "Patient", "family_name": "Nom", "given_name": "Prénom",
    "birth_date": "Né le", "sex": "Sexe", "ins": "INS", "consent": "Consentement",
    "referent": "Référent", "team": "Équipe", "problem": "Problème", "objective": "Objectif",
    "preference": "Souhaits du patient", "alert": "Alerte", "note": "Note", "action": "Action",
    "protocol": "Protocole", "review_date": "Réévaluation", "theme": "Thème",
}

_BULLET = re.compile(r"^\s*(?:[-*•·▪◦–—]+\s*|\d{1,2}[.)]\s+)")
# ``_key_value`` reads what ^(?P<key>KEY)[\s\u00a0\u202f]*[:：](?P<value>.*)$ with
# a lazy KEY matched; the pattern retried its run of spaces for each of the 41
# lengths of the key, a cost of 41 times the line on « a      …      b: ».
_KEY = re.compile(r"[^\W\d_][\w '’().°/\-]{0,40}")


@dataclass(frozen=True)
class Line:
    number: int
    text: str  # as written, without surrounding spaces
    key: str | None  # the key as written ("Née le"), None when the line has none
    field: str | None  # canonical field ("birth_date"), None when unknown or no key
    value: str  # the value after the colon, or the whole line when there is no key

    @property
    def label(self) -> str:
        """The key as the user wrote it, else the field's usual label."""
        if self.key:
            return self.key
        return FIELD_LABELS.get(self.field or "", "")


def field_of(key: str) -> str | None:
    """The canonical field of a key as written, or None."""
    folded = fold(key).strip(" .-")
    folded = re.sub(r"\s*\)", ")", re.sub(r"\s*\(\s*", "(", folded))
    return KEYS.get(folded)


def _key_value(text: str) -> tuple[str, str] | None:
    """(key, value) of a ``Key : value`` line, None when it has no key.

    Neither the key nor the spaces after it may hold a colon, so the colon is
    the first one; the key is what precedes it, without the spaces."""
    colon = min((i for i in (text.find(":"), text.find("：")) if i >= 0), default=-1)
    if colon < 0:
        return None
    key = text[:colon].rstrip()  # \u00a0 and \u202f are spaces to rstrip as to \s
    if _KEY.fullmatch(key) is None:
        return None
    value = text[colon + 1:]
    newline = value.find("\n")
    if newline >= 0:  # as ".*$": no line break in the value but a final one, left out
        if newline < len(value) - 1:
            return None
        value = value[:newline]
    return key, value


def _split(text: str) -> tuple[str | None, str]:
    found = _key_value(text)
    if found is None:
        return None, text
    key, value = found[0].strip(), found[1]
    if value.startswith("//"):  # "https://...": a link, not a key
        return None, text
    if len(key.split()) > 5:
        return None, text
    return key, value.strip(" \t\u00a0\u202f")


def lex(lines: Iterable[tuple[int, str]]) -> list[Line]:
    """Numbered body lines -> ``Line`` objects (blank lines dropped)."""
    out: list[Line] = []
    for number, raw in lines:
        if is_separator(raw):
            break
        text = raw.strip(" \t\u00a0\u202f\r")
        if not text:
            continue
        body = _BULLET.sub("", text, count=1) if _BULLET.match(text) else text
        key, value = _split(body)
        field = field_of(key) if key is not None else None
        out.append(Line(number, text, key, field, value if key is not None else body))
    return out
