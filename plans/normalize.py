"""Folding text for comparisons that ignore case, accents and spacing."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u00a0\u202f\u2007\u2009\u200a]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})


def fold(text: str) -> str:
    """Lower-case, strip accents, unify apostrophes/dashes, collapse spaces.

    ``fold("Échéance") == fold("echeance")``. Used to compare keys, commands,
    professions and month names, never to store what the user wrote.
    """
    if text.isascii():  # no accent to strip: skip the per-character pass
        return _SPACES.sub(" ", text.translate(_APOSTROPHES).lower()).strip()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.translate(_APOSTROPHES).translate(_DASHES)
    return _SPACES.sub(" ", stripped.casefold()).strip()
