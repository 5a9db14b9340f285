"""What is read from an XDM archive: plain values, no XML, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = ["Code", "DocumentEntry", "Metadata", "PatientId", "Traits"]


@dataclass(frozen=True)
class Code:
    """A coded value: a document's type (LOINC ``11490-0``...)."""

    code: str
    scheme: str = ""
    display: str = ""


@dataclass(frozen=True)
class PatientId:
    """An identifier of the patient and the OID of its domain (an INS when
    the OID is one of ``identity.INS_OIDS``)."""

    value: str
    oid: str


@dataclass(frozen=True)
class Traits:
    """The identity traits of the INS that a document states (the ones the
    team checks: birth name, first given name of the birth certificate,
    birth date, sex ``F``/``M``); "" or None when absent."""

    birth_name: str = ""
    first_given: str = ""
    birth_date: date | None = None
    sex: str = ""
    used_name: str = ""  # the family name in use (CDA qualifier CL, HL7 v2 type D)

    @property
    def empty(self) -> bool:
        return not (self.birth_name or self.first_given or self.birth_date or self.sex)


@dataclass(frozen=True)
class DocumentEntry:
    """One XDSDocumentEntry of METADATA.XML (the ebRIM ``ExtrinsicObject``)."""

    entry_id: str
    unique_id: str = ""
    mime_type: str = ""
    uri: str = ""
    title: str = ""
    type_code: Code | None = None
    creation_time: datetime | None = None
    authors: tuple[str, ...] = ()
    institutions: tuple[str, ...] = ()
    patient_id: PatientId | None = None
    source_ids: tuple[PatientId, ...] = ()
    source_traits: Traits = field(default_factory=Traits)


@dataclass(frozen=True)
class Metadata:
    """The submission set of one ``METADATA.XML``."""

    entries: tuple[DocumentEntry, ...]
    # RPLC associations: new entry id -> the entry id it replaces.
    replaces: dict[str, str] = field(default_factory=dict)
    submission_patient_id: PatientId | None = None
