"""The header of a CDA R2 document: who it is about, what it is, who wrote it.

Sources: HL7 CDA R2 (``ClinicalDocument`` header: ``id``, ``code``,
``title``, ``effectiveTime``, ``setId``, ``versionNumber``,
``relatedDocument typeCode="RPLC"``, ``recordTarget``, ``author``,
``custodian``); the ANS CI-SIS volet « Structuration minimale des documents
de santé » for the French header (the INS as
``recordTarget/patientRole/id`` with root ``1.2.250.1.213.1.4.8``, ``.9``,
or ``.10``/``.11`` for test and demo identities; the birth name as
``family qualifier="BR"``, the first given name of the birth certificate as
``given qualifier="BR"``, the given names of the birth certificate as a
``given`` without qualifier, the names in use with ``qualifier="CL"``), and
its example documents (github.com/ansforge/TestContenuCDA-3-0,
``ExemplesCDA/LDL-SES_2022.01.xml``, the « Lettre de liaison à la sortie d'un
établissement de soins », code LOINC 11490-0).

Only the header is read: the parse stops at the first ``component`` of
``ClinicalDocument`` (the body), so a document of several megabytes costs
what its header costs. The body (care content) is never read by the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from .metadata import parse_hl7_date
from .model import Code, PatientId, Traits
from .xml import MAX_VALUE, XmlError, attr, children, first, local, parse, text_of

__all__ = ["CdaHeader", "read_cda_header"]


@dataclass(frozen=True)
class CdaHeader:
    doc_id: str                 # root, or root^extension
    set_id: str                 # the same for every version of the document
    version: int | None
    code: Code | None
    title: str
    effective: str              # AAAAMMJJ..., as written (the day is what the team reads)
    replaces: str               # relatedDocument RPLC: the id of the version replaced
    patient_ids: tuple[PatientId, ...]
    traits: Traits
    author: str                 # « Prénom NOM » of the first author
    institution: str            # the first author's organisation, else the custodian


def _ii(element: Element | None) -> str:
    """An HL7 II (``root`` and ``extension``) as one string."""
    root, extension = attr(element, "root"), attr(element, "extension")
    return f"{root}^{extension}" if root and extension else root


def _person_name(name: Element | None) -> str:
    if name is None:
        return ""
    given = next((text_of(g) for g in children(name, "given") if text_of(g)), "")
    family = next((text_of(f) for f in children(name, "family") if text_of(f)), "")
    return " ".join(p for p in (given, family) if p)[:MAX_VALUE]


def _traits(patient: Element | None) -> Traits:
    name = first(patient, "name")
    birth_name = used_name = first_given = given_names = ""
    if name is not None:
        for family in children(name, "family"):
            qualifier = str(family.get("qualifier", "")).upper()
            if qualifier == "BR" and not birth_name:
                birth_name = text_of(family)
            elif qualifier == "CL" and not used_name:
                used_name = text_of(family)
            elif not qualifier and not birth_name:
                # A family name without qualifier: the only one given, taken
                # as the birth name (older documents have no qualifier).
                birth_name = text_of(family)
        for given in children(name, "given"):
            qualifier = str(given.get("qualifier", "")).upper()
            if qualifier == "BR" and not first_given:
                first_given = text_of(given)
            elif not qualifier and not given_names:
                given_names = text_of(given)
        if not first_given and given_names:
            first_given = given_names.split(" ")[0]
    sex = attr(first(patient, "administrativeGenderCode"), "code").upper()[:1]
    born = parse_hl7_date(attr(first(patient, "birthTime"), "value"))
    return Traits(birth_name, first_given, born, sex, used_name)


def _is_body(element: Element, depth: int) -> bool:
    return depth == 1 and local(element.tag) == "component"


def read_cda_header(data: bytes) -> CdaHeader:
    """The header of the CDA document ``data``; XmlError when it is not one."""
    root = parse(data, stop=_is_body)
    if local(root.tag) != "ClinicalDocument":
        raise XmlError("not a CDA document (no ClinicalDocument)")
    code = first(root, "code")
    version_text = attr(first(root, "versionNumber"), "value")
    replaces = ""
    for related in children(root, "relatedDocument"):
        if str(related.get("typeCode", "")).upper() == "RPLC":
            replaces = _ii(first(related, "parentDocument", "id"))
            break
    role = first(root, "recordTarget", "patientRole")
    ids = tuple(PatientId(attr(i, "extension")[:64], attr(i, "root")[:64])
                for i in (children(role, "id") if role is not None else [])[:16]
                if attr(i, "extension") and attr(i, "root"))
    author = first(root, "author", "assignedAuthor")
    institution = _person_name_org(first(author, "representedOrganization")) or \
        _person_name_org(first(root, "custodian", "assignedCustodian",
                               "representedCustodianOrganization"))
    return CdaHeader(
        doc_id=_ii(first(root, "id")),
        set_id=_ii(first(root, "setId")),
        version=int(version_text) if version_text.isdigit() and len(version_text) < 9
        else None,
        code=Code(attr(code, "code"), attr(code, "codeSystem"), attr(code, "displayName"))
        if attr(code, "code") else None,
        title=text_of(first(root, "title")),
        effective=attr(first(root, "effectiveTime"), "value"),
        replaces=replaces,
        patient_ids=ids,
        traits=_traits(first(role, "patient")),
        author=_person_name(first(author, "assignedPerson", "name")),
        institution=institution,
    )


def _person_name_org(organisation: Element | None) -> str:
    return text_of(first(organisation, "name"))
