"""French typography for what professionals read.

Answers are written with ordinary spaces in the source and passed through
``french()`` once, at rendering, so that every answer gets the same rules:
a no-break space before ':' and inside « », a narrow no-break space before ';',
'!' and '?'.
"""

from __future__ import annotations

import re

NBSP = "\u00a0"
NNBSP = "\u202f"

# A run of spaces is matched from where it starts only: retried from each of
# its positions, a long run in a quoted line or a note made french()
# quadratic (20,000 spaces: 5 s). The matches are the same.
_BEFORE_COLON = re.compile(r"(?<![ \u00a0\u202f])[ \u00a0\u202f]+:(?=\s|$)")
_BEFORE_TALL = re.compile(r"(?<![ \u00a0\u202f])[ \u00a0\u202f]+([;!?])(?=\s|$|[»)])")
_OPEN_QUOTE = re.compile(r"«[ \u00a0\u202f]*")
_CLOSE_QUOTE = re.compile(r"(?<![ \u00a0\u202f])[ \u00a0\u202f]*»")


def french(text: str) -> str:
    """Apply French spacing rules before high punctuation and inside guillemets."""
    text = _BEFORE_COLON.sub(NBSP + ":", text)
    text = _BEFORE_TALL.sub(lambda m: NNBSP + m.group(1), text)
    text = _OPEN_QUOTE.sub("«" + NBSP, text)
    return _CLOSE_QUOTE.sub(NBSP + "»", text)
