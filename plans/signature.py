"""Sign-off lines of a plan mail: what may be ignored without a word.

The mail client's own separators are handled before the grammar sees the body:
``esp_coord.intake.quotes`` cuts everything from a ``-- `` line
(``is_separator``) or a mobile footer (« Envoyé de mon iPhone »), and
``plans.lines.lex`` stops at the same separator for bodies that did not come
through the intake. Otherwise this module recognises the signatures written
without a separator, line by line: greetings and sign-offs, phone numbers,
e-mail addresses and links, postal addresses, « Dr X » / « Mme X », and lines
made only of the names of people we know (the sender, the team, the roster)
and of profession or practice words (« Claire DURAND », « Infirmière
libérale »), and lines joining such pieces with a contact detail (« Médecin
généraliste - 02 41 52 00 00 », « Infirmière libérale, 06 98 76 54 32 »).

Anything else is NOT a signature: the grammar keeps it as a note and warns.
Dropping a real sentence (« Allergie pénicilline ») loses care information,
so an unknown capitalised word is never enough on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from plans.normalize import fold
from plans.people import Person, profession_of

__all__ = ["SignOff", "is_greeting", "is_separator", "is_signature"]

_GREETINGS = ("bonjour", "bonsoir", "salut", "cordialement", "bien cordialement",
              "bien a vous", "bien a toi", "merci", "merci beaucoup", "a bientot", "amities",
              "bonne journee", "bonne soiree", "sinceres salutations", "confraternellement",
              "bien confraternellement", "bonne fin de journee", "cher", "chere", "chers")
_GREETING_TAIL = {"a", "tous", "toutes", "d'avance", "davance", "pour", "votre", "ton", "aide",
                  "beaucoup", "collegues", "confreres", "et", "bonne", "journee", "soiree"}
_TITLES = {"dr", "docteur", "pr", "professeur", "mme", "madame", "m", "mr", "monsieur",
           "mlle", "mademoiselle"}
# Words of a practice or a qualification in a sign-off block.
_PRACTICE = {"de", "du", "des", "la", "le", "les", "d'", "et", "en", "a", "au", "cabinet",
             "maison", "sante", "pluriprofessionnelle", "pluridisciplinaire", "msp", "esp",
             "cpts", "centre", "pole", "equipe", "soins", "liberal", "liberale", "diplome",
             "diplomee", "d'etat", "etat", "generaliste", "rpps", "adeli", "coordination",
             "secretariat", "secretaire", "remplacant", "remplacante"}
_PRACTICES = ("esp ", "msp ", "cpts ", "cabinet ", "maison de sante", "centre de sante",
              "pole de sante")
_PHONE = re.compile(r"^(?:(?:tel|telephone|portable|port|mobile|fixe|fax|standard)\.?\s*:?\s*)?"
                    r"(?:\+\s?33|0)[\d\s.\-()/]{8,}$")
# A link line is an optional key then one word: an address or a web link.
# ``_is_link`` says what ^(?:KEY\s*:?\s*)?(?:\S+@\S+\.\w+|(?:https?://|www\.)\S+)$
# said, but that pattern tried every « @ » against every later « . »:
# quadratic on « a@a@a@… ».
_LINK_KEY = re.compile(r"(?:mail|e-mail|email|courriel|mssante)\s*+")
_SPACES = re.compile(r"\s*+")
_ONE_WORD = re.compile(r"\S+\n?")
_WORD_CHARS = re.compile(r"\w+")
_WEB = ("http://", "https://", "www.")
# A composite sign-off line: pieces between commas, semicolons or a dash (or
# bar, slash, bullet) standing alone between spaces, one of them a contact.
_PIECE_COMMAS = re.compile(r"[,;]")
_PIECE_MARKS = {"-", "–", "—", "|", "/", "·", "•"}
_CONTACT_HINT = re.compile(r"[\d@]|www\.|https?://", re.IGNORECASE)
_MAX_PIECES = 6
_STREET = re.compile(r"^\d{1,4}\s*(?:bis|ter)?,?\s+(?:rue|avenue|av|bd|boulevard|chemin|place|"
                     r"allee|route|impasse|quai|cours|square|lotissement|residence|chem)\b")
_POSTCODE = re.compile(r"^(?:\d{1,4}.*\s)?\d{5}\s+[a-z' -]+(?:cedex(?:\s+\d+)?)?$")
_WORD = re.compile(r"[\w'’.-]+")
# RFC 3676 says "-- "; clients drop the space, add more or indent the line.
# "---" is a rule drawn in the text, not a separator.
_SEPARATOR = re.compile(r"[ \t\u00a0\u202f]*--\s*$")


def is_separator(line: str) -> bool:
    """The signature separator, « -- » alone on its line: what follows is the
    sender's signature block."""
    return _SEPARATOR.match(line) is not None


