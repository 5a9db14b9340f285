"""The one error the value parsers raise.

A ``FieldError`` describes a single wrong value in the professional's own
terms: what is wrong, what was expected and a corrected example value. The
line grammar adds the line number, the key and the text as written, and builds
the full example line (``Né le : 28/02/1937``) from ``example``.

Messages are French because they are read by health professionals. They must
never carry patient data beyond what the user typed in the same line.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass


@dataclass(frozen=True)
class FieldError(Exception):
    """A value that cannot be accepted, with how to write it right."""

    problem: str
    """French, what is wrong, e.g. « le 31 février n'existe pas »."""
    expected: str
    """French, what was expected, e.g. « une date réelle au format JJ/MM/AAAA »."""
    example: str
    """A corrected example value (not a full line), e.g. « 28/02/1937 »."""

    def __str__(self) -> str:
        return f"{self.problem} (attendu : {self.expected} ; exemple : {self.example})"


def _set_exception_attribute(self: FieldError, name: str, value: object) -> None:
    # A frozen dataclass forbids every assignment, but Python itself sets
    # __traceback__, __cause__, __context__ and __notes__ on exceptions it
    # re-raises (contextlib, add_note, ExceptionGroup): allow those only.
    if name.startswith("__") and name.endswith("__"):
        object.__setattr__(self, name, value)
        return
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


# Assigned after decoration: dataclass(frozen=True) refuses a __setattr__ in the class body.
FieldError.__setattr__ = _set_exception_attribute  # type: ignore[method-assign, assignment]
