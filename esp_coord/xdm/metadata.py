"""``METADATA.XML``: the XDS metadata of an XDM submission set.

Sources: IHE ITI TF-3 4.2 (XDS metadata: ``XDSDocumentEntry`` attributes,
classification schemes and external identifiers, Table 4.2.5-1 for their
UUIDs; 4.2.2 associations, ``urn:ihe:iti:2007:AssociationType:RPLC``) and its
ebRIM 3.0 serialisation (``lcm:SubmitObjectsRequest`` /
``rim:RegistryObjectList``), as the XDM profile (ITI TF-1 16, TF-3 4.1.2)
puts it in ``IHE_XDM/<SUBSET>/METADATA.XML``; for the French values, the ANS
CI-SIS volet « Partage de documents de santé » and the logical model
« XDM DocumentEntry » of the ANS guide « Portabilité des données LGC »
(``interop.esante.gouv.fr/ig/fhir/pdlgc``): ``patientId`` is the INS in HL7 v2
CX form, ``<matricule>^^^&1.2.250.1.213.1.4.8&ISO^NH``; ``sourcePatientInfo``
holds the traits as HL7 v2 PID fields (``PID-5|NOM^Prénom^Prénoms^^^^L`` for
the birth name, ``PID-7|AAAAMMJJ``, ``PID-8|F``).

Only what the team needs is read: each document entry's identifiers, title,
type code, date, authors and institutions, patient identifier and traits, and
the replacement associations. Everything else (hashes, language, facility
codes) is ignored, never trusted nor required.
"""

from __future__ import annotations

from datetime import date, datetime
from xml.etree.ElementTree import Element

from .model import Code, DocumentEntry, Metadata, PatientId, Traits
from .xml import MAX_VALUE, XmlError, attr, children, first, local, parse

__all__ = ["MAX_METADATA_BYTES", "MAX_SLOT_VALUES", "parse_cx", "parse_hl7_date",
           "read_metadata"]

MAX_METADATA_BYTES = 2**20
# A slot of sourcePatientInfo has a handful of values: more is not metadata.
MAX_SLOT_VALUES = 32
_DOCUMENT_ENTRY = ("urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1",  # stable
                   "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248")  # on-demand
_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
_TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
_SUBMISSION_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
_RPLC = "urn:ihe:iti:2007:AssociationType:RPLC"


def _values(element: Element, slot: str) -> list[str]:
    for found in children(element, "Slot"):
        if found.get("name") == slot:
            values = first(found, "ValueList")
            if values is None:
                return []
            return [" ".join((v.text or "")[: MAX_VALUE * 4].split())[: MAX_VALUE * 2]
                    for v in children(values, "Value")[:MAX_SLOT_VALUES]]
    return []


def _name(element: Element) -> str:
    return attr(first(element, "Name", "LocalizedString"), "value")


def parse_cx(value: str) -> PatientId | None:
    """``ID^^^&OID&ISO^NH`` (HL7 v2 CX) -> PatientId; None when it has no OID."""
    parts = value.split("^")
    authority = parts[3].split("&") if len(parts) > 3 else []
    oid = authority[1] if len(authority) > 1 else ""
    ident = parts[0].strip()
    if not ident or not oid.strip():
        return None
    return PatientId(ident[:64], oid.strip()[:64])


def parse_hl7_date(value: str) -> date | None:
    """``AAAAMMJJ[hhmm[ss]]`` (HL7 DTM, the CDA's TS) -> its date."""
    digits = value.strip()[:8]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _hl7_datetime(value: str) -> datetime | None:
    digits = value.strip()
    day = parse_hl7_date(digits)
    if day is None:
        return None
    rest = digits[8:14]
    try:
        hour = int(rest[0:2]) if len(rest) >= 2 else 0
        minute = int(rest[2:4]) if len(rest) >= 4 else 0
        second = int(rest[4:6]) if len(rest) >= 6 else 0
        return datetime(day.year, day.month, day.day, hour, minute, second)
    except ValueError:
        return None


def _person(xcn: str) -> str:
    """``ID^NOM^Prénom^...`` (XCN) -> « Prénom NOM »."""
    parts = xcn.split("^")
    family = parts[1].strip() if len(parts) > 1 else ""
    given = parts[2].strip() if len(parts) > 2 else ""
    return " ".join(p for p in (given, family) if p)[:MAX_VALUE]


