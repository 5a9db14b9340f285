"""Which patient a document is about: its INS, checked against its own traits.

Sources: ANS, Référentiel INS (the OIDs of the INS matricule: 1.2.250.1.213.1.4.8
INS-NIR, .9 INS-NIA; .10 and .11 for test and demo identities, refused in
production) and the CI-SIS volet « Transmission au LPS de documents CDA
provenant d'un courriel MSSanté », page « Codes erreurs » (902 to 905): a
document whose INS is absent (903), incomplete (905: the matricule without
all its traits) or does not match exactly (904: other traits, another
matricule) is never integrated automatically.

The document states its patient twice, in METADATA.XML (``patientId``,
``sourcePatientInfo``) and in the CDA header (``recordTarget``): the two must
agree, and the INS must agree with the traits it encodes (sex digit, year
and month of birth). Only then is it looked up, by the INS alone (the blind
index); the traits are compared with the plan's afterwards
(``plan_mismatches``). A name is never enough to attach a document.

Errors name the rule (English, for logs) and carry the ANS code; they never
quote a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.fr import nir

from plans.model import Patient
from plans.normalize import fold

from .cda import CdaHeader
from .model import DocumentEntry, PatientId, Traits

__all__ = ["INS_OIDS", "TEST_OIDS", "Identity", "IdentityError", "name_key", "plan_mismatches",
           "resolve_identity"]

INS_OIDS = frozenset({"1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9"})
TEST_OIDS = frozenset({"1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"})
_SEX_OF_DIGIT = {"1": "M", "2": "F", "7": "M", "8": "F"}
_NAME_PUNCTUATION = re.compile(r"[-'’.]")

# The ANS codes of the identity errors (mdn.ERROR_CODES has their labels).
NO_INS, INS_MISMATCH, INS_INCOMPLETE = 903, 904, 905


class IdentityError(ValueError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    ins: str
    oid: str
    traits: Traits

    @property
    def test(self) -> bool:
        """A test or demo identity (OID .10 or .11)."""
        return self.oid in TEST_OIDS


def name_key(text: str) -> str:
    """A name as compared: no case, accents, hyphens nor apostrophes."""
    return " ".join(_NAME_PUNCTUATION.sub(" ", fold(text)).split())


def _ins_of(ids: tuple[PatientId, ...] | list[PatientId], accept_test: bool
            ) -> tuple[PatientId | None, bool]:
    """(the first INS among ``ids``, whether a test INS was left aside)."""
    refused = False
    for found in ids:
        if found.oid in INS_OIDS or (accept_test and found.oid in TEST_OIDS):
            return PatientId(found.value.upper(), found.oid), refused
        refused = refused or found.oid in TEST_OIDS
    return None, refused


def _agree(a: Traits, b: Traits) -> bool:
    """Every trait ``a`` states is the one ``b`` states."""
    if a.birth_name and name_key(a.birth_name) != name_key(b.birth_name):
        return False
    if a.first_given and name_key(a.first_given).split(" ")[0] != \
            name_key(b.first_given).split(" ")[0]:
        return False
    if a.birth_date and a.birth_date != b.birth_date:
        return False
    return not (a.sex and a.sex != b.sex)


def _encoded_traits_agree(ins: str, traits: Traits) -> bool:
    """The sex digit and the year and month of birth the matricule encodes."""
    if _SEX_OF_DIGIT.get(ins[0]) != traits.sex:
        return False
    born = traits.birth_date
    if born is None or int(ins[1:3]) != born.year % 100:
        return False
    month = int(ins[3:5])
    return not (1 <= month <= 12 and month != born.month)


def resolve_identity(entry: DocumentEntry, cda: CdaHeader, *, accept_test: bool) -> Identity:
    """The patient of a document (module docstring), or IdentityError with
    its ANS code."""
    in_cda, cda_test = _ins_of(cda.patient_ids, accept_test)
    in_meta, meta_test = _ins_of([i for i in (entry.patient_id, *entry.source_ids)
                                  if i is not None], accept_test)
    if in_cda is None:
        why = ("a test or demo INS outside a test setup" if cda_test or meta_test
               else "no INS in the CDA header")
        raise IdentityError(NO_INS, why)
    if in_meta is not None and (in_meta.value != in_cda.value or in_meta.oid != in_cda.oid):
        raise IdentityError(INS_MISMATCH, "the INS of METADATA.XML and of the CDA differ")
    ins = in_cda.value
    if len(ins) != 15 or not nir.is_valid(ins) or ins[0] not in _SEX_OF_DIGIT:
        raise IdentityError(INS_MISMATCH, "the INS matricule is not a valid one (key, form)")
    traits = cda.traits
    if not (traits.birth_name and traits.first_given and traits.birth_date
            and traits.sex in ("F", "M")):
        raise IdentityError(INS_INCOMPLETE, "the CDA gives the INS without all its traits")
    if not entry.source_traits.empty and not _agree(entry.source_traits, traits):
        raise IdentityError(INS_MISMATCH, "the traits of METADATA.XML and of the CDA differ")
    if not _encoded_traits_agree(ins, traits):
        raise IdentityError(INS_MISMATCH, "the INS does not encode the stated sex and birth")
    return Identity(ins, in_cda.oid, traits)


def plan_mismatches(identity: Identity, patient: Patient) -> list[str]:
    """The traits (French labels) where the document and the plan found by
    its INS differ; empty when they agree. The plan's name matches the birth
    name or the name in use (a plan may be written under either); its given
    name's first word matches the first given name."""
    traits = identity.traits
    found: list[str] = []
    family = name_key(patient.family_name)
    if family not in {name_key(traits.birth_name), name_key(traits.used_name)} - {""}:
        found.append("nom de naissance")
    if name_key(patient.given_name).split(" ")[:1] != name_key(traits.first_given).split(" ")[:1]:
        found.append("premier prénom")
    if patient.birth_date != traits.birth_date:
        found.append("date de naissance")
    if patient.sex != traits.sex:
        found.append("sexe")
    return found
