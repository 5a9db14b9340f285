"""The protocol library: shipped files load, wrong files are named precisely."""

from __future__ import annotations

from datetime import date

import pytest

from plans.protocols import ProtocolFileError, follow_ups, load_library, parse_library_file
from tests.support.plans_examples import DURAND, GIRARD, MARIE, ROSTER

REQUIRED = {"diabete-type-2", "avk-inr", "sortie-hospitalisation", "prevention-chutes",
            "soins-palliatifs"}
GOOD = """nom = "essai"
titre = "Essai"
description = "Pour les tests."
[[suivi]]
profession = "IDE"
quoi = "visite"
quand = "J+2"
"""


def test_library_has_the_required_protocols() -> None:
    library = load_library()
    assert REQUIRED <= set(library)
    for protocol in library.values():
        assert protocol.title and protocol.description and protocol.follow_ups


def test_sortie_hospitalisation_offsets() -> None:
    protocol = load_library()["sortie-hospitalisation"]
    actions, warnings, joined = follow_ups(protocol, inclusion=date(2026, 11, 23),
                                           team=[DURAND, MARIE], roster=ROSTER,
                                           referent=DURAND.email)
    due = {a.assignee: a.when.due for a in actions}
    assert due[MARIE.email] == date(2026, 11, 25) and due[DURAND.email] == date(2026, 11, 30)
    assert [p.name for p in joined] == ["Sophie LEROY"] and len(warnings) == 1


def test_referent_preferred_and_unfilled_profession_warned() -> None:
    protocol = load_library()["soins-palliatifs"]
    team = [GIRARD, DURAND]
    roster = [p for p in ROSTER if p.profession != "pharmacien"]
    actions, warnings, _ = follow_ups(protocol, inclusion=date(2026, 11, 23), team=team,
                                      roster=roster, referent=DURAND.email)
    doctor = [a for a in actions if a.profession == "medecin"]
    assert doctor[0].assignee == DURAND.email
    unassigned = [a for a in actions if a.assignee is None]
    assert [a.profession for a in unassigned] == ["pharmacien"]
    assert any("pharmacien" in w for w in warnings)


def test_good_file_parses_with_profession_synonym() -> None:
    protocol = parse_library_file("essai.toml", GOOD)
    assert protocol.follow_ups[0].profession == "infirmier"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("profession = \"IDE\"", "profession = \"sorcier\""), "suivi[1].profession"),
        (("quand = \"J+2\"", "quand = \"un de ces jours\""), "suivi[1].quand"),
        (("quoi = \"visite\"\n", ""), "suivi[1].quoi"),
        (("nom = \"essai\"", "nom = \"Essai 2\""), "nom"),
        (("titre = \"Essai\"", "titre = \"Essai\"\nauteur = \"moi\""), "auteur"),
        (("quand = \"J+2\"", "quand = \"J+2\"\ndebut = -3"), "suivi[1].debut"),
        (("[[suivi]]", "[suivis]"), "suivis"),
        (("nom = \"essai\"", "nom = essai"), "-"),
    ],
)
def test_wrong_files_name_file_and_key(change: tuple[str, str], key: str) -> None:
    with pytest.raises(ProtocolFileError) as excinfo:
        parse_library_file("essai.toml", GOOD.replace(*change))
    assert excinfo.value.key == key and str(excinfo.value).startswith("essai.toml: key")


def test_file_name_must_match() -> None:
    with pytest.raises(ProtocolFileError) as excinfo:
        parse_library_file("autre.toml", GOOD)
    assert excinfo.value.key == "nom"