def _is_link_word(word: str) -> bool:
    """``word`` (no spaces; a final newline allowed, as ``$`` allows) is
    ``\\S+@\\S+\\.\\w+`` or a web link."""
    if not _ONE_WORD.fullmatch(word):
        return False
    word = word.removesuffix("\n")
    if any(word.startswith(web) and len(word) > len(web) for web in _WEB):
        return True
    dot = word.rfind(".")  # the top-level domain follows the last dot
    return dot > 0 and _WORD_CHARS.fullmatch(word, dot + 1) is not None \
        and "@" in word[1:dot - 1]


def _is_link(folded: str) -> bool:
    """An address or a web link, alone or after « mail : », « MSSanté »..."""
    starts = [0]
    key = _LINK_KEY.match(folded)
    if key is not None:
        starts.append(key.end())
        if folded.startswith(":", key.end()):
            spaces = _SPACES.match(folded, key.end() + 1)
            starts.append(spaces.end() if spaces is not None else key.end() + 1)
    return any(_is_link_word(folded[start:]) for start in starts)


def _words(folded: str) -> list[str]:
    return [w.strip(".-").replace("’", "'") for w in _WORD.findall(folded) if w.strip(".-")]


def is_greeting(text: str) -> bool:
    """« Bonjour, », « Bien cordialement », « Merci d'avance ! », « Bonjour Julien »;
    not « Merci de prévenir si chute », which asks for something."""
    plain = " ".join(re.sub(r"[,.!]", " ", text).split())
    folded = fold(plain)
    for greeting in _GREETINGS:
        if folded == greeting:
            return True
        if folded.startswith(greeting + " "):
            rest = plain.split()[len(greeting.split()):]
            return len(rest) <= 3 and all(
                w[:1].isupper() or fold(w) in _GREETING_TAIL for w in rest)
    return False


class SignOff:
    """``is_signature`` for the lines of one mail: the names of the people who
    may sign are folded once, when a line first needs them, not once a line
    (a body of short lines cost a fold of the whole roster per line)."""

    def __init__(self, people: Iterable[Person] = ()) -> None:
        self._people = list(people)
        self._names: set[str] | None = None

    def _is_name(self, word: str) -> bool:
        if self._names is None:
            self._names = {part for person in self._people for part in _words(fold(person.name))}
        return word in self._names

    def __call__(self, text: str) -> bool:
        """Whether a line without a key is a greeting or part of a sign-off."""
        if self._piece(text):
            return True
        if _CONTACT_HINT.search(text) is None:
            return False
        # « Médecin généraliste - 02 41 52 00 00 »: each piece alone is dropped,
        # so is the line joining them. A contact is required: a list of known
        # names (« IDE MARIE, kiné BENALI, Dr DURAND ») may be the team,
        # written without its key.
        pieces = _pieces(text)
        return 1 < len(pieces) <= _MAX_PIECES and all(self._piece(p) for p in pieces) \
            and any(_is_contact(fold(p).strip(" ,;")) for p in pieces)

    def _piece(self, text: str) -> bool:
        if is_greeting(text):
            return True
        folded = fold(text).strip(" ,;")
        if _is_contact(folded):
            return True
        words = _words(folded)
        if not words or len(words) > 6:
            return False
        if folded.startswith(_PRACTICES):
            return True  # "ESP du Val de Lorge", "Cabinet infirmier des Tilleuls"
        if words[0] in _TITLES and 1 < len(words) <= 4 and all(
                w[:1].isupper() for w in text.split()[1:]):
            return True  # "Dr Claire Durand", "Mme LEROY"; not "Mme MARTIN fatiguée"
        return all(w in _PRACTICE or w in _TITLES or profession_of(w) is not None
                   or self._is_name(w) for w in words)


def _is_contact(folded: str) -> bool:
    """A phone number, an address or link, a street or a postcode and town."""
    return bool(_PHONE.match(folded) or _is_link(folded) or _STREET.match(folded)
                or _POSTCODE.match(folded))


def _pieces(text: str) -> list[str]:
    """``text`` cut at commas, semicolons and lone dashes, as written; cut
    short past ``_MAX_PIECES`` pieces (no sign-off line has so many)."""
    pieces: list[str] = []
    for chunk in _PIECE_COMMAS.split(text):
        words: list[str] = []
        for word in chunk.split():
            if word in _PIECE_MARKS:
                pieces.append(" ".join(words))
                words = []
            else:
                words.append(word)
        pieces.append(" ".join(words))
        pieces = [piece for piece in pieces if piece]
        if len(pieces) > _MAX_PIECES:
            break
    return pieces


def is_signature(text: str, people: Iterable[Person] = ()) -> bool:
    """Whether a line without a key is a greeting or part of a sign-off
    (``SignOff`` for many lines of the same mail)."""
    return SignOff(people)(text)