def _source_traits(values: list[str]) -> tuple[Traits, list[PatientId]]:
    birth_name = first_given = used_name = sex = ""
    born: date | None = None
    ids: list[PatientId] = []
    for value in values:
        key, _, field = value.partition("|")
        key = key.strip().upper()
        if key == "PID-5":
            parts = field.split("^")
            name_type = parts[6].strip().upper() if len(parts) > 6 else ""
            family = parts[0].strip()
            given = parts[1].strip() if len(parts) > 1 else ""
            if name_type in ("L", "") and not birth_name:
                birth_name, first_given = family, given.split(" ")[0] if given else ""
            elif name_type == "D" and not used_name:
                used_name = family
        elif key == "PID-7":
            born = parse_hl7_date(field)
        elif key == "PID-8":
            sex = field.strip().upper()[:1]
        elif key == "PID-3":
            for cx in field.split("~")[:MAX_SLOT_VALUES]:
                found = parse_cx(cx)
                if found is not None:
                    ids.append(found)
    return Traits(birth_name, first_given, born, sex, used_name), ids


def _uri_part(value: str) -> str:
    """One value of the URI slot: ``1|DOC0001.XML`` when split, else as is."""
    number, bar, rest = value.partition("|")
    return rest if bar and number.isdigit() else value


def _entry(element: Element) -> DocumentEntry:
    entry_id = attr(element, "id")
    type_code: Code | None = None
    authors: list[str] = []
    institutions: list[str] = []
    for classification in children(element, "Classification"):
        scheme = classification.get("classificationScheme")
        if scheme == _TYPE_CODE and type_code is None:
            code = attr(classification, "nodeRepresentation")
            if code:
                scheme_values = _values(classification, "codingScheme")
                type_code = Code(code, scheme_values[0] if scheme_values else "",
                                 _name(classification))
        elif scheme == _AUTHOR:
            authors += [p for p in map(_person, _values(classification, "authorPerson")) if p]
            institutions += [v.split("^")[0].strip()[:MAX_VALUE]
                             for v in _values(classification, "authorInstitution")
                             if v.split("^")[0].strip()]
    patient_id: PatientId | None = None
    unique_id = ""
    for identifier in children(element, "ExternalIdentifier"):
        scheme = identifier.get("identificationScheme")
        if scheme == _PATIENT_ID and patient_id is None:
            patient_id = parse_cx(str(identifier.get("value", "")))
        elif scheme == _UNIQUE_ID and not unique_id:
            unique_id = attr(identifier, "value")
    traits, source_ids = _source_traits(_values(element, "sourcePatientInfo"))
    source = _values(element, "sourcePatientId")
    if source:
        found = parse_cx(source[0])
        if found is not None:
            source_ids.insert(0, found)
    uri = _values(element, "URI")
    created = _values(element, "creationTime")
    return DocumentEntry(
        entry_id=entry_id,
        unique_id=unique_id,
        mime_type=attr(element, "mimeType").lower(),
        # Long URIs are split over several values (ITI TF-3 4.2.3.2.24).
        uri="".join(_uri_part(v) for v in uri)[:MAX_VALUE],
        title=_name(element),
        type_code=type_code,
        creation_time=_hl7_datetime(created[0]) if created else None,
        authors=tuple(dict.fromkeys(authors))[:8],
        institutions=tuple(dict.fromkeys(institutions))[:8],
        patient_id=patient_id,
        source_ids=tuple(source_ids[:MAX_SLOT_VALUES]),
        source_traits=traits,
    )


def read_metadata(data: bytes) -> Metadata:
    """The submission set of ``data`` (the bytes of METADATA.XML); XmlError
    when it is not XML we may read or holds no document entry."""
    if len(data) > MAX_METADATA_BYTES:
        raise XmlError(f"METADATA.XML over {MAX_METADATA_BYTES // 1024} KiB")
    root = parse(data)
    entries: list[DocumentEntry] = []
    replaces: dict[str, str] = {}
    submission: PatientId | None = None
    for element in root.iter():
        name = local(element.tag)
        if name == "ExtrinsicObject" and element.get("objectType", _DOCUMENT_ENTRY[0]) \
                in _DOCUMENT_ENTRY:
            entries.append(_entry(element))
        elif name == "Association" and element.get("associationType") == _RPLC:
            source, target = attr(element, "sourceObject"), attr(element, "targetObject")
            if source and target:
                replaces[source] = target
        elif name == "RegistryPackage" and submission is None:
            for identifier in children(element, "ExternalIdentifier"):
                if identifier.get("identificationScheme") == _SUBMISSION_PATIENT_ID:
                    submission = parse_cx(str(identifier.get("value", "")))
    if not entries:
        raise XmlError("METADATA.XML has no document entry")
    return Metadata(tuple(entries), replaces, submission)
