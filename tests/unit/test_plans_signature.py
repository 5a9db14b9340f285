"""Sign-off lines written without a separator: dropped; anything else kept."""

from __future__ import annotations

import pytest

from plans.signature import SignOff, is_signature
from tests.support.plans_examples import ROSTER


@pytest.mark.parametrize("line", [
    "Médecin généraliste - 02 41 52 00 00",
    "Infirmière libérale, 06 98 76 54 32",
    "Médecin généraliste – 02 41 52 00 00",
    "Dr Hélène Marchand - Médecin généraliste - 02 41 52 00 00",
    "Cabinet infirmier des Tilleuls ; 06 98 76 54 32",
    "Infirmière libérale | helene.marchand@ide.mssante.test",
    "MSP des Lilas - 12 rue des Lilas - 49000 Angers",
    "Tél : 02 41 52 00 00 - Fax : 02 41 52 00 01",
    "Julien MARIE, infirmier, 06 98 76 54 32",
])
def test_a_line_joining_sign_off_pieces_and_a_contact_is_a_signature(line: str) -> None:
    assert is_signature(line, ROSTER)


@pytest.mark.parametrize("piece", ["Médecin généraliste", "Infirmière libérale",
                                   "02 41 52 00 00", "06 98 76 54 32"])
def test_each_piece_alone_is_a_signature_too(piece: str) -> None:
    assert is_signature(piece, ROSTER)


@pytest.mark.parametrize("line", [
    "Glycémie à jeun 1,32 g/l",
    "Tension 14/8",
    "Tension 14 / 8",
    "INR 2,5 - contrôle le 15/12",
    "Allergie pénicilline, 06 98 76 54 32 en cas de réaction",
    "Pansement, 06 98 76 54 32",
    "Appeler la fille - 06 98 76 54 32",
    # Known names without a contact: may be the team written without its key.
    "IDE Julien MARIE, kiné Karim BENALI, Dr Claire DURAND",
    # More pieces than any sign-off line has.
    "IDE, IDE, IDE, IDE, IDE, IDE, 06 98 76 54 32",
])
def test_a_clinical_or_team_line_is_not_a_signature(line: str) -> None:
    assert not is_signature(line, ROSTER)


def test_sign_off_folds_the_names_once_and_agrees_with_is_signature() -> None:
    signature = SignOff(ROSTER)
    for line in ("Karim BENALI", "Karim BENALI, 06 98 76 54 32", "Allergie pénicilline",
                 "Cordialement,", "Tension 14/8"):
        assert signature(line) == is_signature(line, ROSTER), line
